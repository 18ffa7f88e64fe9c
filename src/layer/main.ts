/**
 * The layer runner: what bbl re-executes as inside each layer's new namespaces (see src/selfexec.ts).
 * It reads its plan (its own layer and those below) from fd 3, sets the layer up (loopback, hostname,
 * new root), starts its helpers, then its sublayers (the app layer's process is the app itself).
 *
 * A layer with a pid namespace stays as that namespace's init: once it knows the app's pid (or that of
 * the init of a nested pid namespace that holds it), it execs bbl's native init (native_init.ts), which
 * reaps every orphan, forwards signals to that pid and exits with its status. Any other layer exits
 * once its sublayers run. Who the app is reaches the init through the report pipe (fd 4 below an
 * init): "app PID" from the layer that started it, or "fail CODE" from a layer that could not set up.
 *
 * Imports only local modules (no npm packages): it starts once per layer, so it must load fast.
 */
import type { LayerPlan, Plan } from "../plan/types.ts";
import { containsApp } from "../plan/tree.ts";
import { buildRoot } from "./fs.ts";
import type { AppImageFds } from "./appimage.ts";
import { startApp } from "./app.ts";
import { startHelper } from "./helpers.ts";
import { PLAN_FD, REPORT_FD, spawnLayer } from "./spawn_layer.ts";
import { loopbackUp } from "../sys/net.ts";
import { check, cstr, libc, sys } from "../sys/libc.ts";
import { nr, O } from "../sys/consts.ts";
import { TIOCSCTTY } from "../sys/pty.ts";
import { BblError, EXIT } from "../errors.ts";
import { SysError } from "../sys/errno.ts";
import { execNativeInit, hideCommandLine } from "./native_init.ts";
import { dropOwnPrivileges } from "../sys/privileges.ts";

function report(fd: number, line: string): void {
  const bytes = new TextEncoder().encode(line + "\n");
  if (fd >= 0) libc.write(fd, bytes, BigInt(bytes.length));
}

function pipe(): [number, number] {
  const fds = new Int32Array(2);
  check(libc.pipe2(new Uint8Array(fds.buffer), O.CLOEXEC), "creating the report pipe", "pipe2");
  return [fds[0], fds[1]];
}

/** Sets the layer up and starts everything below it; returns the pid to report as "the app", if any. */
async function startLayer(plan: Plan, reportTo: number): Promise<number | null> {
  const layer = plan.root;
  if (layer.session) sys(nr("setsid"), "starting a session");
  // Our stdin is the sandbox's terminal: our session owns it, and the app becomes a group in it.
  if (layer.session === "terminal") sys(nr("ioctl"), "taking the sandbox's terminal", 0, TIOCSCTTY, 0);
  if (layer.unshare.includes("net")) loopbackUp();
  if (layer.hostname !== undefined) {
    const name = cstr(layer.hostname);
    check(libc.sethostname(name, BigInt(name.length - 1)), `setting the hostname to ${layer.hostname}`, "sethostname");
  }
  const appImages = layer.rootMount ? buildRoot(layer) : new Map<string, AppImageFds>();
  for (const h of layer.helpers) await startHelper(h, layer, false);
  // An init drops its privileges (on this thread, which /proc/PID/status shows) once the layer holding
  // the app exists and before it runs, so the app never sees its pid 1 privileged. Not before: the
  // kernel lets a new user namespace map root only if its creator could set file capabilities.
  const isInit = layer.unshare.includes("pid");
  const dropFor = (sub: LayerPlan) =>
    isInit && (sub.app !== undefined || containsApp(sub)) ? dropOwnPrivileges : undefined;
  let appPid: number | null = null;
  for (const sub of layer.sublayers) {
    if (sub.app) {
      // Only the daemons may hold the FUSE connections: if one dies, its mount fails instead of hanging.
      for (const { fuse, image } of appImages.values()) [fuse, image].forEach((fd) => libc.close(fd));
      appImages.clear();
      appPid = startApp(sub, dropFor(sub));
    } else if (!sub.runner) {
      for (const h of sub.helpers) {
        const fds = h.appimage ? appImages.get(h.appimage) : undefined;
        await startHelper(h, sub, true, fds ? [fds.fuse, fds.image] : []);
      }
    } else {
      const pid = spawnLayer({ ...plan, root: sub }, reportTo, 0, -1, dropFor(sub));
      // A nested pid namespace's init stands for the app it holds: it forwards and returns its status.
      if (sub.unshare.includes("pid") && containsApp(sub)) appPid = pid;
    }
  }
  return appPid;
}

/**
 * Until the layers below have started the app: its pid from the report pipe ("app PID"), or the exit
 * code when a layer failed ("fail CODE", or the pipe's end without a report: that layer said why).
 */
async function appFromReports(reportR: number): Promise<{ app: number } | { code: number }> {
  const buf = new Uint8Array(256);
  let text = "";
  for (;;) {
    const n = Number(await libc.read_async(reportR, buf, BigInt(buf.length)));
    if (n <= 0) return { code: EXIT.BBL };
    text += new TextDecoder().decode(buf.subarray(0, n));
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n")) {
      const [what, value] = text.slice(0, i).split(" ");
      text = text.slice(i + 1);
      if (what === "app") return { app: Number(value) };
      if (what === "fail") return { code: Number(value) };
    }
  }
}

async function main(): Promise<number> {
  const plan: Plan = JSON.parse(Deno.readTextFileSync(`/proc/self/fd/${PLAN_FD}`));
  libc.close(PLAN_FD);
  layerName = plan.root.name;
  const isInit = plan.root.unshare.includes("pid");
  if (isInit) hideCommandLine();
  // Below an init the report pipe is fd 4; an init opens its own for the layers below it. (Without a
  // report pipe, fd 4 is one of the runtime's own descriptors and must be left alone.)
  const inherited = plan.reporting ? REPORT_FD : -1;
  let reportTo = isInit ? -1 : inherited;
  let reportR = -1;
  try {
    if (isInit) {
      if (inherited >= 0) libc.close(inherited); // this layer reports through its own exit status
      [reportR, reportTo] = pipe();
    }
    const app = await startLayer(plan, reportTo);
    if (!isInit) {
      if (app !== null) report(reportTo, `app ${app}`);
      return 0;
    }
    libc.close(reportTo); // the layers below hold the only write ends now: EOF when they are all done
    const started = app !== null ? { app } : await appFromReports(reportR);
    if ("code" in started) return started.code;
    // Forwarded signals that came until now are pending (this runner started with them blocked):
    // the native init reads them first.
    return execNativeInit(started.app); // reaps, forwards and exits with its status from here on
  } catch (e) {
    const code = e instanceof BblError ? e.exit : EXIT.BBL;
    if (!isInit) report(inherited, `fail ${code}`);
    throw e;
  }
}

/** This runner's layer, for its messages. */
let layerName = "";

main().then((code) => Deno.exit(code), (e) => {
  const msg = e instanceof BblError || e instanceof SysError
    ? e.message
    : `internal error: ${(e as Error)?.stack ?? e}`;
  const exit = e instanceof BblError ? e.exit : EXIT.BBL;
  // A setup step that failed names its layer ("layer3: mounting ..."); the app's own failures to be
  // found or executed (126, 127) name the command.
  console.error(`bbl: ${exit === EXIT.BBL && layerName ? `${layerName}: ` : ""}${msg}`);
  Deno.exit(exit);
});
