/**
 * Starting the app from the innermost layer: find the command inside the sandbox, then spawn it with
 * its own user namespace (when its ids differ from the layer's), every privilege dropped in the child,
 * the result checked from /proc before its execve, in a session of its own (with the sandbox's pty as
 * its controlling terminal when there is one).
 */
import type { AppPlan, LayerPlan } from "../plan/types.ts";
import { spawn, SpawnError, type SpawnOp } from "../sys/spawn.ts";
import { closeFdsOp, dropPrivilegesOps, lastCap, privilegeProblems } from "../sys/privileges.ts";
import { nr } from "../sys/consts.ts";
import { check, cstr, libc } from "../sys/libc.ts";
import { TIOCSPGRP } from "../sys/pty.ts";
import { BblError, EXIT } from "../errors.ts";
import { idMapOps } from "./idmap.ts";
import { cloneFlags, timeNsOp } from "./spawn_layer.ts";
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

function enterWorkingDir(app: AppPlan): void {
  for (const dir of [app.cwd, app.home, "/"]) {
    if (libc.chdir(cstr(dir)) === 0) return;
  }
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

/**
 * Spawns the app layer's process, the app itself; returns its pid once it has exec'd (or throws with
 * the exit code a shell would use).
 */
export function startApp(layer: LayerPlan, beforeRelease?: () => void): number {
  const app = layer.app!;
  enterWorkingDir(app);
  const path = app.path ?? resolveCommand(app.argv[0], app.env.PATH ?? "");
  const ops = appSteps(layer);
  try {
    return spawn({
      flags: cloneFlags(layer.unshare),
      path,
      argv: app.argv,
      env: Object.entries(app.env).map(([k, v]) => `${k}=${v}`),
      pdeathsig: 0, // its parent layer exits; the pid namespace's init outlives it
      ops,
      ...(beforeRelease ? { beforeRelease } : {}),
      inspect: (pid) => {
        const problems = privilegeProblems(Deno.readTextFileSync(`/proc/${pid}/status`));
        if (problems.length > 0) {
          throw new BblError(`refusing to start the app with privileges left: ${problems.join(", ")}`);
        }
        if (app.terminal) {
          const group = new Int32Array([pid]);
          check(libc.ioctl(0, BigInt(TIOCSPGRP), new Uint8Array(group.buffer)), "giving the app the terminal", "ioctl");
        }
      },
    });
  } catch (e) {
    if (e instanceof SpawnError && e.isExec) {
      const code = e.code === "ENOENT" ? EXIT.NOT_FOUND : EXIT.CANNOT_EXEC;
      throw new BblError(`${app.argv[0]}: cannot execute in the sandbox: ${e.code}`, code);
    }
    throw e;
  }
}
