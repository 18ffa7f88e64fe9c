/**
 * The plan: everything a run will do, computed before anything is created. It is plain JSON (the
 * launcher hands it to each layer's runner through a memfd), printable by `bbl explain`.
 */

export type Namespace = "user" | "pid" | "mnt" | "net" | "ipc" | "uts" | "cgroup" | "time";

/** One line of /proc/PID/uid_map or gid_map: `inside outside count`. */
export interface IdMap {
  inside: number;
  outside: number;
  count: number;
}

/** One step of a layer's filesystem plan; `dest` is a path inside the new root. */
export type FsOp =
  | { kind: "tmpfs"; dest: string; mode: number; size?: number; readonly?: boolean }
  | { kind: "bind" | "robind"; src: string; dest: string; optional?: boolean }
  /** Same path inside as outside; a symlink stays a symlink (as /bin -> usr/bin on merged-/usr). */
  | { kind: "same" | "rosame"; dest: string; optional?: boolean }
  | { kind: "dir"; dest: string; mode: number }
  | { kind: "symlink"; target: string; dest: string }
  | { kind: "proc"; dest: string }
  /**
   * The minimal /dev: null zero full random urandom tty, devpts, shm, fd links; `console` is the host
   * terminal the app inherited, bound at /dev/console so ttyname(3) can name it (its /dev/pts path
   * belongs to the host's devpts, not the sandbox's).
   */
  | { kind: "dev"; dest: string; console?: string }
  | { kind: "remount-ro"; dest: string };

export interface LayerPlan {
  name: string;
  unshare: Namespace[];
  /** Present when `unshare` has user: the maps the parent writes for this layer. */
  uidMap?: IdMap[];
  gidMap?: IdMap[];
  /** The host path the new root is built on (a directory of the instance), when the layer has one. */
  rootMount?: string;
  fs: FsOp[];
  hostname?: string;
}

/** How the app is started by the innermost layer. */
export interface AppPlan {
  /** The command as given; looked up in the sandbox's PATH when it has no slash. */
  argv: string[];
  env: Record<string, string>;
  /** Tried first; the home directory when it does not exist inside. */
  cwd: string;
  home: string;
  /** The launcher owns the terminal's foreground: the app gets its own process group and the terminal. */
  foreground: boolean;
  /** The app gets its own user namespace mapping these ids to the layer's root (absent: stays root). */
  uidMap?: IdMap[];
  gidMap?: IdMap[];
}

export interface Plan {
  version: 1;
  /** The instance name: the sandbox's name plus the launcher's pid, unique on the host. */
  instance: string;
  instanceDir: string;
  layers: LayerPlan[];
  app: AppPlan;
}
