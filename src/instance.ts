/**
 * Per-instance working directories: $XDG_RUNTIME_DIR/bbl/NAME-PID (or /tmp/bbl-UID/...), private to
 * the user, locked by the launcher for its lifetime and removed when it exits. A directory whose lock
 * is free and whose launcher pid is gone was left by a launcher that was SIGKILLed, and is removed by
 * the next run. Nothing is ever mounted here on the host side: mounts happen in the sandbox's own
 * mount namespace, so removal is a plain recursive delete.
 */
import { check, cstr, errno, libc } from "./sys/libc.ts";
import { LOCK_EX, LOCK_NB, O } from "./sys/consts.ts";
import { BblError } from "./errors.ts";
import { exists } from "./sys/files.ts";

export function instanceBase(env: Record<string, string>, uid: number): string {
  const rt = env.XDG_RUNTIME_DIR;
  return rt && rt.startsWith("/") ? `${rt}/bbl` : `/tmp/bbl-${uid}`;
}

/** Creates (or checks) the base directory: ours, 0700, not a symlink (/tmp is shared with others). */
function ensureBase(base: string, uid: number): void {
  if (!exists(base)) {
    try {
      Deno.mkdirSync(base, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) { // made meanwhile, or a dangling symlink: checked below
        throw new BblError(`creating ${base}: ${(e as Error).message}`);
      }
    }
  }
  const st = Deno.lstatSync(base);
  if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o077) !== 0) {
    throw new BblError(`${base} must be a directory owned by you with mode 0700; remove or fix it`);
  }
}

function pidAlive(pid: number): boolean {
  // kill(pid, 0) fails with EPERM for a live process of another user; ESRCH means gone.
  return libc.kill(pid, 0) === 0 || errno() === 1;
}

function lockFree(dir: string): boolean {
  const fd = libc.open(cstr(`${dir}/lock`), O.RDONLY | O.CLOEXEC | O.NOFOLLOW, 0);
  if (fd < 0) return true; // no lock file: the launcher died before taking it
  try {
    return libc.flock(fd, LOCK_EX | LOCK_NB) === 0;
  } finally {
    libc.close(fd);
  }
}

/** Removes directories left by launchers that no longer run. */
function removeStale(base: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(base)];
  } catch {
    return;
  }
  for (const e of entries) {
    const m = e.name.match(/-(\d+)$/);
    if (!e.isDirectory || !m) continue;
    const dir = `${base}/${e.name}`;
    if (pidAlive(Number(m[1])) || !lockFree(dir)) continue;
    Deno.removeSync(dir, { recursive: true });
  }
}

export class Instance {
  private constructor(readonly dir: string, private lockFd: number) {}

  /** Creates DIR (under its base) with a lock, and one empty directory per layer root to build on. */
  static create(dir: string, uid: number, roots: string[]): Instance {
    const base = dir.replace(/\/[^/]+$/, "");
    ensureBase(base, uid);
    removeStale(base);
    Deno.mkdirSync(dir, { mode: 0o700 });
    const what = `locking ${dir}`;
    const fd = check(libc.open(cstr(`${dir}/lock`), O.CREAT | O.RDWR | O.CLOEXEC | O.NOFOLLOW, 0o600), what, "open");
    check(libc.flock(fd, LOCK_EX | LOCK_NB), what, "flock");
    for (const r of roots) Deno.mkdirSync(`${dir}/${r}`, { mode: 0o700 });
    return new Instance(dir, fd);
  }

  remove(): void {
    Deno.removeSync(this.dir, { recursive: true });
    libc.close(this.lockFd);
  }
}
