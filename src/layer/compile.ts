/**
 * The sandbox's processes as one program for the spawn stub's interpreter, which the launcher runs
 * in its clone child: each layer's own setup (setup.ts), its helpers, each waited for, then a clone
 * for the one process below it (the next layer, or the app) while it execs the native init that
 * waits for it, forwards signals to it and exits with its status. No Deno runtime below the launcher.
 */
import type { Helper, LayerPlan } from "../plan/types.ts";
import {
  decimalOp,
  PAUSE_MS,
  type Reg,
  reg,
  skipIfZeroOp,
  skipOp,
  type SpawnOp,
  storeOp,
  type StringList,
} from "../sys/program.ts";
import { closeFdsOp, noNewPrivsOp } from "../sys/privileges.ts";
import { seccompOp } from "../seccomp/apply.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  CLOSE_RANGE_CLOEXEC,
  FORWARDED_SIGNALS,
  nr,
  O,
  SIG,
} from "../sys/consts.ts";
import { TIOCSPGRP } from "../sys/pty.ts";
import { BblError } from "../errors.ts";
import { cstr } from "../sys/libc.ts";
import { EACCES, ENOENT, ENOTDIR } from "../sys/errno.ts";
import { appSteps } from "./app.ts";
import { cloneFlags, entrySteps, layerPrivilegeOps } from "./entry.ts";
import { CHILD, FUSE_REGS, HELPER, LayerSetup, type Look, lookThrough, type NativeFds } from "./setup.ts";

/**
 * Why `layer` (not the app's, not helpers only) cannot be set up by a compiled program, or null: the
 * shapes this compiler does not take, which the planner refuses.
 */
export function setupProblem(layer: LayerPlan): string | null {
  if (layer.rootMount && !layer.sbxdir) return "a root without /sbxdir";
  const fuse = (layer.appimages ?? []).filter((a) => !a.extracted);
  if (fuse.length > FUSE_REGS.length) return `more than ${FUSE_REGS.length} AppImages`;
  if (fuse.length > 0 && layer.uidMap?.length !== 1) return "AppImages without a user namespace of this layer's";
  const hv = layer.hostView ?? null;
  // Outside the host view is what this sandbox made (a helper's socket in a parent's root): bound as
  // found at run time; nothing else can be looked at beforehand.
  const outside = layer.fs.filter((f) =>
    "src" in f && f.kind !== "bind" && f.kind !== "robind" &&
    (hv === null || !(f.src === hv || f.src.startsWith(`${hv}/`)))
  );
  if (hv !== "" && outside.length > 0) {
    return `sources outside the host's view: ${outside.map((f) => `${f.kind} ${f.dest}`).join(", ")}`;
  }
  // The init this layer's process becomes waits for the one process below it, so there is one.
  if (layer.sublayers.filter((s) => !s.helperOnly).length !== 1) {
    return "it starts helpers only, or more than one layer: it must start exactly one besides its helper layers";
  }
  return null;
}

/**
 * Adds to `c` the start of helper `h` of layer `hl` (`direct`: into that layer's namespaces, ids and
 * privilege drops, as its parent) and the wait until it is ready: a path that exists, or a socket
 * that accepts, tried every PAUSE_MS until its timeout while it lives. An AppImage's daemon gets its
 * FUSE connection on fd 3 and the image on fd 4; this layer then holds neither, so a daemon that
 * dies fails the mount instead of hanging it.
 */
export function helperSteps(c: LayerSetup, h: Helper, hl: LayerPlan, direct: boolean): void {
  const L = c.L, cmd = h.run[0];
  const pass: (Reg | number)[] = [];
  const fuseAt = h.appimage ? c.fuse.indexOf(h.appimage) : -1;
  if (h.appimage) {
    if (fuseAt < 0) throw new Error(`${L}: the AppImage ${h.appimage} is not mounted here`);
    pass.push(FUSE_REGS[fuseAt], c.fds.images[h.appimage]);
  }
  const policy = hl.helperSeccomp;
  const env = { strings: Object.entries(hl.env).map(([k, v]) => `${k}=${v}`) };
  const child: SpawnOp[] = [
    ...(direct ? entrySteps(hl, -1).filter((op) => op.nr !== nr("close_range")) : []),
    ...pass.map((fd, i) => ({
      what: `starting helper ${cmd}: passing it a descriptor`,
      nr: nr("dup3"),
      args: [fd, 3 + i, 0],
    })),
    closeFdsOp(3 + pass.length),
    ...(direct ? layerPrivilegeOps(hl) : []),
    ...(policy ? [noNewPrivsOp(), seccompOp(policy)] : []), // last: it may forbid what the steps above use
    { what: `starting helper ${cmd}: its signal mask`, nr: nr("rt_sigprocmask"), args: [2, signalMask([]), 0, 8] },
    ...execSteps(`helper ${cmd}`, h.run, hl.env.PATH ?? "", null, env),
  ];
  const timeout = h.timeout ?? 10;
  const waiting = { helper: cmd, timeout };
  const parent: SpawnOp[] = [];
  if (fuseAt >= 0) {
    parent.push({
      what: `${L}: handing over the FUSE connection of ${h.appimage}`,
      nr: nr("close"),
      args: [FUSE_REGS[fuseAt]],
    });
  }
  const tries = { tries: Math.ceil((timeout * 1000) / PAUSE_MS), whileAlive: HELPER };
  if (h.wait && "path" in h.wait) {
    parent.push({
      what: `${L}: waiting for helper ${cmd}`,
      nr: nr("newfstatat"),
      args: [AT_FDCWD, cstr(h.wait.path), new Uint8Array(256), AT_SYMLINK_NOFOLLOW],
      onFail: tries,
      readiness: waiting,
    });
  } else if (h.wait) {
    const addr = new Uint8Array(110); // struct sockaddr_un
    new DataView(addr.buffer).setUint16(0, 1, /* AF_UNIX */ true);
    const path = new TextEncoder().encode(h.wait.socket);
    if (path.length >= 108) throw new BblError(`${L}: helper ${cmd}: socket path too long: ${h.wait.socket}`);
    addr.set(path, 2);
    const sock = c.scratch();
    parent.push(
      { what: `${L}: waiting for helper ${cmd}`, nr: nr("socket"), args: [1, 1 | O.CLOEXEC, 0], result: sock },
      {
        what: `${L}: waiting for helper ${cmd}`,
        nr: nr("connect"),
        args: [sock, addr, addr.length],
        onFail: tries,
        readiness: waiting,
      },
      { what: `${L}: waiting for helper ${cmd}`, nr: nr("close"), args: [sock] },
    );
  }
  c.step({
    what: `${L}: starting helper ${cmd}`,
    nr: nr("clone"),
    args: [(direct ? cloneFlags(hl.unshare) : 0) | SIG.SIGCHLD, 0, 0, 0, 0],
    result: HELPER,
  });
  c.step(skipIfZeroOp(`${L}: helper ${cmd}'s branch`, HELPER, parent.length + 1));
  c.ops.push(...parent, skipOp(`${L}: helper ${cmd} is ready`, child.length), ...child);
}

const signalMask = (sigs: number[]) =>
  new Uint8Array(new BigUint64Array([sigs.reduce((m, s) => m | (1n << BigInt(s - 1)), 0n)]).buffer);

/**
 * execve of `argv` (a helper's, or with `helper` null the app's): `path` when bbl found it, a path
 * with a slash as given, else each directory of `PATH` in turn, as a shell does (a directory that
 * does not have it, or not executable, is passed over).
 */
function execSteps(
  helper: string | null,
  argv: string[],
  PATH: string,
  path: string | null,
  env: StringList,
): SpawnOp[] {
  const cmd = argv[0];
  const direct = path ?? (cmd.includes("/") ? cmd : null);
  const tries = direct !== null ? [direct] : PATH.split(":").map((d) => `${d || "."}/${cmd}`);
  return tries.map((p, i) => ({
    what: helper ? `starting ${helper}: executing ${p}` : `executing ${p}`,
    nr: nr("execve"),
    args: [cstr(p), { strings: argv }, env],
    ...(helper ? {} : { app: direct !== null ? "path" as const : "search" as const }),
    ...(i < tries.length - 1 ? { onFail: { errno: [ENOENT, EACCES, ENOTDIR], skip: 0 } } : {}),
  }));
}

/**
 * The app's process: its steps, the working directory, the terminal, `checkpoint` (where bbl checks
 * it from outside before it runs), then its execve (tried along PATH).
 */
function appProgram(layer: LayerPlan, checkpoint: SpawnOp[]): SpawnOp[] {
  const app = layer.app!;
  const what = `starting ${app.argv[0]}`;
  // The first that can be entered of its directory, its home, /: tried last to first, each later
  // success replacing an earlier one.
  const cd = (dir: string, onFail: "ignore" | "report"): SpawnOp => ({
    what: `${what}: entering ${dir}`,
    nr: nr("chdir"),
    args: [cstr(dir)],
    onFail,
  });
  const middle: SpawnOp[] = [cd("/", "report"), cd(app.home, "ignore"), cd(app.cwd, "ignore")];
  if (app.terminal) {
    // The foreground group of the sandbox's terminal: this one (signals stay blocked until its execve).
    const self = reg(7), pgid = new Uint8Array(8); // any register: the app's process waits for no helper
    middle.push(
      { what: `${what}: giving it the terminal`, nr: nr("getpid"), args: [], result: self },
      storeOp(`${what}: giving it the terminal`, self, pgid),
      { what: `${what}: giving it the terminal`, nr: nr("ioctl"), args: [0, TIOCSPGRP, pgid] },
    );
  }
  const env = { strings: Object.entries(app.env).map(([k, v]) => `${k}=${v}`) };
  const execs = execSteps(null, app.argv, app.env.PATH ?? "", app.path ?? null, env);
  return [
    ...appSteps(layer, middle),
    ...checkpoint,
    { what: `${what}: its signal mask`, nr: nr("rt_sigprocmask"), args: [2, signalMask([]), 0, 8] },
    ...execs,
  ];
}

/**
 * The program of a compiled layer's process, after its entry steps: its setup, then a clone whose
 * child is the one process below it (compiled the same way, or the app) while this one execs the
 * init that waits for it. `checkpoint`: the steps the app takes last before its execve.
 */
export function layerProgram(layer: LayerPlan, look: Look, fds: NativeFds, checkpoint: SpawnOp[] = []): SpawnOp[] {
  const c = new LayerSetup(layer, lookThrough(layer.hostView ?? null, look), fds);
  c.setup();
  // Helpers before what runs below (the app needs them ready), each waited for: the layer's own,
  // then those of its helper layers, entering those layers' namespaces.
  for (const h of layer.helpers) helperSteps(c, h, layer, false);
  for (const hl of layer.sublayers.filter((s) => s.helperOnly)) for (const h of hl.helpers) helperSteps(c, h, hl, true);
  const sub = layer.sublayers.find((s) => !s.helperOnly)!;
  const L = layer.name, S = sub.name;
  const child = sub.app
    ? appProgram(sub, checkpoint)
    : [...entrySteps(sub, -1), ...layerPrivilegeOps(sub), ...layerProgram(sub, look, fds, checkpoint)];
  const pid = cstr("\0".repeat(24));
  const forwarded = FORWARDED_SIGNALS.reduce((m, s) => m | (1n << BigInt(SIG[s])), 0n);
  const parent: SpawnOp[] = [
    decimalOp(`${L}: naming ${S}'s process`, CHILD, pid, 0),
    { what: `${L}: closing descriptors`, nr: nr("close_range"), args: [3, 0xffffffff, CLOSE_RANGE_CLOEXEC] },
    {
      what: `${L}: starting the native init`,
      nr: nr("execveat"),
      args: [fds.init, cstr(""), { strings: ["bbl-init", pid, String(forwarded)] }, { strings: [] }, AT_EMPTY_PATH],
    },
  ];
  c.step({
    what: `${L}: starting ${S}`,
    nr: nr("clone"),
    args: [cloneFlags(sub.unshare) | SIG.SIGCHLD, 0, 0, 0, 0],
    result: CHILD,
  });
  c.step(skipIfZeroOp(`${L}: ${S}'s branch`, CHILD, parent.length));
  return [...c.ops, ...parent, ...child];
}
