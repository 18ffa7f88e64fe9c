/**
 * The planner's part of desktop support (pure): what the app's root binds, what its environment
 * says, what the trusted helper layer runs (Xephyr, xdg-dbus-proxy), and what the host layer adds
 * for them. Paths in the app's root are under /run/user/UID and /tmp/.X11-unix, as apps expect.
 */
import type { DesktopOptions } from "./options.ts";
import { MASK_SIZE } from "./config_steps.ts";
import type { FsOp, Helper } from "./types.ts";
import type { XauthPlan } from "../desktop/xauth.ts";
import { proxyArgs } from "../desktop/dbus.ts";
import { flatpakInfo } from "../desktop/portal.ts";

/** The filtering proxy's socket, in the host layer's own /sbxdir/temp (where helpers may write). */
export const PROXY_SOCKET = "/sbxdir/temp/bbl-dbus-proxy";
const xsocket = (n: number) => `/tmp/.X11-unix/X${n}`;

export interface Where {
  uid: number;
  /** The sandbox has the host's network (the portals are told). */
  network: boolean;
  instanceDir: string;
  /** Maps a host path to how the layer at hand sees it. */
  host: (p: string) => string;
}

/** The X authority file the launcher writes before the sandbox starts. */
export function xauthPlan(d: DesktopOptions, instanceDir: string): XauthPlan | null {
  const file = `${instanceDir}/Xauthority`;
  if (d.gui.mode === "x11") return { kind: d.gui.trusted ? "trusted" : "untrusted", display: d.gui.display, file };
  if (d.gui.mode === "xephyr") return { kind: "random", display: d.gui.display, file };
  return null;
}

/** Steps in the app's root (`host` is its view of the host; the host layer's own paths need none). */
export function appRootOps(d: DesktopOptions, w: Where): FsOp[] {
  const run = `/run/user/${w.uid}`;
  const ops: FsOp[] = [];
  const g = d.gui;
  if (g.mode === "x11") ops.push({ kind: "bind", src: w.host(xsocket(g.display)), dest: xsocket(g.display) });
  if (g.mode === "xephyr") ops.push({ kind: "bind", src: xsocket(g.display), dest: xsocket(g.display) });
  if (g.mode === "x11" || g.mode === "xephyr") {
    ops.push({ kind: "robind", src: w.host(`${w.instanceDir}/Xauthority`), dest: `${run}/Xauthority` });
  }
  if (g.mode === "wayland") {
    ops.push({ kind: "bind", src: w.host(g.socket), dest: `${run}/${g.socket.split("/").pop()}` });
  }
  if (d.dbus.mode === "host") ops.push({ kind: "bind", src: w.host(d.dbus.socket), dest: `${run}/bus` });
  if (d.dbus.mode === "filter") ops.push({ kind: "bind", src: PROXY_SOCKET, dest: `${run}/bus` });
  if (d.dbus.mode !== "none") {
    // GLib, GTK and Qt read these to use the portals (file chooser, links) as a Flatpak app does.
    const info = flatpakInfo(d.dbus.appId, w.network);
    ops.push({ kind: "rofile", dest: "/.flatpak-info", content: info, mode: 0o444 });
    ops.push({ kind: "rofile", dest: `${run}/flatpak-info`, content: info, mode: 0o444 });
    // The files the portals give this app (and only those), where they say they are.
    const docs = d.dbus.documents;
    if (docs) {
      ops.push({ kind: "bind", src: w.host(`${docs}/by-app/${d.dbus.appId}`), dest: `${run}/doc`, optional: true });
    }
  }
  if (d.audio.mode === "pulse") {
    ops.push({ kind: "robind", src: w.host(d.audio.socket), dest: `${run}/pulse/native` });
    if (d.audio.cookie) ops.push({ kind: "robind", src: w.host(d.audio.cookie), dest: `${run}/pulse/cookie` });
  }
  if (d.audio.mode === "pipewire") ops.push({ kind: "robind", src: w.host(d.audio.socket), dest: `${run}/pipewire-0` });
  for (const p of d.themes) ops.push({ kind: "robind", src: w.host(p), dest: p, optional: true });
  if (d.autolaunch) {
    ops.push({ kind: "mask", src: w.host(d.autolaunch), dest: d.autolaunch, optional: true, size: MASK_SIZE });
  }
  return ops;
}

/** Your input method's variables, which an app with a display gets (typing through it goes by the portal). */
export const INPUT_METHOD_ENV = ["GTK_IM_MODULE", "QT_IM_MODULE", "XMODIFIERS", "SDL_IM_MODULE"];

/** Variables the app gets for what it was given; `host`: your environment. */
export function appEnv(d: DesktopOptions, uid: number, host: Record<string, string> = {}): Record<string, string> {
  const run = `/run/user/${uid}`;
  const env: Record<string, string> = {};
  const g = d.gui;
  if (g.mode !== "none") {
    for (const k of INPUT_METHOD_ENV) if (host[k] !== undefined) env[k] = host[k];
    // GTK apps keep their settings in the sandbox's home (~/.config/glib-2.0/settings/keyfile), as in
    // Flatpak: never in your dconf database, which they could not reach anyway (no dconf on the bus).
    env.GSETTINGS_BACKEND = "keyfile";
  }
  // XDG_SESSION_TYPE: Chromium chooses its display platform by it (GTK and Qt do not).
  if (g.mode === "x11" || g.mode === "xephyr") {
    Object.assign(env, { DISPLAY: `:${g.display}`, XAUTHORITY: `${run}/Xauthority`, XDG_SESSION_TYPE: "x11" });
  }
  if (g.mode === "wayland") {
    env.WAYLAND_DISPLAY = g.socket.split("/").pop()!;
    env.XDG_SESSION_TYPE = "wayland";
    // Qt picks xcb unless told, and aborts without an X server (GTK chooses Wayland itself); so do
    // Firefox before 121 and Electron before 38 (newer ones follow XDG_SESSION_TYPE, as Chromium does).
    env.QT_QPA_PLATFORM = "wayland";
    env.MOZ_ENABLE_WAYLAND = "1";
    env.ELECTRON_OZONE_PLATFORM_HINT = "wayland";
  }
  if (d.dbus.mode !== "none") env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${run}/bus`;
  if (d.audio.mode === "pulse") {
    env.PULSE_SERVER = `unix:${run}/pulse/native`;
    if (d.audio.cookie) env.PULSE_COOKIE = `${run}/pulse/cookie`;
  }
  return env;
}

/**
 * The root the filtering proxy runs in holds the app's /.flatpak-info: the portals look up the
 * process on the other end of the bus connection, and through the proxy that is the proxy.
 */
export function proxyRootOps(d: DesktopOptions, w: Where): FsOp[] {
  if (d.dbus.mode !== "filter") return [];
  return [{ kind: "rofile", dest: "/.flatpak-info", content: flatpakInfo(d.dbus.appId, w.network), mode: 0o444 }];
}

/** The host layer's additions: for Xephyr, a /tmp holding the host's X socket (it is Xephyr's client side). */
export function hostLayerOps(d: DesktopOptions, w: Where): FsOp[] {
  if (d.gui.mode !== "xephyr") return [];
  const x = xsocket(d.gui.hostDisplay);
  return [
    { kind: "tmpfs", dest: "/tmp", mode: 0o1777, size: "16m" },
    { kind: "bind", src: w.host(x), dest: x },
  ];
}

/** Trusted helpers (beside the untrusted side, with your ids, no capabilities) and their environment. */
export function trustedHelpers(
  d: DesktopOptions,
  name: string,
  w: Where,
): { helpers: Helper[]; env: Record<string, string> } {
  const helpers: Helper[] = [];
  const env: Record<string, string> = {};
  const g = d.gui;
  if (g.mode === "xephyr") {
    helpers.push({
      run: [
        "Xephyr",
        `:${g.display}`,
        "-auth",
        w.host(`${w.instanceDir}/Xauthority`),
        "-title",
        `bbl: ${name}`,
        "-nolisten",
        "tcp",
        "-nolisten",
        "local",
        "-screen",
        "1280x800",
        "-resizeable",
      ],
      wait: { socket: xsocket(g.display) },
      timeout: 20,
    });
    env.DISPLAY = `:${g.hostDisplay}`;
    if (g.hostXauthority) env.XAUTHORITY = w.host(g.hostXauthority);
  }
  if (d.dbus.mode === "filter") {
    helpers.push({ run: proxyArgs(w.host(d.dbus.socket), PROXY_SOCKET, d.dbus), wait: { socket: PROXY_SOCKET } });
  }
  return { helpers, env };
}

/** How the app's xdg-open hands over a link: through the portal, or by printing it for you. */
export function xdgOpenScript(d: DesktopOptions): string {
  const print = 'echo "bbl: the app asks to open: $url (copy it to open it outside)" >&2';
  const portal = d.dbus.mode === "filter" || d.dbus.mode === "host"
    ? [
      "  gdbus call --session --dest org.freedesktop.portal.Desktop --object-path /org/freedesktop/portal/desktop \\",
      '    --method org.freedesktop.portal.OpenURI.OpenURI "" "$url" "{}" >/dev/null 2>&1 && continue',
    ]
    : [];
  return [
    "#!/bin/sh",
    "# xdg-open in a bbl sandbox: links go to your desktop through the portal, or are printed (written by bbl).",
    'for url in "$@"; do',
    ...portal,
    `  ${print}`,
    "done",
    "",
  ].join("\n");
}

/** Untrusted helpers beside the app (its trust level, its seccomp policy): Xephyr's window manager. */
export function untrustedHelpers(d: DesktopOptions, uid: number): { helpers: Helper[]; env: Record<string, string> } {
  if (d.gui.mode !== "xephyr" || !d.gui.wm) return { helpers: [], env: {} };
  return { helpers: [{ run: d.gui.wm }], env: appEnv(d, uid) };
}
