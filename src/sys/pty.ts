/**
 * A pseudo-terminal for the sandbox, relayed by the launcher: the app's terminal is the pty's slave,
 * never the user's real terminal, so terminal ioctls inside (TIOCSTI, TIOCLINUX, job control) act on
 * the sandbox's own terminal whatever the seccomp filter allows.
 */
import { check, cstr, libc, writeAll } from "./libc.ts";
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

/** struct termios (60 bytes in glibc): c_lflag at byte 12, c_cc from byte 17. */
const TERMIOS_SIZE = 64, LFLAG = 12, CC = 17, VEOF = 4;
const ICANON = 0o2, ECHO = 0o10;
const TCSANOW = 0, TCSADRAIN = 1;

function termios(fd: number): Uint8Array {
  const t = new Uint8Array(TERMIOS_SIZE);
  check(libc.tcgetattr(fd, t), "reading the terminal's settings", "tcgetattr");
  return t;
}

const lflag = (t: Uint8Array) => new DataView(t.buffer).getUint32(LFLAG, true);

/** Puts `fd` in raw mode; returns the function that restores its previous settings. */
export function rawMode(fd: number): () => void {
  const saved = termios(fd);
  const raw = saved.slice();
  libc.cfmakeraw(raw);
  check(libc.tcsetattr(fd, TCSADRAIN, raw), "setting the terminal to raw mode", "tcsetattr");
  return () => libc.tcsetattr(fd, TCSADRAIN, saved);
}

/**
 * Raw mode on the user's terminal `fd`, moving what it already holds into the pty (call it before
 * anything else uses the pty). Typed before raw mode, that input was echoed by the user's terminal,
 * so it goes in with the pty's echo off (no second echo); an end of file typed then (a ^D on an empty
 * line, or what script(1) sends when its input ends) becomes the pty's own VEOF, so the app reads end
 * of file instead of the NUL byte that raw mode would turn it into. Returns the restoring function.
 */
export function takeTerminal(fd: number, pty: Pty): () => void {
  const outer = termios(fd);
  const typed: Uint8Array[] = [];
  let eof = false;
  const buf = new Uint8Array(4096);
  const drain = () => {
    while (!eof && readable(pollFd(fd))) {
      const n = Number(libc.read(fd, buf, BigInt(buf.length)));
      if (n < 0) return;
      if (n === 0) eof = true; // canonical mode: an end of file was typed
      else typed.push(buf.slice(0, n));
    }
  };
  if (lflag(outer) & ICANON) drain(); // complete lines, and an end of file
  const restore = rawMode(fd);
  drain(); // a partial line, now readable
  if (typed.length > 0 || eof) {
    const inner = termios(pty.slave);
    const quiet = inner.slice();
    if (lflag(outer) & ECHO) new DataView(quiet.buffer).setUint32(LFLAG, lflag(inner) & ~ECHO, true);
    libc.tcsetattr(pty.slave, TCSANOW, quiet);
    for (const bytes of [...typed, ...(eof ? [new Uint8Array([inner[CC + VEOF]])] : [])]) writeAll(pty.master, bytes);
    // The pty's line discipline takes input in a worker; a poll of the slave runs it now, before the
    // echo comes back on.
    readable(pollFd(pty.slave));
    libc.tcsetattr(pty.slave, TCSANOW, inner);
  }
  return restore;
}

const POLLIN = 1, POLLHUP = 0x10;

/** struct pollfd {int fd; short events, revents} asking for input on `fd`. */
const pollFd = (fd: number) => new Int16Array([fd & 0xffff, fd >>> 16, POLLIN, 0]);

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
  const pfd = pollFd(from);
  const copy = (n: number): boolean => {
    seen(buf.subarray(0, n));
    return writeAll(to, buf.subarray(0, n)) >= 0;
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
