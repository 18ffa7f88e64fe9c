/**
 * The first steps of every layer's process: the clone flags of its namespaces, its id maps, what it
 * takes from the launcher, then entering a new time namespace when asked (CLONE_NEWTIME cannot go
 * through clone(2): its bit is the exit-signal field) and dropping what the layer drops.
 */
import type { LayerPlan } from "../plan/types.ts";
import type { SpawnOp } from "../sys/spawn.ts";
import { check, libc } from "../sys/libc.ts";
import { CLONE, KEYCTL_JOIN_SESSION_KEYRING, nr } from "../sys/consts.ts";
import { closeFdsOp, dropPrivilegesOps, lastCap, noNewPrivsOp } from "../sys/privileges.ts";
import { idMapOps } from "./idmap.ts";

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

/** A CLOEXEC duplicate numbered 10 or above, so moving it to 3 or 4 in a child clobbers nothing. */
export function highFd(fd: number): number {
  return check(libc.fcntl(fd, 1030, /* F_DUPFD_CLOEXEC */ 10), "duplicating a descriptor", "fcntl");
}

/**
 * The first steps of a layer's process: its id maps, a session keyring of its own when asked, the
 * sandbox's terminal as stdio (`stdio`, or -1), every other descriptor closed on exec.
 */
export function entrySteps(layer: LayerPlan, stdio: number): SpawnOp[] {
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
    closeFdsOp(3),
  ];
}

/** The steps a layer takes before its execve: a new time namespace, no_new_privs, dropped capabilities. */
export function layerPrivilegeOps(layer: Pick<LayerPlan, "unshare" | "noNewPrivs" | "dropCaps">): SpawnOp[] {
  return [
    ...(layer.unshare.includes("time") ? [timeNsOp()] : []),
    ...(layer.noNewPrivs && !layer.dropCaps ? [noNewPrivsOp()] : []),
    ...(layer.dropCaps ? dropPrivilegesOps(lastCap()) : []),
  ];
}
