/** The programs AppImages need, checked on the host before anything runs (the sandbox sees the same /usr). */
import type { AppImageRequest } from "../plan/options.ts";
import { findTool } from "../host.ts";
import { UsageError } from "../errors.ts";

const EXTRACT_HINT = "or run with --appimage-extract, which unpacks it once with unsquashfs (package squashfs-tools)";

/** What the machine has; injected for tests. */
export interface Machine {
  tool: (name: string) => string | null;
  fuse: () => boolean;
}

const thisMachine: Machine = {
  tool: findTool,
  fuse: () => {
    try {
      return Deno.statSync("/dev/fuse").isCharDevice ?? false;
    } catch {
      return false;
    }
  },
};

/** Fails with what to install when a mount or an extraction could not work. */
export function checkAppImageTools(images: AppImageRequest[], extract: boolean, has: Machine = thisMachine): void {
  for (const a of images) {
    if (extract) {
      if (a.format === "dwarfs") throw new UsageError(`${a.path}: --appimage-extract handles squashfs images only`);
      if (!has.tool("unsquashfs")) {
        throw new UsageError(
          "unsquashfs is not installed: install the package squashfs-tools (apt install squashfs-tools)",
        );
      }
      continue;
    }
    if (a.format === "squashfs" && !has.tool("squashfuse")) {
      throw new UsageError(
        `${a.argv0} needs squashfuse, which is not installed: install the package squashfuse (apt install squashfuse), ${EXTRACT_HINT}`,
      );
    }
    if (a.format === "dwarfs" && !has.tool("dwarfs")) {
      throw new UsageError(
        `${a.argv0} is a DwarFS AppImage and needs dwarfs (https://github.com/mhx/dwarfs), which is not installed`,
      );
    }
    if (!has.fuse()) {
      throw new UsageError(`${a.argv0}: this machine has no /dev/fuse (FUSE is not available), ${EXTRACT_HINT}`);
    }
  }
}
