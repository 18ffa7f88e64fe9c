/**
 * The launcher: the process the user runs. It owns the instance directory, starts the first layer in
 * its new namespaces, forwards signals to it, hands the terminal back when it ends, and exits with the
 * app's code (the first layer is the sandbox's init and exits with it).
 */
import type { Plan } from "./plan/types.ts";
import { SpawnError } from "./sys/spawn.ts";
import { libc } from "./sys/libc.ts";
import { FORWARDED_SIGNALS, SIG } from "./sys/consts.ts";
import { waitChild } from "./sys/process.ts";
import { Instance } from "./instance.ts";
import { spawnLayer } from "./layer/spawn_layer.ts";
import { allLayers } from "./plan/tree.ts";
import { BblError } from "./errors.ts";
import { diagnoseUserns } from "./userns.ts";

/** Takes the terminal's foreground back after the app is gone (SIGTTOU blocked: we are in background). */
function reclaimTerminal(): void {
  const set = new BigUint64Array(16); // sigset_t
  set[0] = 1n << BigInt(SIG.SIGTTOU - 1);
  const old = new BigUint64Array(16);
  libc.pthread_sigmask(0, /* SIG_BLOCK */ new Uint8Array(set.buffer), new Uint8Array(old.buffer));
  libc.tcsetpgrp(0, libc.getpgrp());
  libc.pthread_sigmask(2, /* SIG_SETMASK */ new Uint8Array(old.buffer), null);
}

export async function launch(plan: Plan, uid: number): Promise<number> {
  const roots = allLayers(plan.root).filter((l) => l.rootMount).map((l) => l.name);
  const instance = Instance.create(plan.instanceDir, uid, roots);
  const forwards: [Deno.Signal, () => void][] = [];
  const foreground = allLayers(plan.root).some((l) => l.app?.foreground);
  try {
    let pid: number;
    try {
      pid = spawnLayer(plan, -1, SIG.SIGKILL); // SIGKILL of the launcher takes the whole sandbox down
    } catch (e) {
      if (e instanceof SpawnError && e.isExec) {
        throw new BblError(`starting the layer runner ${plan.root.runner!.path}: ${e.code}`);
      }
      throw diagnoseUserns(e) ?? e;
    }
    for (const name of FORWARDED_SIGNALS) {
      const handler = () => libc.kill(pid, SIG[name]);
      Deno.addSignalListener(name, handler);
      forwards.push([name, handler]);
    }
    return (await waitChild(pid)).code;
  } finally {
    for (const [name, handler] of forwards) Deno.removeSignalListener(name, handler);
    if (foreground) reclaimTerminal();
    instance.remove();
  }
}
