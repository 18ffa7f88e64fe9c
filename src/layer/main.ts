/**
 * The layer runner: what bbl re-executes as inside each new set of namespaces (see src/selfexec.ts).
 * It reads its plan from fd 3, builds the layer, starts the app and stays as the namespace's pid-1
 * init: it reaps every orphan, forwards signals to the app and exits with the app's status.
 *
 * Imports only local modules (no npm packages): it starts once per layer, so it must load fast.
 */
import type { Plan } from "../plan/types.ts";
import { buildRoot } from "./fs.ts";
import { startApp } from "./app.ts";
import { loopbackUp } from "../sys/net.ts";
import { check, cstr, libc } from "../sys/libc.ts";
import { waitChild } from "../sys/process.ts";
import { FORWARDED_SIGNALS, SIG } from "../sys/consts.ts";
import { reportAndExit } from "../report.ts";
import { PLAN_FD } from "./plan_fd.ts";

async function main(): Promise<number> {
  // Listeners first: as pid 1, a signal without a handler is dropped, even one forwarded to us.
  let appPid = -1;
  for (const sig of FORWARDED_SIGNALS) {
    Deno.addSignalListener(sig, () => {
      if (appPid > 0) libc.kill(appPid, SIG[sig]);
    });
  }
  const plan: Plan = JSON.parse(Deno.readTextFileSync(`/proc/self/fd/${PLAN_FD}`));
  libc.close(PLAN_FD);
  const layer = plan.layers[0];
  if (layer.unshare.includes("net")) loopbackUp();
  if (layer.hostname !== undefined && layer.unshare.includes("uts")) {
    const name = cstr(layer.hostname);
    check(libc.sethostname(name, BigInt(name.length - 1)), `setting the hostname to ${layer.hostname}`, "sethostname");
  }
  if (layer.rootMount) buildRoot(layer.rootMount, layer.fs);

  appPid = startApp(plan.app).pid;
  // pid 1 of the namespace: every orphan is re-parented here and must be reaped.
  for (;;) {
    const { pid, code } = await waitChild(-1);
    if (pid === appPid) return code; // our exit ends the namespace: the kernel kills what is left
  }
}

main().then((code) => Deno.exit(code), reportAndExit);
