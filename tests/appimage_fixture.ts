/**
 * Real AppImage fixtures, built here: a small C program as the runtime (marked `AI\x02` at offset 8,
 * as real runtimes are; it only complains if run, and bbl must never run it), then a squashfs made
 * with mksquashfs appended.
 */

/** What the runtime prints if it is ever executed. */
export const RUNTIME_SAYS = "APPIMAGE-RUNTIME-WAS-EXECUTED";

/** An AppRun that shows what the issue asks: its args, uid, the conventions, and a write to home. */
export const APPRUN = `#!/bin/sh
if [ "$1" = wait ]; then echo ready; exec sleep 60; fi
echo "args:$#:$*"
echo "uid:$(id -u)"
echo "APPDIR=$APPDIR"
echo "APPIMAGE=$APPIMAGE"
echo "ARGV0=$ARGV0"
echo "OWD=$OWD"
echo written > "$HOME/by-app" && echo "home:ok"
exit \${APP_EXIT:-0}
`;

let runtime: string | null = null;

function run(cmd: string, args: string[], cwd?: string): void {
  const out = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** The runtime stub, compiled once per test process. */
export function runtimeStub(): string {
  if (runtime) return runtime;
  const dir = Deno.makeTempDirSync({ prefix: "bbl-runtime-" });
  Deno.writeTextFileSync(
    `${dir}/runtime.c`,
    `#include <stdio.h>\nint main(void) { puts("${RUNTIME_SAYS}"); return 99; }\n`,
  );
  run("cc", ["-Os", "-o", `${dir}/runtime`, `${dir}/runtime.c`]);
  const bytes = Deno.readFileSync(`${dir}/runtime`);
  bytes.set([0x41, 0x49, 0x02], 8);
  Deno.writeFileSync(`${dir}/runtime`, bytes);
  runtime = `${dir}/runtime`;
  return runtime;
}

export type Entry =
  | string
  | { text: string; mode: number }
  | { symlink: string }
  | { bytes: Uint8Array }
  /** A copy of a host directory (a real application's files). */
  | { tree: string };

/**
 * Builds DIR/FILE: the runtime followed by a squashfs of `files` (path -> text, 0755 for AppRun,
 * bytes, or a symlink), compressed with `comp`, owned by `owner` when given.
 */
export function buildAppImage(
  dir: string,
  file: string,
  files: Record<string, Entry> = { AppRun: APPRUN },
  comp: "gzip" | "xz" | "zstd" = "gzip",
  owner?: { uid: number; gid: number },
): string {
  const src = Deno.makeTempDirSync({ prefix: "bbl-appdir-" });
  Deno.chmodSync(src, 0o755); // the image's root directory, as in real AppImages
  try {
    for (const [name, e] of Object.entries(files)) {
      const p = `${src}/${name}`;
      Deno.mkdirSync(p.replace(/\/[^/]+$/, ""), { recursive: true });
      if (typeof e === "object" && "tree" in e) run("cp", ["-a", e.tree, p]);
      else if (typeof e === "object" && "symlink" in e) Deno.symlinkSync(e.symlink, p);
      else if (typeof e === "object" && "bytes" in e) Deno.writeFileSync(p, e.bytes);
      else {
        const { text, mode } = typeof e === "string" ? { text: e, mode: name === "AppRun" ? 0o755 : 0o644 } : e;
        Deno.writeTextFileSync(p, text);
        Deno.chmodSync(p, mode);
      }
    }
    const fs = `${src}.sqfs`;
    run("mksquashfs", [src, fs, "-comp", comp, "-quiet", "-no-progress", "-noappend", "-all-root"]);
    const out = `${dir}/${file}`;
    Deno.writeFileSync(out, Deno.readFileSync(runtimeStub()), { mode: 0o755 });
    Deno.writeFileSync(out, Deno.readFileSync(fs), { append: true });
    Deno.removeSync(fs);
    Deno.chmodSync(out, 0o755);
    if (owner) Deno.chownSync(out, owner.uid, owner.gid);
    return out;
  } finally {
    Deno.removeSync(src, { recursive: true });
  }
}

/** The filesystem's offset in an image buildAppImage made: right after the runtime. */
export const payloadOffset = () => Deno.statSync(runtimeStub()).size;
