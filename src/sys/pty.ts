/**
 * A pseudo-terminal for the sandbox, relayed by the launcher: the app's terminal is the pty's slave,
 * never the user's real terminal, so terminal ioctls inside (TIOCSTI, TIOCLINUX, job control) act on
 * the sandbox's own terminal whatever the seccomp filter allows.
 */
import { check, cstr, libc } from "./libc.ts";
import { O } from "./consts.ts";

const TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414;
export const TIOCSCTTY = 0x540e, TIOCSPGRP = 0x5410, TIOCGPGRP = 0x540f;

export interface Pty {
  master: number;
  slave: number;
  /** The slave's path on the host (bound at /dev/console inside, so ttyname(3) finds it). */
  slavePath: string;
}

export function openPty(): Pty {
  const what = "creating the sandbox's terminal";
  const master = check(libc.open(cstr("/dev/ptmx"), O.RDWR | O.NOCTTY | O.CLOEXEC, 0), what, "open /dev/ptmx");
  const n = new Int32Array(1);
  check(libc.ioctl(master, BigInt(TIOCSPTLCK), new Uint8Array(n.buffer)), what, "ioctl(TIOCSPTLCK)");
  check(libc.ioctl(master, BigInt(TIOCGPTN), new Uint8Array(n.buffer)), what, "ioctl(TIOCGPTN)");
  const slavePath = `/dev/pts/${n[0]}`;
  const slave = check(libc.open(cstr(slavePath), O.RDWR | O.NOCTTY | O.CLOEXEC, 0), what, `open ${slavePath}`);
  return { master, slave, slavePath };
}

/** Copies the window size of `from` (the real terminal) to `to` (the pty master): SIGWINCH follows inside. */
export function copyWindowSize(from: number, to: number): void {
  const ws = new Uint8Array(8);
  if (libc.ioctl(from, BigInt(TIOCGWINSZ), ws) === 0) libc.ioctl(to, BigInt(TIOCSWINSZ), ws);
}

/** Puts `fd` in raw mode; returns the function that restores its previous settings. */
export function rawMode(fd: number): () => void {
  const saved = new Uint8Array(64); // struct termios (60 bytes in glibc)
  check(libc.tcgetattr(fd, saved), "reading the terminal's settings", "tcgetattr");
  const raw = saved.slice();
  libc.cfmakeraw(raw);
  check(libc.tcsetattr(fd, 1, /* TCSADRAIN */ raw), "setting the terminal to raw mode", "tcsetattr");
  return () => libc.tcsetattr(fd, 1, saved);
}

const POLLIN = 1, POLLHUP = 0x10;

/** Whether a read of `fd` would not block (poll with no timeout). */
function readable(pfd: Int16Array): boolean {
  pfd[3] = 0;
  return libc.poll(new Uint8Array(pfd.buffer), 1n, 0) > 0 && (pfd[3] & (POLLIN | POLLHUP)) !== 0;
}

/**
 * Copies bytes from `from` to `to` until `from` ends (EOF, or EIO once no process holds the slave);
 * `seen` looks at each chunk on the way.
 * A blocking read waits on a worker thread; once data flows, the reads that would not block are done
 * right here, so a stream of output does not pay a thread hop per (at most 4 KiB) pty read.
 */
export async function pump(from: number, to: number, seen: (bytes: Uint8Array) => void = () => {}): Promise<void> {
  const buf = new Uint8Array(65536);
  const pfd = new Int16Array([from & 0xffff, from >>> 16, POLLIN, 0]); // struct pollfd {int fd; short events, revents}
  const copy = (n: number): boolean => {
    seen(buf.subarray(0, n));
    for (let off = 0; off < n;) {
      const w = Number(libc.write(to, buf.subarray(off, n), BigInt(n - off)));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  };
  for (;;) {
    const n = Number(await libc.read_async(from, buf, BigInt(buf.length)));
    if (n <= 0 || !copy(n)) return;
    while (readable(pfd)) {
      const m = Number(libc.read(from, buf, BigInt(buf.length)));
      if (m <= 0 || !copy(m)) return;
    }
  }
}

/** The terminal's foreground process group, as this process's pid namespace numbers it, or -1. */
export function foregroundGroup(master: number): number {
  const pgrp = new Int32Array(1);
  return libc.ioctl(master, BigInt(TIOCGPGRP), new Uint8Array(pgrp.buffer)) === 0 ? pgrp[0] : -1;
}

/** Whether a process is stopped (state T in /proc/PID/stat). */
export function isStopped(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat[stat.lastIndexOf(")") + 2] === "T";
  } catch {
    return false;
  }
}
