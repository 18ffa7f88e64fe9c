/**
 * The launcher: the process the user runs. It owns the instance directory, starts the first layer in
 * its new namespaces, forwards signals to it, relays the sandbox's terminal, and exits with the app's
 * code (the first layer is the sandbox's init and exits with it).
 */
import type { Plan } from "./plan/types.ts";
import { SpawnError } from "./sys/spawn.ts";
import { libc } from "./sys/libc.ts";
import { FORWARDED_SIGNALS, SIG } from "./sys/consts.ts";
import { waitChild } from "./sys/process.ts";
import { copyWindowSize, foregroundGroup, isStopped, type Pty, pump, rawMode, takeTerminal } from "./sys/pty.ts";
import { Instance } from "./instance.ts";
import { startSandbox } from "./layer/start.ts";
import { allLayers } from "./plan/tree.ts";
import { BblError, EXIT } from "./errors.ts";
import { PATH_MEANING } from "./sys/errno.ts";

/** We may put the terminal in raw mode and read it: it is on stdin and we are its foreground job. */
function foreground(): boolean {
  return libc.isatty(0) === 1 && libc.tcgetpgrp(0) === libc.getpgrp();
}

/**
 * Relays between the user's terminal and the sandbox's pty: `fg` when the real one is in raw mode
 * (`restore` undoes it, also on every exit path through the returned stop), window size kept in step.
 * Output is pumped until the last holder of the pty's slave is gone.
 */
function relay(pty: Pty, fg: boolean, restore: () => void): { drained: Promise<void>; stop: () => void } {
  copyWindowSize(0, pty.master);
  const onWinch = () => copyWindowSize(0, pty.master);
  Deno.addSignalListener("SIGWINCH", onWinch);
  /**
   * Ctrl-Z stops the app inside (its terminal sends SIGTSTP, or the app stops itself, as editors do),
   * but your shell only sees bbl: so once the app's group has stopped, bbl gives your terminal back
   * and stops too. `fg` continues bbl, which takes the terminal again and continues the app.
   */
  const suspendWithApp = (): boolean => {
    const group = foregroundGroup(pty.master);
    if (group <= 0 || !isStopped(group)) return false;
    restore();
    libc.kill(0, SIG.SIGTSTP); // returns once continued
    restore = foreground() ? rawMode(0) : () => {};
    copyWindowSize(0, pty.master);
    libc.kill(-group, SIG.SIGCONT);
    return true;
  };
  const watch = (typed: Uint8Array) => {
    if (!typed.includes(SUSPEND_KEY)) return;
    let tries = 0;
    const timer = setInterval(() => (suspendWithApp() || ++tries >= 25) && clearInterval(timer), 20);
  };
  if (fg) pump(0, pty.master, watch); // ends with the process: a read of the user's terminal cannot be cancelled
  const drained = pump(pty.master, 1);
  return {
    drained,
    stop: () => {
      Deno.removeSignalListener("SIGWINCH", onWinch);
      restore();
    },
  };
}

/**
 * The app could not be executed (the sandbox is gone: its inits exited with it): said as a shell
 * would, with its exit code, 127 when it was not found, 126 otherwise.
 */
function appFailed(plan: Plan, e: SpawnError): number {
  const app = allLayers(plan.root).find((l) => l.app)!.app!;
  const cmd = app.argv[0];
  const [message, code] = e.code !== "ENOENT"
    ? [`${cmd}: cannot execute in the sandbox: ${e.code}`, EXIT.CANNOT_EXEC]
    : e.op!.app === "search"
    ? [`${cmd}: command not found in the sandbox (PATH=${app.env.PATH ?? ""})`, EXIT.NOT_FOUND]
    : [`${cmd}: cannot execute in the sandbox: ENOENT`, EXIT.NOT_FOUND];
  console.error(`bbl: ${message}`);
  return code;
}

/** Resolves after `ms`: AbortSignal's timer, since the first setTimeout loads Deno's Node timers (5 ms of a start). */
const after = (ms: number) => new Promise<void>((r) => AbortSignal.timeout(ms).addEventListener("abort", () => r()));

/** Ctrl-Z, the usual suspend character. */
const SUSPEND_KEY = 0x1a;

/** `env`: the user's environment, for reaching the X server when the plan asks for an X authority file. */
export async function launch(
  plan: Plan,
  uid: number,
  pty: Pty | null,
  env: Record<string, string> = {},
): Promise<number> {
  const roots = allLayers(plan.root).filter((l) => l.rootMount).map((l) => l.name);
  const instance = Instance.create(plan.instanceDir, uid, roots);
  const forwards: [Deno.Signal, () => void][] = [];
  // Set once the sandbox exists (a closure assigns it: TypeScript must not narrow it to null).
  let terminal = null as ReturnType<typeof relay> | null;
  const fg = pty !== null && foreground();
  let restore = () => {};
  let xhold: Deno.Conn | null = null;
  try {
    // Before the sandbox exists, so that what was typed so far moves into its pty unaltered.
    if (fg) restore = takeTerminal(0, pty!);
    // A generated cookie lives as long as the server does not reset: bbl stays its client until the end.
    if (plan.xauth) {
      // X11 only (like the diagnosis of a failed start below, loaded when needed: a module costs a start)
      const { holdXServer, writeXauth } = await import("./desktop/xauth.ts");
      if (plan.xauth.kind === "untrusted") xhold = await holdXServer(plan.xauth.display, env);
      writeXauth(plan.xauth, env);
    }
    let pid: number;
    // While the sandbox's first process builds it, before the app is let go at its checkpoint: from
    // then on, signals to bbl and the terminal reach it (the app may ask for them before spawning returns).
    const started = (first: number) => {
      if (pty) terminal = relay(pty, fg, restore);
      for (const name of FORWARDED_SIGNALS) {
        if (name === "SIGWINCH" && pty) continue; // the pty's size change signals the app itself
        const handler = () => libc.kill(first, SIG[name]);
        Deno.addSignalListener(name, handler);
        forwards.push([name, handler]);
      }
    };
    try {
      // SIGKILL of the launcher takes the whole sandbox down
      pid = startSandbox(plan, pty?.slave ?? -1, started);
    } catch (e) {
      // A step that failed: said in the user's terms where its kind has them.
      if (e instanceof SpawnError) {
        if (e.op?.app) return appFailed(plan, e);
        const ready = e.op?.readiness;
        if (ready) {
          throw new BblError(
            e.code === "ECHILD"
              ? `helper ${ready.helper} exited before it was ready`
              : `helper ${ready.helper} was not ready after ${ready.timeout} s (${e.code})`,
          );
        }
        if (PATH_MEANING[e.code]) throw new BblError(`${e.what}: ${PATH_MEANING[e.code]} (${e.code})`);
      }
      throw (await import("./userns.ts")).diagnoseUserns(e) ?? e;
    } finally {
      if (pty) libc.close(pty.slave); // the sandbox holds it now: when it is gone, the relay ends
    }
    const { code } = await waitChild(pid);
    // The sandbox is gone, so is every holder of the pty's slave: the relay drains and ends.
    if (terminal) await Promise.race([terminal.drained, after(2000)]);
    return code;
  } finally {
    for (const [name, handler] of forwards) Deno.removeSignalListener(name, handler);
    if (terminal) terminal.stop();
    else restore();
    if (pty) libc.close(pty.master);
    xhold?.close();
    instance.remove();
  }
}
