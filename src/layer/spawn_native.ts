/**
 * Starting the first layer without a runner: the launcher compiles its program (native_layer.ts),
 * looking at the host for what the plan left to run time, and the spawn stub's child runs it.
 */
import type { LayerPlan, Plan } from "../plan/types.ts";
import { openImage } from "./appimage.ts";
import { spawn, type SpawnOp } from "../sys/spawn.ts";
import { privilegeProblems } from "../sys/privileges.ts";
import { BblError } from "../errors.ts";
import { libc, memfdOf } from "../sys/libc.ts";
import { lstatOrNull } from "../sys/files.ts";
import { initElf } from "../sys/init_elf.ts";
import { SIG } from "../sys/consts.ts";
import { layerProgram, type Look } from "./native_layer.ts";
import { cloneFlags, entrySteps, highFd, planMemfd } from "./spawn_layer.ts";

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
 * The process below `top` in the deepest pid namespace whose pid there is `inner`: the app at its
 * checkpoint (its helpers live in that namespace too, with other pids).
 */
function heldProcess(top: number, inner: number): number {
  let found: { pid: number; depth: number } | null = null;
  const visit = (pid: number) => {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const ns = status.match(/^NSpid:\s*(.*)$/m)![1].trim().split(/\s+/).map(Number);
    if (ns.at(-1) === inner && (found === null || ns.length > found.depth)) found = { pid, depth: ns.length };
    const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    for (const k of kids ? kids.split(/\s+/) : []) visit(Number(k));
  };
  visit(top);
  if (found === null) throw new BblError(`the app's process (pid ${inner} inside) is not below ${top}`);
  return (found as { pid: number }).pid;
}

/** Refuses an app that would start with any privilege (read from the host, at its checkpoint). */
function checkApp(pid: number): void {
  const problems = privilegeProblems(Deno.readTextFileSync(`/proc/${pid}/status`));
  if (problems.length > 0) throw new BblError(`refusing to start the app with privileges left: ${problems.join(", ")}`);
}

/**
 * Starts the first layer with no runner (plan.root.native): one process runs its compiled program
 * (native_layer.ts), and each compiled layer below, down to a runner or the app, runs in a clone of
 * it. `beforeRelease` runs once it exists and before it runs anything. Returns its pid once every
 * process of the chain has exec'd (its init, a runner, the app); a failing step of any is a
 * SpawnError naming it.
 */
export function spawnNativeLayer(plan: Plan, stdio: number, beforeRelease: (pid: number) => void): number {
  const layer = plan.root;
  const next = (l: LayerPlan) => l.sublayers.find((s) => s.app || s.runner || s.native)!;
  const compiled = [layer];
  let below = next(layer);
  while (below.native) {
    compiled.push(below);
    below = next(below);
  }
  const initFd = memfdOf("bbl-init", initElf(Deno.build.arch), "loading the native init");
  const planFd = below.runner ? planMemfd({ ...plan, root: below, reporting: false }) : -1;
  const fds = [highFd(initFd), ...(planFd >= 0 ? [highFd(planFd)] : [])];
  [initFd, planFd].forEach((fd) => fd >= 0 && libc.close(fd));
  // The AppImages a compiled layer mounts with FUSE: opened and checked here, seen through its host view.
  const images: Record<string, number> = {};
  for (const l of compiled) {
    for (const a of (l.appimages ?? []).filter((a) => !a.extracted)) {
      const fd = openImage(a, l.hostView ? a.image.slice(l.hostView.length) : a.image);
      images[a.name] = highFd(fd);
      libc.close(fd);
      fds.push(images[a.name]);
    }
  }
  const nativeFds = { init: fds[0], runnerPlan: planFd >= 0 ? fds[1] : -1, images };
  const entry = entrySteps(layer, stdio, -1, -1);
  const program = (checkpoint: SpawnOp[]) => [...entry, ...layerProgram(layer, lookOnHost, nativeFds, checkpoint)];
  try {
    return spawn({
      flags: cloneFlags(layer.unshare),
      path: "",
      argv: [],
      env: [],
      pdeathsig: SIG.SIGKILL, // the launcher's death takes the whole sandbox down
      beforeRelease,
      // When the app is compiled too, it is checked from here at its checkpoint, before it runs
      // (the program is then made with the checkpoint in the app's branch).
      ...(below.app
        ? {
          ops: [],
          inspect: (pid: number, inner: number) => checkApp(heldProcess(pid, inner)),
          withCheckpoint: program,
        }
        : { ops: program([]) }),
    });
  } finally {
    fds.forEach((fd) => libc.close(fd));
  }
}
