/**
 * --appimage-extract: the image unpacked once, with unsquashfs, into a cache keyed by its SHA-256
 * ($XDG_CACHE_HOME/bbl/appimages/SHA256, ~/.cache unless set), then bound read-only instead of a FUSE
 * mount. unsquashfs reads an untrusted image, so it runs in a sandbox too, seeing only the image
 * (read-only) and an empty output directory. A tree appears in the cache only once complete.
 */
import type { AppImageRequest } from "../plan/options.ts";
import type { MountEntry } from "../config/schema.ts";
import { removeTree } from "../state/store.ts";
import { BblError } from "../errors.ts";

export function cacheBase(env: Record<string, string>, home: string): string {
  const xdg = env.XDG_CACHE_HOME;
  return `${xdg?.startsWith("/") ? xdg : `${home}/.cache`}/bbl/appimages`;
}

export async function sha256File(path: string): Promise<string> {
  // Loaded here, not at start-up: node:crypto costs every run about 30 ms to import.
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  using f = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/** Runs a command in a default sandbox with these mounts; resolves to its exit code. */
export type SandboxRunner = (name: string, mounts: MountEntry[], command: string[]) => Promise<number>;

/**
 * The image's SHA-256, remembered by its file's identity (device, inode, size, modification time) in
 * base/.index, so that a large image is read once, not on every run.
 */
async function imageHash(path: string, base: string): Promise<string> {
  const st = Deno.statSync(path);
  const index = `${base}/.index/${st.dev}-${st.ino}-${st.size}-${st.mtime?.getTime() ?? 0}`;
  try {
    const known = Deno.readTextFileSync(index).trim();
    if (/^[0-9a-f]{64}$/.test(known)) return known;
  } catch { /* not yet */ }
  const sha = await sha256File(path);
  Deno.mkdirSync(`${base}/.index`, { recursive: true, mode: 0o700 });
  Deno.writeTextFileSync(index, sha + "\n");
  return sha;
}

/** The unpacked tree of `a`, from the cache or made now. */
export async function extracted(a: AppImageRequest, base: string, run: SandboxRunner): Promise<string> {
  const dest = `${base}/${await imageHash(a.path, base)}`;
  try {
    if (Deno.lstatSync(dest).isDirectory) return dest;
  } catch { /* not yet */ }
  Deno.mkdirSync(base, { recursive: true, mode: 0o700 });
  const tmp = `${base}/.tmp-${Deno.pid}`;
  removeTree(tmp);
  Deno.mkdirSync(tmp, { mode: 0o700 });
  try {
    const inside = "/run/bbl-extract";
    const code = await run("unsquashfs", [
      { kind: "robind", src: a.path, dest: `${inside}/image` },
      { kind: "bind", src: tmp, dest: `${inside}/out` },
    ], [
      "unsquashfs",
      "-no-xattrs",
      "-quiet",
      ...(Deno.stdout.isTerminal() ? [] : ["-no-progress"]),
      "-o",
      String(a.offset),
      "-d",
      `${inside}/out/root`,
      `${inside}/image`,
    ]);
    if (code !== 0) throw new BblError(`unpacking ${a.argv0} failed (unsquashfs exited with ${code})`);
    try {
      Deno.renameSync(`${tmp}/root`, dest);
    } catch (e) {
      // Another bbl unpacked the same image meanwhile: its tree is as good.
      if (!Deno.lstatSync(dest).isDirectory) throw e;
    }
    return dest;
  } finally {
    removeTree(tmp);
  }
}
