/**
 * Paths in a new root, reached only through directories: every component is opened with openat2(2)
 * and RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH from the one before, missing ones are created in place
 * (mkdirat), and what is mounted on is the descriptor so found (its /proc/self/fd path). A directory
 * another sandbox shares with this one (a `--home DIR`) can be changed while this root is built: a
 * component swapped for a symlink makes the step fail (ELOOP), it never leads outside.
 */
import { check, cstr, errno, libc, ptr, writeAll } from "../sys/libc.ts";
import { nr, O } from "../sys/consts.ts";
import { BblError } from "../errors.ts";
import { SysError } from "../sys/errno.ts";

const RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08;
const EEXIST = 17, ENOENT = 2, ELOOP = 40, ENOTDIR = 20;

/** openat2(dirfd, name, flags, no symlinks, beneath), or -errno. */
function openBeneath(dirfd: number, name: string, flags: number): number {
  const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), 0n, BigInt(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)]);
  const r = libc.syscall(
    BigInt(nr("openat2")),
    BigInt(dirfd),
    ptr(cstr(name)),
    ptr(new Uint8Array(how.buffer)),
    24n,
    0n,
    0n,
  );
  return r < 0n ? -errno() : Number(r);
}

export class Beneath {
  private fds: number[] = [];

  private constructor(private rootFd: number) {}

  /** The directory `path` (this layer's view) as the root of every later path. */
  static open(path: string): Beneath {
    const fd = check(
      libc.open(cstr(path), O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0),
      `opening ${path}`,
      "open",
    );
    const b = new Beneath(fd);
    b.fds.push(fd);
    return b;
  }

  private keep(fd: number): number {
    this.fds.push(fd);
    return fd;
  }

  /** Fails for `dest` with what the errno means here. */
  private fail(dest: string, what: string, e: number): never {
    if (e === ELOOP) throw new BblError(`${dest}: refusing a path through a symlink (${what})`);
    if (e === ENOTDIR) throw new BblError(`${dest}: ${what} is not a directory`);
    throw new SysError(`${what} for ${dest}`, e, "openat2");
  }

  /** The directory holding `dest`, its missing components created (0755): [its descriptor, dest's name]. */
  parent(dest: string): [number, string] {
    const parts = dest.split("/").filter(Boolean);
    const name = parts.pop() ?? "";
    let fd = this.rootFd;
    let at = "";
    for (const part of parts) {
      at += `/${part}`;
      let next: number;
      try {
        next = openBeneath(fd, part, O.PATH | O.DIRECTORY);
        if (next === -ENOENT) {
          if (libc.mkdirat(fd, cstr(part), 0o755) < 0 && errno() !== EEXIST) {
            throw new SysError(`creating ${at} for ${dest}`, errno(), "mkdirat");
          }
          next = openBeneath(fd, part, O.PATH | O.DIRECTORY);
        }
      } finally {
        if (fd !== this.rootFd) libc.close(fd); // only the last directory is kept
      }
      if (next < 0) this.fail(dest, at, -next);
      fd = next;
    }
    return [fd === this.rootFd ? fd : this.keep(fd), name];
  }

  /** dest itself, which must exist: a "/proc/self/fd/N" path naming exactly it. */
  existing(dest: string): string {
    if (dest === "/") return `/proc/self/fd/${this.rootFd}`;
    const [dir, name] = this.parent(dest);
    const fd = openBeneath(dir, name, O.PATH);
    if (fd < 0) this.fail(dest, dest, -fd);
    return `/proc/self/fd/${this.keep(fd)}`;
  }

  /** What is at dest (not following a symlink there: that is an error), or null when nothing is. */
  stat(dest: string): Deno.FileInfo | null {
    const [dir, name] = this.parent(dest);
    const fd = openBeneath(dir, name, O.PATH);
    if (fd === -ENOENT) return null;
    if (fd < 0) this.fail(dest, dest, -fd);
    try {
      return Deno.statSync(`/proc/self/fd/${fd}`);
    } finally {
      libc.close(fd);
    }
  }

  /**
   * A mount point at dest: a directory (created, or one already there), or with `asFile` an empty
   * file. Returns the path to mount on; a symlink there fails.
   */
  mountPoint(dest: string, asFile: boolean): string {
    if (dest === "/") return `/proc/self/fd/${this.rootFd}`;
    const [dir, name] = this.parent(dest);
    if (asFile) {
      const created = libc.openat(dir, cstr(name), O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, 0o644);
      if (created >= 0) libc.close(created);
      else if (errno() !== EEXIST) throw new SysError(`creating the mount point ${dest}`, errno(), "openat");
    } else if (libc.mkdirat(dir, cstr(name), 0o755) < 0 && errno() !== EEXIST) {
      throw new SysError(`creating the mount point ${dest}`, errno(), "mkdirat");
    }
    const fd = openBeneath(dir, name, O.PATH | (asFile ? 0 : O.DIRECTORY));
    if (fd < 0) this.fail(dest, dest, -fd);
    return `/proc/self/fd/${this.keep(fd)}`;
  }

  /** A new file at dest with exactly `content` and `mode`; it must not exist yet. */
  newFile(dest: string, content: string, mode: number): void {
    const [dir, name] = this.parent(dest);
    const fd = libc.openat(dir, cstr(name), O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, mode);
    if (fd < 0) {
      if (errno() === EEXIST) throw new BblError(`${dest}: already exists in the new root`);
      throw new SysError(`creating ${dest}`, errno(), "openat");
    }
    try {
      check(writeAll(fd, new TextEncoder().encode(content)), `writing ${dest}`, "write");
      check(libc.fchmod(fd, mode), `setting the mode of ${dest}`, "fchmod"); // the umask cleared bits of it
    } finally {
      libc.close(fd);
    }
  }

  /** A symlink at dest pointing to `target`. */
  symlink(dest: string, target: string): void {
    const [dir, name] = this.parent(dest);
    check(libc.symlinkat(cstr(target), dir, cstr(name)), `creating the symlink ${dest}`, "symlinkat");
  }

  /** Closes every descriptor it opened. */
  close(): void {
    for (const fd of this.fds.splice(0)) libc.close(fd);
  }
}
