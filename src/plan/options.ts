/**
 * What the user asked for, resolved: the configuration merged from every source (src/config/) with
 * every path expanded and checked. The planner turns it and a layer template into a Plan.
 */
import type { Policy } from "../seccomp/policy.ts";
import type { FsFormat } from "../appimage/format.ts";

/** The app's home: a tmpfs (nothing kept), kept per sandbox, an overlay on yours, or a directory. */
export type HomeSetting = { mode: "tmpfs" } | { mode: "persist" } | { mode: "overlay" } | { mode: "dir"; path: string };

/** A host path bound into the app's root. */
export interface ExtraMount {
  kind: "bind" | "robind";
  src: string;
  dest: string;
  optional: boolean;
}

/** An AppImage to show at /sbxdir/apps/NAME, read and checked on the host (src/appimage/format.ts). */
export interface AppImageRequest {
  name: string;
  /** The image file on the host, resolved. */
  path: string;
  /** Its file name as given, for ARGV0. */
  argv0: string;
  offset: number;
  format: FsFormat;
  /** --appimage-extract: the unpacked tree, a host directory bound read-only instead of a FUSE mount. */
  extracted?: string;
}

/** The display the app gets (src/config/desktop.ts resolves it from the environment). */
export type GuiSetting =
  | { mode: "none" }
  /** The host's X server; an untrusted cookie unless `trusted`. */
  | { mode: "x11"; display: number; trusted: boolean }
  /** A nested Xephyr on the host's X server (`hostDisplay`), at its own free `display`. */
  | { mode: "xephyr"; hostDisplay: number; display: number; hostXauthority: string | null; wm?: string[] }
  /** The compositor's socket (a host path). */
  | { mode: "wayland"; socket: string };

export interface DesktopOptions {
  gui: GuiSetting;
  /**
   * The session bus socket (a host path), itself or through a filtering proxy; the app's id for the
   * portals; the document portal's mount point (a host path), if one answers.
   */
  dbus: { mode: "none" } | {
    mode: "host" | "filter";
    socket: string;
    talk: string[];
    own: string[];
    see: string[];
    appId: string;
    documents: string | null;
  };
  audio: { mode: "none" } | { mode: "pulse"; socket: string; cookie: string | null } | {
    mode: "pipewire";
    socket: string;
  };
  /** Device nodes under /dev given to the app (GPU render nodes). */
  devices: string[];
  /** Host paths shown read-only at the same place (fonts, themes, icon caches). */
  themes: string[];
  /** dbus-launch, masked inside so that an app with a display and no bus cannot autolaunch one; or null. */
  autolaunch: string | null;
}

/** The program the command names, as found on the host (src/config/program.ts). */
export interface ProgramOnHost {
  /** The path execve gets inside. */
  path: string;
  /** The host file (or, with program_dir, directory), resolved, shown read-only at `dest` if not already. */
  src: string;
  dest: string;
}

/** A host path an argument names (`word`: the argument itself when `whole`, else one of its words). */
export interface NamedFile {
  word: string;
  path: string;
  whole: boolean;
}

export interface RunOptions {
  /** The command and its arguments; empty: the user's shell. */
  command: string[];
  /** The command's program on the host, when it is a host file (given by path, or in the host's PATH). */
  program: ProgramOnHost | null;
  /** The host files its arguments name (for the hint when the sandbox cannot see them). */
  namedFiles: NamedFile[];
  name: string;
  /** Ids the app has inside (default: the invoking user's). */
  uid?: number;
  gid?: number;
  home: HomeSetting;
  /** Where every sandbox's state lives (hidden from all of them), and this one's (persist, overlay). */
  stateBase: string;
  stateDir: string | null;
  /** Bind the current directory read-write at the same path and start there. */
  cwd: boolean;
  mounts: ExtraMount[];
  appimages: AppImageRequest[];
  desktop: DesktopOptions;
  /** Existing host paths, resolved, that no layer below the semi-trusted one may see. */
  neverAccess: string[];
  net: "none" | "host";
  /** Name servers for a resolv.conf of the sandbox's own; empty: the host's. */
  dns: string[];
  hostname?: string;
  machineId: "host" | "zero";
  /** /etc/hostname and /etc/hosts naming the sandbox's hostname, or the host's files. */
  etcHosts: "own" | "host";
  maskOsRelease: boolean;
  allowOpt: boolean;
  seeRealHw: boolean;
  setenv: Record<string, string>;
  /** Host variables copied (names, already matched against the host's environment). */
  keepenv: string[];
  unsetenv: string[];
  /** The policy: null for none. */
  seccomp: Policy | null;
  seccompAllow: string[];
  /** User namespaces the app may create for a sandbox of its own (0: none; see `nested_sandbox`). */
  nestedSandbox: number;
  limits: Record<string, number>;
  /** The size of every tmpfs of the plan (tmpfs(5) notation), overriding the template's. */
  tmpfsSize?: string;
}
