/**
 * The app's process: the steps it takes before its execve (compile.ts places them in its
 * branch of the compiled program), and how a command name is found on a PATH.
 */
import type { LayerPlan } from "../plan/types.ts";
import type { SpawnOp } from "../sys/spawn.ts";
import { closeFdsOp, dropPrivilegesOps, lastCap } from "../sys/privileges.ts";
import { nr } from "../sys/consts.ts";
import { BblError, EXIT } from "../errors.ts";
import { idMapOps } from "./idmap.ts";
import { timeNsOp } from "./entry.ts";
import { seccompOp } from "../seccomp/apply.ts";
import { limitOps } from "../sys/limits.ts";
import { isExecutableFile } from "../sys/files.ts";

/** The path execve gets: a name without '/' is looked up in the sandbox's PATH, like a shell does. */
export function resolveCommand(cmd: string, path: string): string {
  if (cmd.includes("/")) return cmd;
  for (const dir of path.split(":")) {
    const p = `${dir || "."}/${cmd}`;
    if (isExecutableFile(p)) return p;
  }
  throw new BblError(`${cmd}: command not found in the sandbox (PATH=${path})`, EXIT.NOT_FOUND);
}

/**
 * The app's steps before its execve, in order: its id maps, descriptors closed, its process group
 * (with a terminal: a group of the session that owns it, see LayerPlan.session; without one, a
 * session of its own), a time namespace, limits (while it may still raise hard ones), `middle` (what
 * the caller adds there, while the app still may), every privilege dropped, the seccomp filter last
 * (it may forbid what the steps above use). Whatever the template says, the app keeps no capability.
 */
export function appSteps(layer: LayerPlan, middle: SpawnOp[] = []): SpawnOp[] {
  const app = layer.app!;
  return [
    ...(layer.uidMap && layer.gidMap ? idMapOps(layer.uidMap, layer.gidMap) : []),
    closeFdsOp(3),
    app.terminal
      ? { what: "starting a process group", nr: nr("setpgid"), args: [0, 0] }
      : { what: "starting a new session", nr: nr("setsid"), args: [] },
    ...(layer.unshare.includes("time") ? [timeNsOp()] : []),
    ...limitOps(app.limits),
    ...middle,
    ...dropPrivilegesOps(lastCap()),
    ...(app.seccomp ? [seccompOp(app.seccomp)] : []),
  ];
}
