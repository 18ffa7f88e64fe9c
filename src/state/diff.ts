/**
 * What an overlay sandbox changed, read from its upper directory (overlayfs's own format, with the
 * `userxattr` names used in a user namespace): a 0/0 character device is a deletion (whiteout), a
 * directory marked opaque replaced the one below, any other entry was added (nothing below it) or
 * modified. Nothing here follows a symlink: the upper directory is the app's to fill.
 */
import { cstr, libc } from "../sys/libc.ts";

export interface Change {
  kind: "added" | "modified" | "deleted" | "replaced";
  /** The path as the sandbox saw it (lower directory + relative path). */
  path: string;
  dir: boolean;
}

function lstat(p: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(p);
  } catch {
    return null;
  }
}

function opaque(p: string): boolean {
  const buf = new Uint8Array(8);
  const n = Number(libc.lgetxattr(cstr(p), cstr("user.overlay.opaque"), buf, BigInt(buf.length)));
  return n > 0 && buf[0] === "y".charCodeAt(0);
}

/** The changes under `upper` relative to `lower`, sorted by path. */
export function overlayChanges(upper: string, lower: string): Change[] {
  const out: Change[] = [];
  const walk = (rel: string, below: boolean) => {
    let entries: string[];
    try {
      entries = [...Deno.readDirSync(upper + rel)].map((e) => e.name).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      const r = `${rel}/${name}`;
      const st = lstat(upper + r);
      if (st === null) continue;
      const path = lower + r;
      const existed = below && lstat(path) !== null;
      if (st.isCharDevice && st.rdev === 0) {
        out.push({ kind: "deleted", path, dir: false });
      } else if (st.isDirectory) {
        const replaced = existed && opaque(upper + r);
        if (!existed) out.push({ kind: "added", path, dir: true });
        if (replaced) out.push({ kind: "replaced", path, dir: true });
        walk(r, existed && !replaced);
      } else {
        out.push({ kind: existed ? "modified" : "added", path, dir: false });
      }
    }
  };
  walk("", true);
  return out;
}
