/**
 * Starting the first layer without a runner: the launcher compiles its program (native_layer.ts),
 * looking at the host for what the plan left to run time, and the spawn stub's child runs it.
 */
import type { Plan } from "../plan/types.ts";
import { spawn } from "../sys/spawn.ts";
import { libc, memfdOf } from "../sys/libc.ts";
import { lstatOrNull } from "../sys/files.ts";
import { initElf } from "../sys/init_elf.ts";
import { SIG } from "../sys/consts.ts";
import { type Look, nativeLayerProgram } from "./native_layer.ts";
import { blockedFor, cloneFlags, entrySteps, highFd, layerPrivilegeOps, planMemfd } from "./spawn_layer.ts";

/** What is at a host path, as the launcher sees it (which is how the first layer sees it before its pivot). */
const lookOnHost: Look = (path) => {
  const st = lstatOrNull(path);
  if (st === null) return null;
  if (!st.isSymlink) return { kind: st.isDirectory ? "dir" : "file" };
  const toDir = (() => {
    try {
      return Deno.statSync(path).isDirectory;
    } catch {
      return false;
    }
  })();
  return { kind: "symlink", target: Deno.readLinkSync(path), toDir };
};

/**
 * Starts the first layer with no runner (plan.root.native): one process runs its compiled program
 * (native_layer.ts), clones its sublayer's runner and becomes its init. Returns its pid once both
 * have exec'd; a failing step of either is a SpawnError naming it.
 */
export function spawnNativeLayer(plan: Plan, stdio: number): number {
  const layer = plan.root, sub = layer.sublayers[0];
  const runner = sub.runner!;
  const planFd = planMemfd({ ...plan, root: sub, reporting: false });
  const initFd = memfdOf("bbl-init", initElf(Deno.build.arch), "loading the native init");
  const fds = [highFd(planFd), highFd(initFd)];
  [planFd, initFd].forEach((fd) => libc.close(fd));
  try {
    const program = nativeLayerProgram(plan, lookOnHost, { subPlan: fds[0], init: fds[1] }, {
      flags: cloneFlags(sub.unshare),
      ops: [...entrySteps(sub, -1, fds[0], -1), ...layerPrivilegeOps(sub)],
      path: runner.path,
      argv: runner.argv,
      env: runner.env,
      blocked: blockedFor(sub),
    });
    return spawn({
      flags: cloneFlags(layer.unshare),
      path: "",
      argv: [],
      env: [],
      pdeathsig: SIG.SIGKILL, // the launcher's death takes the whole sandbox down
      ops: [...entrySteps(layer, stdio, -1, -1), ...program],
    });
  } finally {
    fds.forEach((fd) => libc.close(fd));
  }
}
