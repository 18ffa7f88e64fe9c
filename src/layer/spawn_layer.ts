/**
 * Starting a layer's runner: clone with the layer's namespaces, write its id maps, and in the child
 * (before execve) put the plan on fd 3 and the report pipe on fd 4, close the rest, enter a new time
 * namespace when asked (CLONE_NEWTIME cannot go through clone(2): its bit is the exit-signal field),
 * and drop what the layer drops.
 */
import type { LayerPlan, Plan } from "../plan/types.ts";
import { spawn, type SpawnOp } from "../sys/spawn.ts";
import { check, libc, memfdOf } from "../sys/libc.ts";
import { CLONE, FORWARDED_SIGNALS, KEYCTL_JOIN_SESSION_KEYRING, nr, SIG } from "../sys/consts.ts";
import { closeFdsOp, dropPrivilegesOps, lastCap, noNewPrivsOp } from "../sys/privileges.ts";
import { idMapOps } from "./idmap.ts";

export const PLAN_FD = 3;
export const REPORT_FD = 4;

const NS_FLAGS: Record<string, number> = {
  user: CLONE.NEWUSER,
  pid: CLONE.NEWPID,
  mnt: CLONE.NEWNS,
  net: CLONE.NEWNET,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  cgroup: CLONE.NEWCGROUP,
};

/** clone(2) flags for the namespaces (all but time, which is entered with an unshare step). */
export function cloneFlags(namespaces: string[]): number {
  return namespaces.reduce((f, ns) => f | (NS_FLAGS[ns] ?? 0), 0);
}

export function timeNsOp(): SpawnOp {
  return { what: "creating a time namespace", nr: nr("unshare"), args: [CLONE.NEWTIME] };
}

/** A CLOEXEC duplicate numbered 10 or above, so moving it to 3 or 4 in the child clobbers nothing. */
export function highFd(fd: number): number {
  return check(libc.fcntl(fd, 1030, /* F_DUPFD_CLOEXEC */ 10), "duplicating a descriptor", "fcntl");
}

/** The plan of one layer's runner, in a memfd: no size limit, nothing on disk, gone with the process. */
export function planMemfd(plan: Plan): number {
  return memfdOf("bbl-plan", new TextEncoder().encode(JSON.stringify(plan)), "writing the plan");
}

/**
 * The first steps of a layer's process: its id maps, a session keyring of its own when asked, the
 * sandbox's terminal as stdio (`stdio`, or -1), the plan (`planFd`, a high descriptor, or -1) at 3 and
 * the report pipe (`reportFd`, high, or -1) at 4, every other descriptor closed on exec.
 */
export function entrySteps(layer: LayerPlan, stdio: number, planFd: number, reportFd: number): SpawnOp[] {
  return [
    ...(layer.uidMap && layer.gidMap ? idMapOps(layer.uidMap, layer.gidMap) : []),
    ...(layer.sessionKeyring
      ? [{
        what: "joining a session keyring of the sandbox's own",
        nr: nr("keyctl"),
        args: [KEYCTL_JOIN_SESSION_KEYRING, 0],
      }]
      : []),
    // the sandbox's terminal, when the launcher relays one, as stdin, stdout and stderr
    ...(stdio >= 0
      ? [0, 1, 2].map((to) => ({ what: "passing the sandbox's terminal", nr: nr("dup3"), args: [stdio, to, 0] }))
      : []),
    ...(planFd >= 0 ? [{ what: "passing the plan", nr: nr("dup3"), args: [planFd, PLAN_FD, 0] }] : []),
    ...(reportFd >= 0 ? [{ what: "passing the report pipe", nr: nr("dup3"), args: [reportFd, REPORT_FD, 0] }] : []),
    closeFdsOp(reportFd >= 0 ? REPORT_FD + 1 : planFd >= 0 ? PLAN_FD + 1 : 3),
  ];
}

/** An init's runner never handles them: they stay pending until its native init reads them. */
export function blockedFor(layer: LayerPlan): number[] {
  return layer.unshare.includes("pid") ? FORWARDED_SIGNALS.map((s) => SIG[s]) : [];
}

/**
 * Spawns `layer`'s runner with `plan` (whose root is `layer`) and returns its pid. `reportFd` (or -1)
 * becomes its fd 4; `pdeathsig` only for the first layer, whose parent (the launcher) stays; `stdio`
 * (or -1) replaces its fds 0-2.
 */
export function spawnLayer(
  plan: Plan,
  reportFd: number,
  pdeathsig: number,
  stdio = -1,
  beforeRelease?: (pid: number) => void,
): number {
  const layer = plan.root;
  const runner = layer.runner!;
  const memfd = planMemfd({ ...plan, reporting: reportFd >= 0 });
  const fds = [highFd(memfd), ...(reportFd >= 0 ? [highFd(reportFd)] : [])];
  libc.close(memfd);
  try {
    return spawn({
      flags: cloneFlags(layer.unshare),
      path: runner.path,
      argv: runner.argv,
      env: runner.env,
      pdeathsig,
      blocked: blockedFor(layer),
      ops: [...entrySteps(layer, stdio, fds[0], reportFd >= 0 ? fds[1] : -1), ...layerPrivilegeOps(layer)],
      ...(beforeRelease ? { beforeRelease } : {}),
    });
  } finally {
    fds.forEach((fd) => libc.close(fd));
  }
}

/** The steps a layer takes before its execve: a new time namespace, no_new_privs, dropped capabilities. */
export function layerPrivilegeOps(layer: Pick<LayerPlan, "unshare" | "noNewPrivs" | "dropCaps">): SpawnOp[] {
  return [
    ...(layer.unshare.includes("time") ? [timeNsOp()] : []),
    ...(layer.noNewPrivs && !layer.dropCaps ? [noNewPrivsOp()] : []),
    ...(layer.dropCaps ? dropPrivilegesOps(lastCap()) : []),
  ];
}
