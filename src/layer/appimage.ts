/**
 * AppImages in the app's root layer (setup.ts mounts them): /sbxdir/apps/NAME is the image's
 * filesystem, run_NAME runs its AppRun, NAME.AppImage is the image itself (all read-only). The
 * launcher opens and checks the image the FUSE daemon reads (libfuse takes `/dev/fd/3`, the
 * connection the layer mounted, as "already mounted").
 */
import type { AppImagePlan } from "../plan/types.ts";
import { check, cstr, libc } from "../sys/libc.ts";
import { O } from "../sys/consts.ts";
import { BblError } from "../errors.ts";
import { MAGIC } from "../appimage/format.ts";

/** The script behind /sbxdir/apps/run_NAME: AppRun with the AppImage conventions. */
export function runScript(a: Pick<AppImagePlan, "name" | "argv0">): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    "#!/bin/sh",
    `# Runs ${a.name}'s AppRun as its AppImage runtime would (written by bbl).`,
    `APPDIR=/sbxdir/apps/${a.name}`,
    `APPIMAGE=/sbxdir/apps/${a.name}.AppImage`,
    `ARGV0=${q(a.argv0)}`,
    'OWD="$PWD"',
    "export APPDIR APPIMAGE ARGV0 OWD",
    'exec "$APPDIR/AppRun" "$@"',
    "",
  ].join("\n");
}

/**
 * The image opened read-only, checked to hold the filesystem the launcher found (the same file); at
 * `path` when the opener sees it elsewhere than the layer does (the launcher, for a compiled layer).
 */
export function openImage(a: AppImagePlan, path: string = a.image): number {
  const fd = check(libc.open(cstr(path), O.RDONLY | O.CLOEXEC, 0), `opening the AppImage ${path}`, "open");
  const f = Deno.openSync(`/proc/self/fd/${fd}`);
  try {
    const magic = new Uint8Array(MAGIC[a.format].length);
    f.seekSync(a.offset, Deno.SeekMode.Start);
    const n = f.readSync(magic) ?? 0;
    if (new TextDecoder().decode(magic.subarray(0, n)) !== MAGIC[a.format]) {
      libc.close(fd);
      throw new BblError(`${path}: changed since it was checked (no ${a.format} at offset ${a.offset})`);
    }
  } finally {
    f.close();
  }
  return fd;
}
