/**
 * The user's display, from the environment: X11's DISPLAY (":0", ":0.0", "unix:0", "host:10") and
 * Wayland's WAYLAND_DISPLAY (a socket name in $XDG_RUNTIME_DIR, or an absolute path).
 */
import { UsageError } from "../errors.ts";

export interface X11Display {
  /** The display number: the socket is /tmp/.X11-unix/X<number>. */
  number: number;
  /** Set for a TCP display ("host:10"), which a socket bind cannot reach. */
  host?: string;
}

export function parseDisplay(v: string | undefined): X11Display | null {
  if (v === undefined || v === "") return null;
  const m = v.match(/^(?:(unix)|([A-Za-z0-9.\-]*|\[[0-9A-Fa-f:]+\])):(\d+)(?:\.\d+)?$/);
  if (!m) throw new UsageError(`DISPLAY=${v}: not a display name such as :0, :0.0, unix:0 or host:10`);
  // "host:N", localhost included (ssh's forwarding), is TCP; only ":N" and "unix:N" are local sockets.
  const host = m[2];
  return { number: Number(m[3]), ...(host ? { host } : {}) };
}

/** The Wayland socket's path, or null without WAYLAND_DISPLAY. */
export function waylandSocket(env: Record<string, string>): string | null {
  const w = env.WAYLAND_DISPLAY;
  if (!w) return null;
  if (w.startsWith("/")) return w;
  if (w.includes("/")) throw new UsageError(`WAYLAND_DISPLAY=${w}: a socket name or an absolute path`);
  const rt = env.XDG_RUNTIME_DIR;
  if (!rt?.startsWith("/")) throw new UsageError(`WAYLAND_DISPLAY=${w} needs XDG_RUNTIME_DIR, which is not set`);
  return `${rt}/${w}`;
}

/** The file in an instance directory that holds its Xephyr's display number (see displaysInUse). */
export const XEPHYR_DISPLAY_FILE = "xephyr-display";

/**
 * X display numbers in use: sockets and lock files in /tmp, abstract sockets, and the displays of
 * this user's other sandboxes' Xephyrs (private to them, so seen only in `instanceBase`).
 */
export function displaysInUse(instanceBase: string): Set<number> {
  const used = new Set<number>();
  try {
    for (const e of Deno.readDirSync(instanceBase)) {
      try {
        used.add(Number(Deno.readTextFileSync(`${instanceBase}/${e.name}/${XEPHYR_DISPLAY_FILE}`)));
      } catch { /* not an Xephyr sandbox */ }
    }
  } catch { /* no sandboxes */ }
  try {
    for (const e of Deno.readDirSync("/tmp/.X11-unix")) {
      const m = e.name.match(/^X(\d+)$/);
      if (m) used.add(Number(m[1]));
    }
  } catch { /* none */ }
  try {
    for (const e of Deno.readDirSync("/tmp")) {
      const m = e.name.match(/^\.X(\d+)-lock$/);
      if (m) used.add(Number(m[1]));
    }
  } catch { /* none */ }
  try {
    for (const m of Deno.readTextFileSync("/proc/net/unix").matchAll(/@\/tmp\/\.X11-unix\/X(\d+)/g)) {
      used.add(Number(m[1]));
    }
  } catch { /* none */ }
  return used;
}

/** A display number no X server uses, from 10 up (below are usually the user's own). */
export function freeDisplay(used: Set<number>): number {
  for (let n = 10; n < 1000; n++) if (!used.has(n)) return n;
  throw new UsageError("no free X display number between 10 and 999");
}
