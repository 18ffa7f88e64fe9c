/**
 * The launcher: the process the user runs. It owns the instance directory, starts layer1 in its new
 * namespaces, forwards signals to it, hands the terminal over and back, and exits with the app's code.
 */
import type { Plan } from "./plan/types.ts";
import { spawn, SpawnError } from "./sys/spawn.ts";
import { check, cstr, libc } from "./sys/libc.ts";
import { CLONE, FORWARDED_SIGNALS, nr, SIG } from "./sys/consts.ts";
import { closeFdsOp } from "./sys/privileges.ts";
import { waitChild } from "./sys/process.ts";
import { runnerCommand } from "./selfexec.ts";
import { Instance } from "./instance.ts";
import { writeIdMaps } from "./layer/idmap.ts";
import { PLAN_FD } from "./layer/plan_fd.ts";
import { BblError } from "./errors.ts";
import { diagnoseUserns } from "./userns.ts";

const NS_FLAGS: Record<string, number> = {
  user: CLONE.NEWUSER,
  pid: CLONE.NEWPID,
  mnt: CLONE.NEWNS,
  net: CLONE.NEWNET,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

export function cloneFlags(namespaces: string[]): number {
  return namespaces.reduce((f, ns) => f | NS_FLAGS[ns], 0);
}

/** The plan goes to the runner in a memfd: no size limit, nothing on disk, gone with the process. */
function planMemfd(plan: Plan): number {
  const fd = check(libc.memfd_create(cstr("bbl-plan"), 1 /* MFD_CLOEXEC */), "creating the plan file", "memfd_create");
  const data = new TextEncoder().encode(JSON.stringify(plan));
  let off = 0;
  while (off < data.length) {
    off += Number(check(libc.write(fd, data.subarray(off), BigInt(data.length - off)), "writing the plan", "write"));
  }
  return fd;
}

/** Takes the terminal's foreground back after the app is gone (SIGTTOU blocked: we are in background). */
function reclaimTerminal(): void {
  const set = new BigUint64Array(16); // sigset_t
  set[0] = 1n << BigInt(SIG.SIGTTOU - 1);
  const old = new BigUint64Array(16);
  libc.pthread_sigmask(0, /* SIG_BLOCK */ new Uint8Array(set.buffer), new Uint8Array(old.buffer));
  libc.tcsetpgrp(0, libc.getpgrp());
  libc.pthread_sigmask(2, /* SIG_SETMASK */ new Uint8Array(old.buffer), null);
}

export async function launch(plan: Plan, uid: number, env: Record<string, string>): Promise<number> {
  const layer = plan.layers[0];
  const instance = Instance.create(plan.instanceDir.replace(/\/[^/]+$/, ""), plan.instanceDir, uid);
  const forwards: [Deno.Signal, () => void][] = [];
  try {
    const runner = runnerCommand(env);
    const memfd = planMemfd(plan);
    let pid: number;
    try {
      pid = spawn({
        flags: cloneFlags(layer.unshare),
        path: runner.path,
        argv: runner.argv,
        env: runner.env,
        pdeathsig: SIG.SIGKILL, // SIGKILL of the launcher takes the whole sandbox down
        ops: [
          memfd === PLAN_FD
            ? { what: "passing the plan", nr: nr("fcntl"), args: [PLAN_FD, 2, /* F_SETFD */ 0] }
            : { what: "passing the plan", nr: nr("dup3"), args: [memfd, PLAN_FD, 0] },
          closeFdsOp(PLAN_FD + 1),
        ],
        beforeRelease: (p) => writeIdMaps(p, layer.uidMap!, layer.gidMap!),
      });
    } catch (e) {
      if (e instanceof SpawnError && !e.isExec) throw e;
      if (e instanceof SpawnError) throw new BblError(`starting the layer runner ${runner.path}: ${e.code}`);
      throw diagnoseUserns(e) ?? e;
    } finally {
      libc.close(memfd);
    }
    for (const name of FORWARDED_SIGNALS) {
      const handler = () => libc.kill(pid, SIG[name]);
      Deno.addSignalListener(name, handler);
      forwards.push([name, handler]);
    }
    return (await waitChild(pid)).code;
  } finally {
    for (const [name, handler] of forwards) Deno.removeSignalListener(name, handler);
    if (plan.app.foreground) reclaimTerminal();
    instance.remove();
  }
}
