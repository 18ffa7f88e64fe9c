/**
 * Starting the sandbox: the launcher compiles the layers' program (compile.ts), looking at the
 * host for what the plan left to run time, and the spawn stub's child runs it.
 */
import type { Plan } from "../plan/types.ts";
import { allLayers } from "../plan/tree.ts";
import { openImage } from "./appimage.ts";
import { spawn, type SpawnOp } from "../sys/spawn.ts";
import { privilegeProblems } from "../sys/privileges.ts";
import { BblError } from "../errors.ts";
import { libc, memfdOf } from "../sys/libc.ts";
import { lstatOrNull } from "../sys/files.ts";
import { initElf } from "../sys/init_elf.ts";
import { SIG } from "../sys/consts.ts";
import { layerProgram } from "./compile.ts";
import type { Look } from "./setup.ts";
import { cloneFlags, entrySteps, highFd } from "./entry.ts";

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
 * The processes from `top` down to the one in the deepest pid namespace whose pid there is `inner`:
 * the app at its checkpoint (its helpers live in that namespace too, with other pids), last.
 */
function heldChain(top: number, inner: number): number[] {
  let found: { chain: number[]; depth: number } | null = null;
  const visit = (pid: number, above: number[]) => {
    const chain = [...above, pid];
    const ns = status(pid).match(/^NSpid:\s*(.*)$/m)![1].trim().split(/\s+/).map(Number);
    if (ns.at(-1) === inner && (found === null || ns.length > found.depth)) found = { chain, depth: ns.length };
    const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    for (const k of kids ? kids.split(/\s+/) : []) visit(Number(k), chain);
  };
  visit(top, []);
  if (found === null) throw new BblError(`the app's process (pid ${inner} inside) is not below ${top}`);
  return (found as { chain: number[] }).chain;
}

const status = (pid: number) => Deno.readTextFileSync(`/proc/${pid}/status`);

/**
 * At the app's checkpoint (the last of `chain`): refuses an app that would start with any privilege,
 * and holds it until every process above it has become bbl's native init (a layer's process execs it
 * right after cloning the one below), so that nothing the app can see, its pid 1 above all, is still
 * a copy of the launcher with the launcher's command line. Read from the host.
 */
function checkApp(chain: number[]): void {
  const app = chain.at(-1)!, above = chain.slice(0, -1);
  const problems = privilegeProblems(status(app));
  if (problems.length > 0) throw new BblError(`refusing to start the app with privileges left: ${problems.join(", ")}`);
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; !above.every((p) => /^Name:\s*bbl-init$/m.test(status(p))); tries++) {
    if (tries >= 5000) throw new BblError("the layers above the app did not become inits within 5 s");
    Atomics.wait(tick, 0, 0, 1);
  }
}

/**
 * The program `startSandbox` would run for `plan`, for `bbl explain --steps`: the descriptors the
 * launcher opens at run time (the init's image, AppImages) shown as -1, the sandbox's terminal none.
 */
export function sandboxProgram(plan: Plan): SpawnOp[] {
  const images = Object.fromEntries(allLayers(plan.root).flatMap((l) => l.appimages ?? []).map((a) => [a.name, -1]));
  return [...entrySteps(plan.root, -1), ...layerProgram(plan.root, lookOnHost, { init: -1, images })];
}

/**
 * Starts the sandbox: one process runs the first layer's compiled program, and each layer below, down
 * to the app, runs in a clone of it. `started` runs once it runs, before the app can (it is held at
 * its checkpoint, and checked from here there before it runs). Returns the first process's pid once
 * every process of the chain has exec'd (the inits, the app); a failing step of any is a SpawnError
 * naming it.
 */
export function startSandbox(plan: Plan, stdio: number, started: (pid: number) => void): number {
  const initFd = memfdOf("bbl-init", initElf(Deno.build.arch), "loading the native init");
  const fds = [highFd(initFd)];
  libc.close(initFd);
  try {
    // The AppImages a layer mounts with FUSE: opened and checked here, seen through its host view.
    const images: Record<string, number> = {};
    for (const l of allLayers(plan.root)) {
      for (const a of (l.appimages ?? []).filter((a) => !a.extracted)) {
        const fd = openImage(a, l.hostView ? a.image.slice(l.hostView.length) : a.image);
        fds.push(images[a.name] = highFd(fd));
        libc.close(fd);
      }
    }
    const entry = entrySteps(plan.root, stdio);
    return spawn({
      flags: cloneFlags(plan.root.unshare),
      path: "",
      argv: [],
      env: [],
      pdeathsig: SIG.SIGKILL, // the launcher's death takes the whole sandbox down
      started,
      ops: [],
      checkpoint: {
        inspect: (pid, inner) => checkApp(heldChain(pid, inner)),
        // the program, with the checkpoint in the app's branch
        place: (steps) => [...entry, ...layerProgram(plan.root, lookOnHost, { init: fds[0], images }, steps)],
      },
    });
  } finally {
    fds.forEach((fd) => libc.close(fd));
  }
}
