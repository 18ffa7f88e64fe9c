/**
 * The first layer without a runner: its whole setup compiled into one program for the spawn stub's
 * interpreter (src/sys/program.ts), which the launcher's clone child runs before it becomes the
 * native init. In bubblewrap's order: id maps, session, the new root (built on a tmpfs from the
 * plan, every destination reached through directories only, sources opened once and bound from that
 * descriptor), /sbxdir with the plans below, pivot, read-only remounts; then a clone whose child
 * starts the sublayer's runner while the parent execs the init that waits for it.
 *
 * What the planner left to run time is looked at here, on the host, as this layer sees it before its
 * pivot (the launcher's view): whether a source exists, is a directory or a symlink. A source that
 * changes in between makes its step fail (an absent one that appears is left out, as it would be
 * had it appeared a moment later).
 */
import type { FsOp, LayerPlan, Plan } from "../plan/types.ts";
import { allLayers, containsApp } from "../plan/tree.ts";
import { decimalOp, type Reg, reg, skipIfZeroOp, type SpawnOp } from "../sys/program.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_RECURSIVE,
  CLOSE_RANGE_CLOEXEC,
  FORWARDED_SIGNALS,
  MNT_DETACH,
  MOUNT_ATTR,
  MS,
  nr,
  O,
  SIG,
} from "../sys/consts.ts";
import { TIOCSCTTY } from "../sys/pty.ts";
import { BblError } from "../errors.ts";

/**
 * What is at a host path, not following a final symlink (its target, and whether it leads to a
 * directory), or null.
 */
export type Look = (path: string) => { kind: "dir" | "file" | "symlink"; target?: string; toDir?: boolean } | null;

/** Filesystem kinds this compiler covers; a first layer with another keeps its runner. */
const KINDS = new Set<FsOp["kind"]>(["tmpfs", "bind", "robind", "same", "rosame", "proc", "dev", "mask", "remount-ro"]);

/**
 * Why `layer` (the first layer) cannot run without a runner, or null when it can: its setup must be
 * one this compiler covers, and below it only layers with runners of their own (a helper-only layer
 * needs readiness waits, which it does not compile yet).
 */
export function nativeProblem(layer: LayerPlan): string | null {
  const kinds = layer.fs.map((f) => f.kind).filter((k) => !KINDS.has(k));
  if (kinds.length > 0) return `filesystem steps ${[...new Set(kinds)].join(", ")}`;
  if (!layer.rootMount || !layer.sbxdir) return "no new root";
  if (layer.helpers.length > 0 || layer.sublayers.some((s) => !s.runner)) return "helpers";
  if (layer.appimages?.length || layer.sbxBin || layer.hostname !== undefined) return "app root";
  if (layer.unshare.includes("net") || !layer.unshare.includes("pid")) return "not an init";
  // The init waits for the sublayer's process, so that must be the app's: the init of a nested pid
  // namespace that holds it (an app pid reported up a pipe would need a parser in the interpreter).
  const [sub] = layer.sublayers;
  if (layer.sublayers.length !== 1 || !sub.unshare.includes("pid") || !containsApp(sub)) return "sublayer";
  return null;
}

const bytes = (s: string) => new TextEncoder().encode(s + "\0");
const RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08;
const EEXIST = 17, ENOENT = 2;
const OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = O.CLOEXEC;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;

/**
 * Registers: the new root, the root after the pivot, the sublayer's pid, the mask file, the directory
 * a multi-step kind works in (its /dev, /proc or /sbxdir) and one below it, then a rotating set.
 */
const ROOT = reg(1), NEWROOT = reg(2), CHILD = reg(3), MASKFILE = reg(4), HOLD = reg(5), HOLD2 = reg(6);
const FIRST_SCRATCH = 8;

/** The descriptors the launcher passes: the sublayer's plan (a memfd) and the init's image. */
export interface NativeFds {
  subPlan: number;
  init: number;
}

class Compiler {
  ops: SpawnOp[] = [];
  private next = FIRST_SCRATCH;
  /** Destinations made read-only after the pivot. */
  readonlyLater: string[] = [];

  constructor(private layer: LayerPlan, private look: Look) {}

  private scratch(): Reg {
    const r = reg(this.next);
    this.next = this.next === 31 ? FIRST_SCRATCH : this.next + 1;
    return r;
  }

  step(op: SpawnOp): void {
    this.ops.push(op);
  }

  /** openat2(dir, name, flags, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH) into a new register. */
  private beneath(what: string, dir: Reg, name: string, flags: number, into?: Reg): Reg {
    const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), 0n, BigInt(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)]);
    const r = into ?? this.scratch();
    this.step({ what, nr: nr("openat2"), args: [dir, bytes(name), new Uint8Array(how.buffer), 24], result: r });
    return r;
  }

  /**
   * The directory holding `dest` in the root `from`, missing components created (0755) unless
   * `create` is false: [its register, dest's last name].
   */
  parent(from: Reg, dest: string, create: boolean): [Reg, string] {
    const parts = dest.split("/").filter(Boolean);
    const name = parts.pop() ?? "";
    let dir = from, at = "";
    for (const part of parts) {
      at += `/${part}`;
      const what = `${this.layer.name}: reaching ${at} for ${dest}`;
      if (create) this.mkdir(what, dir, part);
      dir = this.beneath(what, dir, part, O.PATH | O.DIRECTORY);
    }
    return [dir, name];
  }

  private mkdir(what: string, dir: Reg, name: string, mode = 0o755): void {
    this.step({ what, nr: nr("mkdirat"), args: [dir, bytes(name), mode], onFail: { errno: EEXIST, skip: 0 } });
  }

  /** dest itself (it must exist): its register (`into`, when given). */
  existing(from: Reg, dest: string, into?: Reg): Reg {
    if (dest === "/") return from;
    const [dir, name] = this.parent(from, dest, false);
    return this.beneath(`${this.layer.name}: reaching ${dest}`, dir, name, O.PATH, into);
  }

  /** A mount point at dest (a directory, or an empty file), created when missing: its register. */
  mountPoint(dest: string, asFile: boolean): Reg {
    if (dest === "/") return ROOT;
    const what = `${this.layer.name}: creating the mount point ${dest}`;
    const [dir, name] = this.parent(ROOT, dest, true);
    if (asFile) {
      const f = this.scratch();
      const flags = O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC;
      this.step({
        what,
        nr: nr("openat"),
        args: [dir, bytes(name), flags, 0o644],
        result: f,
        onFail: { errno: EEXIST, skip: 1 },
      });
      this.step({ what, nr: nr("close"), args: [f] });
    } else this.mkdir(what, dir, name);
    return this.beneath(what, dir, name, O.PATH | (asFile ? 0 : O.DIRECTORY));
  }

  /** "/proc/self/fd/N" for register r, written when this step runs. */
  private procPath(r: Reg): Uint8Array {
    const buf = bytes("/proc/self/fd/" + "\0".repeat(24));
    this.step(decimalOp(`${this.layer.name}: naming a descriptor`, r, buf, 14));
    return buf;
  }

  /** mount(2) of a new filesystem on the directory in register `at`. */
  mountFs(what: string, at: Reg, type: string, flags: number, data: string): void {
    const target = this.procPath(at);
    this.step({ what, nr: nr("mount"), args: [bytes(type), target, bytes(type), flags, bytes(data)] });
  }

  tmpfs(what: string, at: Reg, mode: number, size: string, flags: number = MS.NOSUID | MS.NODEV): void {
    this.mountFs(what, at, "tmpfs", flags, `mode=${mode.toString(8).padStart(4, "0")},size=${size}`);
  }

  /** Attaches the detached tree in `tree` at the mount point in `at`, `attrs` set on it first. */
  attach(what: string, tree: Reg, attrs: number, at: Reg, recursive: boolean): void {
    const attr = new BigUint64Array([BigInt(attrs), 0n, 0n, 0n]);
    const flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    this.step({ what, nr: nr("mount_setattr"), args: [tree, bytes(""), flags, new Uint8Array(attr.buffer), 32] });
    this.step({
      what,
      nr: nr("move_mount"),
      args: [tree, bytes(""), at, bytes(""), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH],
    });
  }

  /** A recursive copy of the tree at host path `src`, bound at dest from the descriptor opened once. */
  bind(src: string, dest: string, readonly: boolean, isDir: boolean): void {
    const what = `${this.layer.name}: mounting ${src} at ${dest}`;
    const s = this.scratch();
    this.step({ what, nr: nr("openat"), args: [AT_FDCWD, bytes(src), O.PATH | O.CLOEXEC], result: s });
    const at = this.mountPoint(dest, !isDir);
    const tree = this.scratch();
    this.step({
      what,
      nr: nr("open_tree"),
      args: [s, bytes(""), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH],
      result: tree,
    });
    const attrs = MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | (readonly ? MOUNT_ATTR.RDONLY : 0);
    this.attach(what, tree, attrs, at, true);
  }

  /** The empty mode-000 file masks are bound from (created once, in the layer's scratch directory). */
  private maskFile(): Reg {
    const path = `${this.layer.rootMount}.scratch/mask`;
    if (!this.madeMaskFile) {
      this.madeMaskFile = true;
      const what = `${this.layer.name}: creating the empty file masks use`;
      const flags = O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC;
      this.step({ what, nr: nr("openat"), args: [AT_FDCWD, bytes(path), flags, 0], result: MASKFILE });
    }
    return MASKFILE;
  }
  private madeMaskFile = false;

  /** Covers the file in register `at` with the empty mode-000 file, read-only. */
  maskWithEmptyFile(what: string, at: Reg): void {
    const file = this.maskFile();
    const tree = this.scratch();
    this.step({
      what,
      nr: nr("open_tree"),
      args: [file, bytes(""), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH],
      result: tree,
    });
    this.attach(what, tree, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV, at, false);
  }

  fsOp(op: FsOp): void {
    const L = this.layer.name;
    switch (op.kind) {
      case "tmpfs":
        return this.tmpfs(`${L}: mounting a tmpfs at ${op.dest}`, this.mountPoint(op.dest, false), op.mode, op.size);
      case "bind":
      case "robind":
      case "same":
      case "rosame": {
        const found = this.look(op.src);
        if (found === null) {
          if (op.optional) return;
          throw new BblError(`${L}: mounting ${op.src} at ${op.dest}: ENOENT (the source does not exist)`);
        }
        if (found.kind === "symlink" && (op.kind === "same" || op.kind === "rosame")) {
          const [dir, name] = this.parent(ROOT, op.dest, true);
          this.step({
            what: `${L}: creating the symlink ${op.dest}`,
            nr: nr("symlinkat"),
            args: [bytes(found.target!), dir, bytes(name)],
          });
          return;
        }
        const isDir = found.kind === "dir" || (found.kind === "symlink" && found.toDir === true);
        return this.bind(op.src, op.dest, op.kind === "robind" || op.kind === "rosame", isDir);
      }
      case "proc":
        return this.proc(op);
      case "dev":
        return this.dev(op);
      case "mask": {
        const found = this.look(op.src);
        if (found === null) {
          if (op.optional) return;
          throw new BblError(`${L}: masking ${op.dest}: ENOENT (nothing there to mask)`);
        }
        const at = this.existing(ROOT, op.dest); // a symlink there is refused
        if (found.kind === "dir") {
          this.tmpfs(`${L}: masking ${op.dest}`, at, 0o000, op.size);
          this.readonlyLater.push(op.dest);
        } else this.maskWithEmptyFile(`${L}: masking ${op.dest}`, at);
        return;
      }
      case "remount-ro":
        this.readonlyLater.push(op.dest);
        return;
      default:
        throw new Error(`${L}: no native step for ${op.kind}`); // nativeProblem() refused it
    }
  }

  private proc(op: Extract<FsOp, { kind: "proc" }>): void {
    const L = this.layer.name;
    const at = this.mountPoint(op.dest, false);
    this.mountFs(`${L}: mounting /proc at ${op.dest}`, at, "proc", MS.NOSUID | MS.NODEV | MS.NOEXEC, "");
    const proc = this.existing(ROOT, op.dest, HOLD); // the new proc itself
    if (this.layer.maxUserNamespaces !== undefined) {
      const what = `${L}: locking nested user namespaces (${op.dest}/sys/user/max_user_namespaces)`;
      const f = this.scratch();
      const text = new TextEncoder().encode(`${this.layer.maxUserNamespaces}\n`);
      this.step({
        what,
        nr: nr("openat"),
        args: [proc, bytes("sys/user/max_user_namespaces"), O.WRONLY | O.CLOEXEC],
        result: f,
      });
      this.step({ what, nr: nr("write"), args: [f, text, text.length] });
      this.step({ what, nr: nr("close"), args: [f] });
    }
    for (const sub of op.readonly) {
      const what = `${L}: protecting ${op.dest}/${sub}`;
      const tree = this.scratch(), target = this.scratch();
      this.step({
        what,
        nr: nr("open_tree"),
        args: [proc, bytes(sub), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE],
        result: tree,
        onFail: { errno: ENOENT, skip: 3 },
      });
      this.step({ what, nr: nr("openat"), args: [proc, bytes(sub), O.PATH | O.NOFOLLOW | O.CLOEXEC], result: target });
      this.attach(what, tree, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV, target, true);
    }
    for (const sub of op.masked) {
      const what = `${L}: masking ${op.dest}/${sub}`;
      const target = this.scratch();
      this.maskFile();
      this.step({
        what,
        nr: nr("openat"),
        args: [proc, bytes(sub), O.PATH | O.NOFOLLOW | O.CLOEXEC],
        result: target,
        onFail: { errno: ENOENT, skip: 3 },
      });
      this.maskWithEmptyFile(what, target);
    }
  }

  private dev(op: Extract<FsOp, { kind: "dev" }>): void {
    const L = this.layer.name;
    const DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty"];
    this.tmpfs(`${L}: mounting a tmpfs at ${op.dest}`, this.mountPoint(op.dest, false), 0o755, op.size, MS.NOSUID);
    const dev = this.existing(ROOT, op.dest, HOLD); // the new tmpfs itself: what follows is inside it
    const nodes: [string, string][] = [...DEV_NODES, ...(op.extra ?? [])].map((n) => [`${op.from}/${n}`, n]);
    if (op.console) nodes.push([op.console, "console"]);
    for (const [src, node] of nodes) {
      const what = `${L}: binding ${src} at ${op.dest}/${node}`;
      const [dir, name] = this.parent(dev, node, true);
      const f = this.scratch(), tree = this.scratch(), at = this.scratch();
      this.step({
        what,
        nr: nr("openat"),
        args: [dir, bytes(name), O.CREAT | O.EXCL | O.WRONLY | O.CLOEXEC, 0o644],
        result: f,
      });
      this.step({ what, nr: nr("close"), args: [f] });
      this.step({
        what,
        nr: nr("open_tree"),
        args: [AT_FDCWD, bytes(src), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC],
        result: tree,
      });
      this.step({ what, nr: nr("openat"), args: [dir, bytes(name), O.PATH | O.NOFOLLOW | O.CLOEXEC], result: at });
      // Device nodes must keep "dev" (unlike every other bind), so only nosuid and noexec are added.
      this.attach(what, tree, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOEXEC, at, false);
    }
    this.mkdir(`${L}: creating ${op.dest}/pts`, dev, "pts");
    const pts = this.beneath(`${L}: creating ${op.dest}/pts`, dev, "pts", O.PATH | O.DIRECTORY);
    this.mountFs(
      `${L}: mounting a new devpts at ${op.dest}/pts`,
      pts,
      "devpts",
      MS.NOSUID | MS.NOEXEC,
      "newinstance,ptmxmode=0666,mode=620",
    );
    this.mkdir(`${L}: creating ${op.dest}/shm`, dev, "shm");
    const shm = this.beneath(`${L}: creating ${op.dest}/shm`, dev, "shm", O.PATH | O.DIRECTORY);
    this.tmpfs(`${L}: mounting a tmpfs at ${op.dest}/shm`, shm, 0o1777, op.shmSize);
    const links: [string, string][] = [
      ["pts/ptmx", "ptmx"],
      ["/proc/self/fd", "fd"],
      ...["stdin", "stdout", "stderr"].map((n, i) => [`/proc/self/fd/${i}`, n] as [string, string]),
    ];
    for (const [target, name] of links) {
      this.step({
        what: `${L}: creating ${op.dest}/${name}`,
        nr: nr("symlinkat"),
        args: [bytes(target), dev, bytes(name)],
      });
    }
    // Owned by the layer's root, which is the app's user: read-only so the app cannot plant files here.
    this.readonlyLater.push(op.dest);
  }

  /** /sbxdir: apps/, plans/ (the plans of the layers below) and temp/ (a writable tmpfs), read-only. */
  sbxdir(sizes: { size: string; tempSize: string }): void {
    const L = this.layer.name;
    this.tmpfs(`${L}: mounting /sbxdir`, this.mountPoint("/sbxdir", false), 0o755, sizes.size);
    const sbx = this.existing(ROOT, "/sbxdir", HOLD);
    this.mkdir(`${L}: creating /sbxdir/apps`, sbx, "apps");
    this.mkdir(`${L}: creating /sbxdir/plans`, sbx, "plans");
    const plans = this.beneath(`${L}: creating /sbxdir/plans`, sbx, "plans", O.PATH | O.DIRECTORY, HOLD2);
    for (const l of this.layer.sublayers.flatMap(allLayers)) {
      const { sublayers: _, ...own } = l;
      const what = `${L}: writing /sbxdir/plans/${l.name}.json`;
      const text = new TextEncoder().encode(JSON.stringify(own, null, 2) + "\n");
      const f = this.scratch();
      const flags = O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC;
      this.step({ what, nr: nr("openat"), args: [plans, bytes(`${l.name}.json`), flags, 0o644], result: f });
      this.step({ what, nr: nr("write"), args: [f, text, text.length] });
      this.step({ what, nr: nr("close"), args: [f] });
    }
    this.mkdir(`${L}: creating /sbxdir/temp`, sbx, "temp");
    const temp = this.beneath(`${L}: creating /sbxdir/temp`, sbx, "temp", O.PATH | O.DIRECTORY);
    this.tmpfs(`${L}: mounting /sbxdir/temp`, temp, 0o1777, sizes.tempSize);
    this.readonlyLater.push("/sbxdir");
  }
}

/** The steps that set `layer` up and build its root, up to and including the read-only remounts. */
function setupSteps(c: Compiler, layer: LayerPlan): void {
  const L = layer.name;
  if (layer.session) c.step({ what: `${L}: starting a session`, nr: nr("setsid"), args: [] });
  if (layer.session === "terminal") {
    c.step({ what: `${L}: taking the sandbox's terminal`, nr: nr("ioctl"), args: [0, TIOCSCTTY, 0] });
  }
  const root = layer.rootMount!;
  c.step({
    what: `${L}: detaching from the parent's mount propagation`,
    nr: nr("mount"),
    args: [bytes(""), bytes("/"), bytes(""), MS.SLAVE | MS.REC, 0],
  });
  const [first, ...rest] = layer.fs;
  if (first?.kind !== "tmpfs" || first.dest !== "/") throw new BblError(`${L}: the first step is not a tmpfs at /`);
  const data = `mode=${first.mode.toString(8).padStart(4, "0")},size=${first.size}`;
  c.step({
    what: `${L}: mounting the new root`,
    nr: nr("mount"),
    args: [bytes("tmpfs"), bytes(root), bytes("tmpfs"), MS.NOSUID | MS.NODEV, bytes(data)],
  });
  c.step({
    what: `${L}: opening the new root`,
    nr: nr("openat"),
    args: [AT_FDCWD, bytes(root), O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC],
    result: ROOT,
  });
  c.step({
    what: `${L}: creating ${root}.scratch`,
    nr: nr("mkdirat"),
    args: [AT_FDCWD, bytes(`${root}.scratch`), 0o700],
  });
  rest.forEach((op) => c.fsOp(op));
  c.sbxdir(layer.sbxdir!);
  c.step({ what: `${L}: entering the new root`, nr: nr("fchdir"), args: [ROOT] });
  c.step({
    what: `${L}: switching to the new root (pivot_root)`,
    nr: nr("pivot_root"),
    args: [bytes("."), bytes(".")],
  });
  c.step({ what: `${L}: detaching the old root`, nr: nr("umount2"), args: [bytes("."), MNT_DETACH] });
  c.step({ what: `${L}: entering /`, nr: nr("chdir"), args: [bytes("/")] });
  c.step({
    what: `${L}: opening /`,
    nr: nr("openat"),
    args: [AT_FDCWD, bytes("/"), O.PATH | O.DIRECTORY | O.CLOEXEC],
    result: NEWROOT,
  });
  for (const dest of c.readonlyLater) {
    const what = `${L}: making ${dest} read-only`;
    const at = c.existing(NEWROOT, dest);
    const target = bytes("/proc/self/fd/" + "\0".repeat(24));
    c.step(decimalOp(what, at, target, 14));
    c.step({
      what,
      nr: nr("mount"),
      args: [bytes(""), target, bytes(""), MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV, 0],
    });
  }
}

/**
 * The program of the first layer's process: its setup, then the clone of its sublayer's runner
 * (`sub`: its steps before execve, from spawn_layer.ts), then the init. `look` answers for the host.
 */
export function nativeLayerProgram(
  plan: Plan,
  look: Look,
  fds: NativeFds,
  sub: { flags: number; ops: SpawnOp[]; path: string; argv: string[]; env: string[]; blocked: number[] },
): SpawnOp[] {
  const layer = plan.root;
  const c = new Compiler(layer, look);
  setupSteps(c, layer);
  const L = layer.name, S = layer.sublayers[0].name;
  const mask = (sigs: number[]) => new BigUint64Array([sigs.reduce((m, s) => m | (1n << BigInt(s - 1)), 0n)]);
  const childSteps: SpawnOp[] = [
    ...sub.ops,
    {
      what: `${S}: the runner's signal mask`,
      nr: nr("rt_sigprocmask"),
      args: [2, new Uint8Array(mask(sub.blocked).buffer), 0, 8],
    },
    {
      what: `starting the layer runner ${sub.path}`,
      nr: nr("execve"),
      args: [bytes(sub.path), { strings: sub.argv }, { strings: sub.env }],
    },
  ];
  const pid = bytes("\0".repeat(24));
  const forwarded = FORWARDED_SIGNALS.reduce((m, s) => m | (1n << BigInt(SIG[s])), 0n);
  const parentSteps: SpawnOp[] = [
    decimalOp(`${L}: naming ${S}'s process`, CHILD, pid, 0),
    { what: `${L}: closing descriptors`, nr: nr("close_range"), args: [3, 0xffffffff, CLOSE_RANGE_CLOEXEC] },
    {
      what: `${L}: starting the native init`,
      nr: nr("execveat"),
      args: [fds.init, bytes(""), { strings: ["bbl-init", pid, String(forwarded)] }, { strings: [] }, AT_EMPTY_PATH],
    },
  ];
  c.step({
    what: `${L}: starting ${S}`,
    nr: nr("clone"),
    args: [sub.flags | 17, /* SIGCHLD */ 0, 0, 0, 0],
    result: CHILD,
  });
  c.step(skipIfZeroOp(`${L}: ${S}'s branch`, CHILD, parentSteps.length));
  c.ops.push(...parentSteps, ...childSteps);
  return c.ops;
}
