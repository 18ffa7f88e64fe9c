/** File facts. */
import { cstr, errno, ptr, rawSyscall } from "./libc.ts";
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW, nr } from "./consts.ts";
import { ENOENT } from "./errno.ts";

/**
 * faccessat2(2) with F_OK: whether something is at `p` that this user can reach, failing exactly
 * where stat(2) (`follow`) or lstat(2) would (it checks the real ids, which are bbl's effective ones).
 * Asked without an exception, which Deno's stat throws for an absent path: an exception costs a start
 * far more than the call (V8 works out its stack's source positions), and a run asks about dozens of
 * absent paths (configuration files, masks, PATH entries).
 */
function reachable(p: string, follow: boolean): boolean {
  return rawSyscall(nr("faccessat2"), [AT_FDCWD, ptr(cstr(p)), 0, follow ? 0 : AT_SYMLINK_NOFOLLOW]) === 0n;
}

/** Whether something is at `p`, following symlinks, that this user can reach. */
export const exists = (p: string): boolean => reachable(p, true);

/** Whether `p` is not there (ENOENT: what Deno's stat reports as NotFound); other failures are not absence. */
export function absent(p: string, follow: boolean): boolean {
  return !reachable(p, follow) && errno() === ENOENT;
}

/** lstat(2): the entry itself, or null when there is none (other failures are errors). */
export function lstatOrNull(p: string): Deno.FileInfo | null {
  if (absent(p, false)) return null;
  try {
    return Deno.lstatSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** A regular file (following symlinks) with an execute bit: what execve or a PATH lookup would run. */
export function isExecutableFile(p: string): boolean {
  if (!exists(p)) return false;
  try {
    const st = Deno.statSync(p);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Uint8Array;

/** `fn` given random access to an open file and its size; the file is closed after. */
export function withFile<T>(f: Deno.FsFile, fn: (read: ReadAt, size: number) => T): T {
  try {
    const size = f.statSync().size;
    const read: ReadAt = (offset, length) => {
      if (offset >= size || length <= 0) return new Uint8Array(0);
      const buf = new Uint8Array(Math.min(length, size - offset));
      f.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < buf.length) {
        const n = f.readSync(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buf.subarray(0, got);
    };
    return fn(read, size);
  } finally {
    f.close();
  }
}
