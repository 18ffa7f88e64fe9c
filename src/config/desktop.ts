/**
 * Display, bus, sound, fonts and GPU for the app, from the merged configuration and the user's
 * environment. Each is off unless asked; what is asked must be there (a clear error otherwise).
 */
import { type Merged, type Sourced, valueOf } from "./merge.ts";
import { configHome } from "./load.ts";
import type { DesktopOptions, GuiSetting } from "../plan/options.ts";
import { freeDisplay, parseDisplay, waylandSocket } from "../desktop/display.ts";
import { sessionBusSocket } from "../desktop/dbus.ts";
import { defaultAppId } from "../desktop/portal.ts";
import { UsageError } from "../errors.ts";

/** What resolving the desktop looks at on the host. Injected for tests. */
export interface DesktopHost {
  env: Record<string, string>;
  home: string;
  exists: (p: string) => boolean;
  tool: (name: string) => string | null;
  readDir: (dir: string) => string[] | null;
  displaysInUse: () => Set<number>;
  /** The document portal's mount point, asked of the session bus (src/desktop/portal.ts). */
  documentPortal: () => string | null;
  /** The libraries an ELF program needs (src/desktop/toolkit.ts); null if it is not one or is unreadable. */
  libraries: (file: string) => string[] | null;
}

/** Read-only when present: fonts, their caches and settings, GTK/Qt themes and icons. */
export const THEME_PATHS = [
  "~/.fonts",
  "~/.local/share/fonts",
  "~/.cache/fontconfig",
  "~/.config/fontconfig",
  "~/.config/gtk-3.0",
  "~/.config/gtk-4.0",
  "~/.gtkrc-2.0",
  "~/.config/Trolltech.conf",
  "~/.config/kdeglobals",
  "~/.config/qt5ct",
  "~/.config/qt6ct",
  "~/.icons",
  "~/.local/share/icons",
  "~/.themes",
  "/var/cache/fontconfig",
];

const at = (s: Sourced<unknown> | undefined, key: string) => `${s?.from.label ?? "defaults"}: ${key}`;

function need(h: DesktopHost, tool: string, pkg: string, label: string): void {
  if (!h.tool(tool)) throw new UsageError(`${label} needs ${tool}, which is not installed (package ${pkg})`);
}

/** The app a display is chosen for. */
export interface GuiApp {
  /** An AppImage: a desktop app, which gets the display there is unless told otherwise. */
  appimage: boolean;
  /** Its name in messages (the program's or the image's file name). */
  label: string;
  /** Whether it is built on GTK 4 (asked only when the choice depends on it). */
  gtk4: () => boolean;
}

/** GTK 4 needs XInput2, which an untrusted cookie does not give (src/desktop/toolkit.ts). */
const gtk4OnX11 = (app: GuiApp) =>
  `${app.label} is a GTK 4 app, which cannot draw on X11 with an untrusted cookie (the X SECURITY extension ` +
  "withholds XInput2, which GTK 4 needs)";

function resolveGui(m: Merged, h: DesktopHost, app: GuiApp): GuiSetting {
  const s = m.scalars.gui;
  let mode = valueOf(m, "gui");
  const label = at(s, "gui");
  const wayland = waylandSocket(h.env);
  const display = parseDisplay(h.env.DISPLAY);
  const untrusted = !valueOf(m, "x11_trusted");
  let known: boolean | undefined; // the program is read once, and only if the choice depends on it
  const gtk4 = () => (known ??= app.gtk4());
  // An AppImage is a desktop app: unless told otherwise, it gets the display there is, if any.
  if (app.appimage && (!s || s.from.label === "defaults")) {
    mode = (wayland && h.exists(wayland)) || display ? "auto" : "none";
  }
  if (mode === "none") return { mode: "none" };
  if (mode === "auto") {
    mode = wayland && h.exists(wayland) ? "wayland" : display ? "x11" : "none";
    if (mode === "none") throw new UsageError(`${label}: auto: neither WAYLAND_DISPLAY nor DISPLAY names a display`);
    // On X11, a GTK 4 app gets the mode that serves it: a nested X server of its own.
    if (mode === "x11" && untrusted && gtk4()) {
      if (!h.tool("Xephyr")) {
        throw new UsageError(
          `${label}: auto: ${gtk4OnX11(app)}; install Xephyr (package xserver-xephyr) for gui: xephyr, or set ` +
            "x11_trusted: true (full access to your X server)",
        );
      }
      mode = "xephyr";
    }
  }
  if (mode === "wayland") {
    if (!wayland) throw new UsageError(`${label}: wayland: WAYLAND_DISPLAY is not set`);
    if (!h.exists(wayland)) throw new UsageError(`${label}: wayland: no compositor socket at ${wayland}`);
    return { mode: "wayland", socket: wayland };
  }
  if (!display) throw new UsageError(`${label}: ${mode}: DISPLAY is not set`);
  if (display.host) {
    throw new UsageError(`${label}: DISPLAY=${h.env.DISPLAY} is a network display; bbl shows local displays (:N)`);
  }
  if (!h.exists(`/tmp/.X11-unix/X${display.number}`)) {
    throw new UsageError(
      `${label}: no X server socket at /tmp/.X11-unix/X${display.number} (DISPLAY=${h.env.DISPLAY})`,
    );
  }
  if (mode === "x11") {
    if (untrusted && gtk4()) {
      throw new UsageError(
        `${label}: x11: ${gtk4OnX11(app)}: use gui: xephyr (a nested X server) or gui: wayland, or x11_trusted: ` +
          "true (full access to your X server)",
      );
    }
    need(h, "xauth", "xauth", label);
    return { mode: "x11", display: display.number, trusted: !untrusted };
  }
  need(h, "Xephyr", "xserver-xephyr", label);
  const xa = h.env.XAUTHORITY || `${h.home}/.Xauthority`;
  return {
    mode: "xephyr",
    hostDisplay: display.number,
    display: freeDisplay(h.displaysInUse()),
    hostXauthority: h.exists(xa) ? xa : null,
    ...(m.scalars.xephyr_wm ? { wm: m.scalars.xephyr_wm.value } : {}),
  };
}

/** `name`: the sandbox's (its default app id); `app`: what runs (its display may depend on it). */
export function resolveDesktop(m: Merged, h: DesktopHost, name: string, app: GuiApp): DesktopOptions {
  const gui = resolveGui(m, h, app);
  const dbusMode = valueOf(m, "dbus");
  let dbus: DesktopOptions["dbus"] = { mode: "none" };
  if (dbusMode !== "none") {
    const label = at(m.scalars.dbus, "dbus");
    const socket = sessionBusSocket(h.env);
    if (!h.exists(socket)) throw new UsageError(`${label}: no session bus socket at ${socket}`);
    if (dbusMode === "filter") need(h, "xdg-dbus-proxy", "xdg-dbus-proxy", `${label}: filter`);
    const names = (k: "dbus_talk" | "dbus_own" | "dbus_see") => m[k].map((s) => s.value);
    dbus = {
      mode: dbusMode,
      socket,
      talk: names("dbus_talk"),
      own: names("dbus_own"),
      see: names("dbus_see"),
      appId: m.scalars.app_id?.value ?? defaultAppId(name),
      documents: h.documentPortal(),
    };
  }
  const audioMode = valueOf(m, "audio");
  let audio: DesktopOptions["audio"] = { mode: "none" };
  if (audioMode !== "none") {
    const label = at(m.scalars.audio, "audio");
    const rt = h.env.XDG_RUNTIME_DIR;
    if (!rt?.startsWith("/")) throw new UsageError(`${label}: XDG_RUNTIME_DIR is not set`);
    const socket = audioMode === "pulse" ? `${rt}/pulse/native` : `${rt}/pipewire-0`;
    if (!h.exists(socket)) throw new UsageError(`${label}: ${audioMode}: no socket at ${socket}`);
    const cookie = `${configHome(h.env, h.home)}/pulse/cookie`;
    audio = audioMode === "pulse"
      ? { mode: "pulse", socket, cookie: h.exists(cookie) ? cookie : null }
      : { mode: "pipewire", socket };
  }
  let devices: string[] = [];
  if (valueOf(m, "gpu")) {
    devices = [
      ...(h.readDir("/dev/dri") ?? []).filter((n) => /^renderD\d+$/.test(n)).map((n) => `dri/${n}`),
      ...(h.readDir("/dev") ?? []).filter((n) => /^nvidia(\d+|ctl|-uvm|-uvm-tools|-modeset)$/.test(n)),
    ].sort();
    if (devices.length === 0) {
      throw new UsageError(`${at(m.scalars.gpu, "gpu")}: this machine has no GPU render node (/dev/dri/renderD*)`);
    }
  }
  const themes = gui.mode === "none"
    ? []
    : THEME_PATHS.map((p) => p.replace(/^~(?=\/)/, h.home)).filter((p) => h.exists(p));
  // A display and no bus: libdbus and GLib would autolaunch a bus (dbus-launch) and publish its
  // address on the display, where your own programs look for one. Masked inside.
  const autolaunch = gui.mode !== "none" && dbus.mode === "none" ? h.tool("dbus-launch") : null;
  return { gui, dbus, audio, devices, themes, autolaunch };
}
