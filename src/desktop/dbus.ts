/** The session bus: its address from the environment, and the filtering proxy's policy. */
import { UsageError } from "../errors.ts";

/** The path of the first unix:path= address in DBUS_SESSION_BUS_ADDRESS, or the default one. */
export function sessionBusSocket(env: Record<string, string>): string {
  const addr = env.DBUS_SESSION_BUS_ADDRESS;
  if (!addr) {
    const rt = env.XDG_RUNTIME_DIR;
    if (rt?.startsWith("/")) return `${rt}/bus`;
    throw new UsageError("dbus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set");
  }
  for (const a of addr.split(";")) {
    const m = a.match(/^unix:(?:.*,)?path=([^,]+)/);
    if (m) return decodeURIComponent(m[1]);
  }
  throw new UsageError(`DBUS_SESSION_BUS_ADDRESS=${addr}: bbl reaches the bus through a socket path (unix:path=...)`);
}

/** What a filtered app may reach by default: the portals, notifications. */
export const DEFAULT_TALK = ["org.freedesktop.portal.*", "org.freedesktop.Notifications"];

export interface BusPolicy {
  talk: string[];
  own: string[];
  see: string[];
}

/** xdg-dbus-proxy's arguments for `policy`. */
export function proxyArgs(upstream: string, socket: string, policy: BusPolicy): string[] {
  return [
    "xdg-dbus-proxy",
    `unix:path=${upstream}`,
    socket,
    "--filter",
    ...[...DEFAULT_TALK, ...policy.talk].map((n) => `--talk=${n}`),
    ...policy.own.map((n) => `--own=${n}`),
    ...policy.see.map((n) => `--see=${n}`),
  ];
}
