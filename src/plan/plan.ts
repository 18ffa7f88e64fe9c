/**
 * The planner: run options + host facts -> a complete Plan. Pure: no I/O, so everything a run will do
 * can be printed (`bbl explain`) and unit-tested.
 */
import type { AppPlan, FsOp, LayerPlan, Namespace, Plan } from "./types.ts";
import type { HostFacts } from "./host.ts";
import { buildEnv } from "./env.ts";
import { UsageError } from "../errors.ts";

export interface RunOptions {
  /** The command and its arguments; empty: the user's shell. */
  command: string[];
  /** Ids the app has inside (default: the invoking user's). */
  uid?: number;
  gid?: number;
  shareNet: boolean;
  setenv: Record<string, string>;
  keepenv: string[];
  hostname?: string;
  name?: string;
}

/** Host system directories bound read-only at the same path; symlinks (merged /usr) stay symlinks. */
export const SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A sandbox name from a command or file name: "FreeCAD_1.0-x86_64.AppImage" style input is trimmed. */
export function defaultName(command: string[]): string {
  const base = (command[0] ?? "shell").split("/").pop() ?? "shell";
  const cleaned = base.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[._-]+/, "");
  return cleaned.slice(0, 64) || "sandbox";
}

export function buildPlan(opts: RunOptions, host: HostFacts): Plan {
  const name = opts.name ?? defaultName(opts.command);
  if (!NAME_RE.test(name)) {
    throw new UsageError(`invalid sandbox name '${name}': use letters, digits, '_', '.', '-' (at most 64)`);
  }
  const uid = opts.uid ?? host.uid;
  const gid = opts.gid ?? host.gid;
  const instance = `${name}-${host.pid}`;
  const instanceDir = `${host.instanceBase}/${instance}`;
  const home = host.home;
  const shell = host.env.SHELL || "/bin/sh";

  const unshare: Namespace[] = ["user", "pid", "mnt", "ipc", "uts", "cgroup"];
  if (!opts.shareNet) unshare.push("net");

  const fs: FsOp[] = [
    { kind: "tmpfs", dest: "/", mode: 0o755 },
    ...SYSTEM_PATHS.map((p): FsOp => ({ kind: "rosame", dest: p, optional: true })),
    { kind: "proc", dest: "/proc" },
    host.tty ? { kind: "dev", dest: "/dev", console: host.tty } : { kind: "dev", dest: "/dev" },
    { kind: "tmpfs", dest: "/tmp", mode: 0o1777 },
    { kind: "tmpfs", dest: "/run", mode: 0o755 },
    { kind: "tmpfs", dest: `/run/user/${uid}`, mode: 0o700 },
  ];
  if (home !== "/") fs.push({ kind: "tmpfs", dest: home, mode: 0o700 });
  fs.push({ kind: "remount-ro", dest: "/" });

  const layer: LayerPlan = {
    name: "layer1",
    unshare,
    // Root inside, mapped to the invoking user: the layer may mount, the host sees only the user.
    uidMap: [{ inside: 0, outside: host.uid, count: 1 }],
    gidMap: [{ inside: 0, outside: host.gid, count: 1 }],
    rootMount: `${instanceDir}/root`,
    fs,
    hostname: opts.hostname ?? "bbl",
  };

  const user = uid === 0 ? "root" : host.user;
  const app: AppPlan = {
    argv: opts.command.length > 0 ? opts.command : [shell],
    env: buildEnv({ host: host.env, user, home, shell, uid, keep: opts.keepenv, set: opts.setenv }),
    cwd: host.cwd,
    home,
    foreground: host.terminalForeground,
    // Non-root ids inside: a user namespace of the app's own, mapping them to the layer's root.
    ...(uid === 0 && gid === 0 ? {} : {
      uidMap: [{ inside: uid, outside: 0, count: 1 }],
      gidMap: [{ inside: gid, outside: 0, count: 1 }],
    }),
  };
  return { version: 1, instance, instanceDir, layers: [layer], app };
}
