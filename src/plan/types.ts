import type { Policy } from "../seccomp/policy.ts";
import type { XauthPlan } from "../desktop/xauth.ts";
import type { NamedFile } from "./options.ts";

/**
 * The plan: everything a run will do, computed before anything is created. It is plain JSON (each
 * layer below gets its own in /sbxdir/plans), printable by `bbl explain`; the launcher compiles it
 * into the program the sandbox's processes run (src/layer/compile.ts).
 */

export const NAMESPACES = ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"] as const;
export type Namespace = typeof NAMESPACES[number];

/** One line of /proc/PID/uid_map or gid_map: `inside outside count`. */
export interface IdMap {
  inside: number;
  outside: number;
  count: number;
}

export const FS_KINDS = [
  "bind",
  "robind",
  "same",
  "rosame",
  "tmpfs",
  "rotmpfs",
  "dir",
  "file",
  "rofile",
  "symlink",
  "devpts",
  "proc",
  "mqueue",
  "dev",
  "mask",
  "overlay",
  "tmp-overlay",
  "remount-ro",
] as const;
export type FsKind = typeof FS_KINDS[number];

/** One step of a layer's filesystem plan; `dest` is a path inside the new root. */
export type FsOp =
  /** Recursive bind of `src` (resolved, as seen by this layer before its pivot). */
  | { kind: "bind" | "robind"; src: string; dest: string; optional?: boolean }
  /** Same path inside as in the host view; a symlink stays a symlink (as /bin -> usr/bin). */
  | { kind: "same" | "rosame"; src: string; dest: string; optional?: boolean }
  /** `size` in tmpfs(5) notation ("64m", "1g"); every tmpfs bbl mounts has one. */
  | { kind: "tmpfs" | "rotmpfs"; dest: string; mode: number; size: string }
  | { kind: "dir"; dest: string; mode: number }
  /** A file with the given content, created in the new root (never written through to a source). */
  | { kind: "file" | "rofile"; dest: string; content: string; mode: number }
  | { kind: "symlink"; target: string; dest: string }
  | { kind: "devpts" | "mqueue" | "remount-ro"; dest: string }
  /**
   * A fresh /proc; `readonly` entries (host-wide settings root-in-the-namespace could change) are
   * bound read-only over themselves, `masked` ones (host-wide state readable by any process of the
   * user, such as /proc/keys) replaced by an empty unreadable file.
   */
  | { kind: "proc"; dest: string; readonly: string[]; masked: string[] }
  /**
   * The minimal /dev: null zero full random urandom tty, devpts, shm, fd links; `console` is the host
   * terminal the app inherited, bound at /dev/console so ttyname(3) can name it (its /dev/pts path
   * belongs to the host's devpts, not the sandbox's). `from` is where the host's device nodes are.
   * `extra` adds more nodes by name: fuse, for the layer below that mounts AppImages (FUSE wants the
   * device opened in the mounting process's own user namespace); GPU render nodes (dri/renderD128).
   */
  | {
    kind: "dev";
    dest: string;
    from: string;
    console?: string;
    extra?: string[];
    /** Sizes of the tmpfs holding the nodes and of /dev/shm. */
    size: string;
    shmSize: string;
  }
  /**
   * An existing path made empty and unreadable: directory, file or device (`src` is where it is now).
   * A directory gets an empty read-only tmpfs of `size`.
   */
  | { kind: "mask"; src: string; dest: string; optional?: boolean; size: string }
  /** Read-only lower directories (resolved) under a writable upper kept in `upper`/`work`. */
  | { kind: "overlay"; lower: string[]; upper: string; work: string; dest: string }
  /** An overlay whose upper lives on a tmpfs: changes are visible inside and gone at exit. */
  | { kind: "tmp-overlay"; lower: string[]; dest: string; size: string };

export interface Helper {
  run: string[];
  /** Readiness: wait until this path exists, or this unix socket accepts connections. */
  wait?: { path: string } | { socket: string };
  /** Seconds to wait for readiness (default 10). */
  timeout?: number;
  /**
   * Serves the AppImage of this name: the starting layer gives it the FUSE connection it mounted on
   * fd 3 and the image, read-only, on fd 4.
   */
  appimage?: string;
}

/** An AppImage shown by the app's root layer at /sbxdir/apps/NAME (with run_NAME beside it). */
export interface AppImagePlan {
  name: string;
  /** The image, as this layer sees it before its pivot. */
  image: string;
  argv0: string;
  offset: number;
  format: "squashfs" | "dwarfs";
  /** FUSE mode: the device node to open, as this layer sees it before its pivot. */
  fuseDevice?: string;
  /** Extracted mode: the unpacked tree, likewise, bound read-only. */
  extracted?: string;
}

export interface LayerPlan {
  name: string;
  /**
   * The template layer above this one that is created in the same process (it only creates a user
   * and/or pid namespace): `unshare` and the id maps include its own.
   */
  joined?: string;
  unshare: Namespace[];
  /**
   * On the first layer: it joins a new session keyring before anything else, so no process of the
   * sandbox possesses the keys of the session it was started from.
   */
  sessionKeyring?: boolean;
  /** Present when `unshare` has user: the maps the parent writes for this layer. */
  uidMap?: IdMap[];
  gidMap?: IdMap[];
  /** Every capability dropped and/or no_new_privs set, in the child before its execve. */
  dropCaps: boolean;
  noNewPrivs: boolean;
  /** Directory (in the parent's view) the new root is built on, when the layer has one. */
  rootMount?: string;
  fs: FsOp[];
  /**
   * The nested user-namespace lock: written to user.max_user_namespaces of this layer's own user
   * namespace right after it mounts proc, so that below it only the namespaces bbl creates can exist.
   */
  maxUserNamespaces?: number;
  /**
   * On every init: it leads a session of its own, so also an autogroup of its own (a process of the
   * sandbox that writes to /proc/1/autogroup renices that, not your desktop session). "terminal" on
   * the app's nearest init when the sandbox has a terminal: the session owns it, and the app runs as a
   * process group of it, so terminal stop signals (Ctrl-Z) reach the app (in a session of its own the
   * app's group would be orphaned, and the kernel drops them).
   */
  session?: "own" | "terminal";
  /** On the app's root layer: the AppImages it mounts. */
  appimages?: AppImagePlan[];
  /** On the app's root layer: programs bbl puts in /sbxdir/bin (first in the app's PATH), by name. */
  sbxBin?: Record<string, string>;
  /**
   * /sbxdir, on every layer with a new root: a read-only tmpfs of `size` with the plans of this layer's
   * descendants, and temp/, a writable tmpfs of `tempSize` for helpers.
   */
  sbxdir?: { size: string; tempSize: string };
  hostname?: string;
  /** Environment for the helpers this layer starts. */
  env: Record<string, string>;
  helpers: Helper[];
  /** The policy the helpers run under (the app's, for untrusted helper layers), or null. */
  helperSeccomp: Policy | null;
  /**
   * A layer whose processes are its helpers (no root, sublayers, pid namespace or hostname): its
   * parent starts each of them straight into its namespaces. The app layer's process is the app;
   * every other layer has a process of its own, a program the launcher compiles (compile.ts).
   */
  helperOnly?: true;
  /** Where this layer's process sees the host's root before its pivot ("" for the first layer; null: nowhere). */
  hostView?: string | null;
  sublayers: LayerPlan[];
  /** Present on the one layer that runs the app. */
  app?: AppPlan;
}

/** How the app is started by the app layer's parent. */
export interface AppPlan {
  /** The command as given; argv[0] is looked up in the sandbox's PATH when it has no slash and no `path`. */
  argv: string[];
  /** The file execve runs, when bbl found the program on the host (by path, or in the host's PATH). */
  path?: string;
  env: Record<string, string>;
  /** Tried first; the home directory when it does not exist inside. */
  cwd: string;
  home: string;
  /** The app's stdin is the sandbox's pty (relayed by the launcher): it becomes its controlling terminal. */
  terminal: boolean;
  /** Resource limits by name (src/sys/limits.ts): soft and hard set to the value. */
  limits: Record<string, number>;
  /** The seccomp policy installed last before the app's execve, or null for none. */
  seccomp: Policy | null;
}

export interface Plan {
  version: 1;
  /** The instance name: the sandbox's name plus the launcher's pid, unique on the host. */
  instance: string;
  instanceDir: string;
  root: LayerPlan;
  /** An X authority file the launcher writes into the instance directory before the sandbox starts. */
  xauth?: XauthPlan;
  /** The sandbox's own state directory (persist and overlay homes), prepared and locked by the launcher. */
  state?: { dir: string; home: "persist" | "overlay" };
  /** Host files the command's arguments name that the sandbox does not show: bbl says so after the run. */
  notShown?: NamedFile[];
}
