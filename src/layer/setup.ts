/**
 * A layer's own setup as steps for the spawn stub's interpreter (src/sys/program.ts), in bubblewrap's
 * order: session, loopback, hostname, the new root (built on a tmpfs from the plan, every destination
 * reached through directories only, sources opened once and bound from that descriptor), /sbxdir with
 * the plans below, pivot, read-only remounts. compile.ts adds its helpers and what runs below it.
 *
 * What the planner left to run time is looked at here, on the host (`Look`): whether a source exists,
 * is a directory or a symlink. The launcher compiles, seeing the host as the first layer does before
 * its pivot, and a lower layer through its host view (/zrootfs), where only masks differ: they keep
 * the kind of what they mask. A source that changes in between makes its step fail (an absent one
 * that appears is left out, as it would be had it appeared a moment after the sandbox started).
 */
import type { FsOp, LayerPlan } from "../plan/types.ts";
import { allLayers } from "../plan/tree.ts";
import { decimalOp, type Reg, reg, skipOp, type SpawnOp } from "../sys/program.ts";
import { runScript } from "./appimage.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_RECURSIVE,
  IFF_UP,
  MNT_DETACH,
  MOUNT_ATTR,
  MS,
  nr,
  O,
  SIOCSIFFLAGS,
} from "../sys/consts.ts";
import { TIOCSCTTY } from "../sys/pty.ts";
import { BblError } from "../errors.ts";
import { cstr } from "../sys/libc.ts";
import { EEXIST, ENOENT, ENOTDIR } from "../sys/errno.ts";

/**
 * What is at a host path, not following a final symlink (its target, and whether it leads to a
 * directory), null when nothing is, undefined for a path outside the host view (not looked at).
 */
export type Look = (
  path: string,
) => { kind: "dir" | "file" | "symlink"; target?: string; toDir?: boolean } | null | undefined;

/** The descriptors the launcher passes down. */
export interface NativeFds {
  /** The native init's ELF image (a memfd). */
  init: number;
  /** The AppImages mounted with FUSE, opened read-only and checked by the launcher, by name. */
  images: Record<string, number>;
}

const RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08;
const OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = O.CLOEXEC;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const CREATE = O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC;

/**
 * Registers: the new root, the root after the pivot, the process below, the mask file, the directory
 * a multi-step kind works in (its /dev, /proc or /sbxdir) and one below it, then a rotating set.
 */
const ROOT = reg(1), NEWROOT = reg(2), MASKFILE = reg(4), HOLD = reg(5), HOLD2 = reg(6);
/** The process below (compile.ts), and the helper being waited for. */
export const CHILD = reg(3), HELPER = reg(7);
const FIRST_SCRATCH = 8, LAST_SCRATCH = 23;
/** The FUSE connections of the AppImages a layer mounts, until their daemons have them. */
export const FUSE_REGS = [24, 25, 26, 27, 28, 29, 30, 31].map(reg);

/** Overlay options are comma- and colon-separated; such characters in paths would change their meaning. */
function overlayPath(p: string): string {
  if (/[,:\\]/.test(p)) throw new BblError(`overlay path ${p}: ',', ':' and '\\' are not supported`);
  return p;
}

/** The steps of one layer's own setup, as they are added (`ops`). */
export class LayerSetup {
  ops: SpawnOp[] = [];
  private next = FIRST_SCRATCH;
  /** Destinations made read-only after the pivot. */
  private readonlyLater: string[] = [];
  private madeMaskFile = false;
  readonly L: string;
  private readonly scratchDir: string;

  constructor(private layer: LayerPlan, private look: Look, readonly fds: NativeFds) {
    this.L = layer.name;
    this.scratchDir = `${layer.rootMount}.scratch`;
  }

  scratch(): Reg {
    const r = reg(this.next);
    this.next = this.next === LAST_SCRATCH ? FIRST_SCRATCH : this.next + 1;
    return r;
  }

  step(op: SpawnOp): void {
    this.ops.push(op);
  }

  /** openat2(dir, name, flags, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH) into a register. */
  private beneath(what: string, dir: Reg, name: string, flags: number, into?: Reg): Reg {
    const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), 0n, BigInt(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)]);
    const r = into ?? this.scratch();
    this.step({ what, nr: nr("openat2"), args: [dir, cstr(name), new Uint8Array(how.buffer), 24], result: r });
    return r;
  }

  /**
   * The directory holding `dest` in the root `from`, missing components created (0755) unless
   * `create` is false: [its register, dest's last name].
   */
  private parent(from: Reg, dest: string, create: boolean): [Reg, string] {
    const parts = dest.split("/").filter(Boolean);
    const name = parts.pop() ?? "";
    let dir = from, at = "";
    for (const part of parts) {
      at += `/${part}`;
      const what = `${this.L}: reaching ${at} for ${dest}`;
      dir = create ? this.subdir(what, dir, part) : this.beneath(what, dir, part, O.PATH | O.DIRECTORY);
    }
    return [dir, name];
  }

  /** mkdirat 0755, one already there accepted. */
  private mkdir(what: string, dir: Reg, name: string): void {
    this.step({ what, nr: nr("mkdirat"), args: [dir, cstr(name), 0o755], onFail: { errno: EEXIST, skip: 0 } });
  }
  /** The directory `name` in `dir`, created (0755) when missing, reached beneath it: its register. */
  private subdir(what: string, dir: Reg, name: string, into?: Reg): Reg {
    this.mkdir(what, dir, name);
    return this.beneath(what, dir, name, O.PATH | O.DIRECTORY, into);
  }

  /** dest itself (it must exist; never created): its register (`into`, when given). */
  existing(from: Reg, dest: string, into?: Reg): Reg {
    if (dest === "/") return from;
    const [dir, name] = this.parent(from, dest, false);
    return this.beneath(`${this.L}: reaching ${dest}`, dir, name, O.PATH, into);
  }

  /** A mount point at dest (a directory, or an empty file), created when missing: its register. */
  private mountPoint(dest: string, asFile: boolean): Reg {
    if (dest === "/") return ROOT;
    const what = `${this.L}: creating the mount point ${dest}`;
    const [dir, name] = this.parent(ROOT, dest, true);
    if (asFile) {
      const f = this.scratch();
      this.step({
        what,
        nr: nr("openat"),
        args: [dir, cstr(name), CREATE, 0o644],
        result: f,
        onFail: { errno: EEXIST, skip: 1 },
      });
      this.step({ what, nr: nr("close"), args: [f] });
    } else this.mkdir(what, dir, name);
    return this.beneath(what, dir, name, O.PATH | (asFile ? 0 : O.DIRECTORY));
  }

  /** "/proc/self/fd/N" for register r, written when this step runs. */
  private procPath(r: Reg): Uint8Array {
    const buf = cstr("/proc/self/fd/" + "\0".repeat(24));
    this.step(decimalOp(`${this.L}: naming a descriptor`, r, buf, 14));
    return buf;
  }

  /** mount(2) of a new filesystem on what register `at` holds. */
  private mountFs(what: string, at: Reg, type: string, flags: number, data: string): void {
    const target = this.procPath(at);
    this.step({ what, nr: nr("mount"), args: [cstr(type), target, cstr(type), flags, cstr(data)] });
  }

  private tmpfs(what: string, at: Reg, mode: number, size: string, flags: number = MS.NOSUID | MS.NODEV): void {
    this.mountFs(what, at, "tmpfs", flags, `mode=${mode.toString(8).padStart(4, "0")},size=${size}`);
  }

  /** Attaches the detached tree in `tree` at what register `at` holds, `attrs` set on it first. */
  private attach(what: string, tree: Reg, attrs: number, at: Reg, recursive: boolean): void {
    const attr = new BigUint64Array([BigInt(attrs), 0n, 0n, 0n]);
    const flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    this.step({ what, nr: nr("mount_setattr"), args: [tree, cstr(""), flags, new Uint8Array(attr.buffer), 32] });
    this.step({
      what,
      nr: nr("move_mount"),
      args: [tree, cstr(""), at, cstr(""), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH],
    });
  }

  /** A detached copy of the file or tree at `path` (relative to `dir`), into a register. */
  private tree(what: string, dir: Reg | number, path: string, recursive: boolean): Reg {
    const tree = this.scratch();
    const flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (path ? 0 : AT_EMPTY_PATH);
    this.step({ what, nr: nr("open_tree"), args: [dir, cstr(path), flags], result: tree });
    return tree;
  }

  /** A recursive copy of the tree at host path `src`, bound at dest from the descriptor opened once. */
  private bind(src: string, dest: string, readonly: boolean, isDir: boolean): void {
    const what = `${this.L}: mounting ${src} at ${dest}`;
    const s = this.scratch();
    this.step({ what, nr: nr("openat"), args: [AT_FDCWD, cstr(src), O.PATH | O.CLOEXEC], result: s });
    const at = this.mountPoint(dest, !isDir);
    const tree = this.tree(what, s, "", true);
    this.attach(what, tree, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | (readonly ? MOUNT_ATTR.RDONLY : 0), at, true);
  }

  /**
   * A bind of a source made by this sandbox (not looked at beforehand): its descriptor tells whether
   * it is a directory (fchdir succeeds; the working directory is set again at the pivot), and the
   * mount point is made to match.
   */
  private bindFound(src: string, dest: string, readonly: boolean): void {
    const what = `${this.L}: mounting ${src} at ${dest}`;
    const s = this.scratch();
    this.step({ what, nr: nr("openat"), args: [AT_FDCWD, cstr(src), O.PATH | O.CLOEXEC], result: s });
    const attrs = MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | (readonly ? MOUNT_ATTR.RDONLY : 0);
    const branch = (asFile: boolean) =>
      this.capture(() => {
        const at = this.mountPoint(dest, asFile);
        this.attach(what, this.tree(what, s, "", true), attrs, at, true);
      });
    const dir = branch(false), file = branch(true);
    this.step({ what, nr: nr("fchdir"), args: [s], onFail: { errno: ENOTDIR, skip: dir.length + 1 } });
    this.ops.push(...dir, skipOp(`${what} (a directory)`, file.length), ...file);
  }

  /** The empty mode-000 file masks are bound from (created once, in the layer's scratch directory). */
  private maskFile(): Reg {
    if (!this.madeMaskFile) {
      this.madeMaskFile = true;
      const what = `${this.L}: creating the empty file masks use`;
      this.step({
        what,
        nr: nr("openat"),
        args: [AT_FDCWD, cstr(`${this.scratchDir}/mask`), CREATE, 0],
        result: MASKFILE,
      });
    }
    return MASKFILE;
  }

  /**
   * Covers the file register `at` holds with a read-only bind of the file at `path` relative to
   * `from` ("" for `from` itself; the mask file for a mask): 3 steps.
   */
  private coverReadonly(what: string, from: Reg | number, path: string, at: Reg): void {
    const tree = this.tree(what, from, path, false);
    this.attach(what, tree, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV, at, false);
  }

  /** The steps `fn` adds, taken out of `ops` (a branch, placed by the caller). */
  private capture(fn: () => void): SpawnOp[] {
    const mark = this.ops.length;
    fn();
    return this.ops.splice(mark);
  }

  /** A file with exactly `content` and `mode`, created by `create` (opening it into `f`). */
  private writeFile(what: string, f: Reg, content: string, mode: number): void {
    const text = new TextEncoder().encode(content);
    this.step({ what, nr: nr("write"), args: [f, text, text.length] });
    this.step({ what, nr: nr("fchmod"), args: [f, mode] }); // the umask cleared bits of it
    this.step({ what, nr: nr("close"), args: [f] });
  }

  fsOp(op: FsOp, index: number): void {
    const L = this.L;
    switch (op.kind) {
      case "tmpfs":
      case "rotmpfs":
        this.tmpfs(`${L}: mounting a tmpfs at ${op.dest}`, this.mountPoint(op.dest, false), op.mode, op.size);
        if (op.kind === "rotmpfs") this.readonlyLater.push(op.dest);
        return;
      case "bind":
      case "robind":
      case "same":
      case "rosame": {
        const found = this.look(op.src);
        // only bind and robind (setupProblem refused the others)
        if (found === undefined) return this.bindFound(op.src, op.dest, op.kind === "robind" || op.kind === "rosame");
        if (found === null) {
          if (op.optional) return;
          throw new BblError(`${L}: mounting ${op.src} at ${op.dest}: ENOENT (the source does not exist)`);
        }
        if (found.kind === "symlink" && (op.kind === "same" || op.kind === "rosame")) {
          return this.symlink(op.dest, found.target!);
        }
        const isDir = found.kind === "dir" || (found.kind === "symlink" && found.toDir === true);
        return this.bind(op.src, op.dest, op.kind === "robind" || op.kind === "rosame", isDir);
      }
      case "dir": {
        const at = this.mountPoint(op.dest, false);
        const path = this.procPath(at);
        this.step({
          what: `${L}: setting the mode of ${op.dest}`,
          nr: nr("fchmodat"),
          args: [AT_FDCWD, path, op.mode, 0],
        });
        return;
      }
      case "file":
      case "rofile":
        return this.file(op, index);
      case "symlink":
        return this.symlink(op.dest, op.target);
      case "devpts":
        return this.mountFs(
          `${L}: mounting a devpts at ${op.dest}`,
          this.mountPoint(op.dest, false),
          "devpts",
          MS.NOSUID | MS.NOEXEC,
          "newinstance,ptmxmode=0666,mode=620",
        );
      case "mqueue":
        return this.mountFs(
          `${L}: mounting mqueue at ${op.dest}`,
          this.mountPoint(op.dest, false),
          "mqueue",
          MS.NOSUID | MS.NODEV | MS.NOEXEC,
          "",
        );
      case "proc":
        return this.proc(op);
      case "dev":
        return this.dev(op);
      case "mask": {
        const found = this.look(op.src);
        if (found === undefined) throw new Error(`${L}: a mask outside the host view`); // setupProblem refused it
        if (found === null) {
          if (op.optional) return;
          throw new BblError(`${L}: masking ${op.dest}: ENOENT (nothing there to mask)`);
        }
        const at = this.existing(ROOT, op.dest); // a symlink there is refused
        if (found.kind === "dir") {
          this.tmpfs(`${L}: masking ${op.dest}`, at, 0o000, op.size);
          this.readonlyLater.push(op.dest);
        } else {
          this.maskFile();
          this.coverReadonly(`${L}: masking ${op.dest}`, MASKFILE, "", at);
        }
        return;
      }
      case "overlay": {
        const data = `lowerdir=${op.lower.map(overlayPath).join(":")},upperdir=${overlayPath(op.upper)},workdir=${
          overlayPath(op.work)
        },userxattr`;
        const at = this.mountPoint(op.dest, false);
        return this.mountFs(`${L}: mounting an overlay at ${op.dest}`, at, "overlay", MS.NOSUID | MS.NODEV, data);
      }
      case "tmp-overlay": {
        // The upper layer lives on a tmpfs of this mount namespace, on a scratch directory of the instance.
        const dir = `${this.scratchDir}/tmp-overlay-${index}`;
        const what = `${L}: mounting a tmpfs for the overlay at ${op.dest}`;
        this.step({ what, nr: nr("mkdirat"), args: [AT_FDCWD, cstr(dir), 0o700] });
        const data = `mode=0755,size=${op.size}`;
        this.step({
          what,
          nr: nr("mount"),
          args: [cstr("tmpfs"), cstr(dir), cstr("tmpfs"), MS.NOSUID | MS.NODEV, cstr(data)],
        });
        this.step({ what, nr: nr("mkdirat"), args: [AT_FDCWD, cstr(`${dir}/upper`), 0o755] });
        this.step({ what, nr: nr("mkdirat"), args: [AT_FDCWD, cstr(`${dir}/work`), 0o755] });
        const options = `lowerdir=${
          op.lower.map(overlayPath).join(":")
        },upperdir=${dir}/upper,workdir=${dir}/work,userxattr`;
        const at = this.mountPoint(op.dest, false);
        return this.mountFs(`${L}: mounting an overlay at ${op.dest}`, at, "overlay", MS.NOSUID | MS.NODEV, options);
      }
      case "remount-ro":
        this.readonlyLater.push(op.dest);
        return;
    }
  }

  private symlink(dest: string, target: string): void {
    const [dir, name] = this.parent(ROOT, dest, true);
    this.step({
      what: `${this.L}: creating the symlink ${dest}`,
      nr: nr("symlinkat"),
      args: [cstr(target), dir, cstr(name)],
    });
  }

  /**
   * A new file with the content; for rofile made read-only, and when a bound directory already has
   * a file there (/etc/machine-id), that file is covered by one of ours (the source untouched).
   */
  private file(op: Extract<FsOp, { kind: "file" | "rofile" }>, index: number): void {
    const what = `${this.L}: creating ${op.dest}`;
    const [dir, name] = this.parent(ROOT, op.dest, true);
    const f = this.scratch();
    const create: SpawnOp = { what, nr: nr("openat"), args: [dir, cstr(name), CREATE, op.mode], result: f };
    if (op.kind === "file") {
      this.step(create);
      return this.writeFile(what, f, op.content, op.mode);
    }
    const made = this.capture(() => {
      this.writeFile(what, f, op.content, op.mode);
      const at = this.beneath(`${this.L}: protecting ${op.dest}`, dir, name, O.PATH);
      this.coverReadonly(`${this.L}: protecting ${op.dest}`, dir, name, at); // the file by itself
    });
    const cover = this.capture(() => {
      const replacing = `${this.L}: replacing ${op.dest}`;
      const own = `${this.scratchDir}/file-${index}`;
      const g = this.scratch();
      this.step({ what: replacing, nr: nr("openat"), args: [AT_FDCWD, cstr(own), CREATE, op.mode], result: g });
      this.writeFile(replacing, g, op.content, op.mode);
      const at = this.beneath(replacing, dir, name, O.PATH); // a symlink there fails
      this.coverReadonly(replacing, AT_FDCWD, own, at);
    });
    // Created: `made`, then jump over `cover`; already there: straight to `cover`.
    this.step({ ...create, onFail: { errno: EEXIST, skip: made.length + 1 } });
    this.ops.push(...made, skipOp(`${this.L}: ${op.dest} created`, cover.length), ...cover);
  }

  private proc(op: Extract<FsOp, { kind: "proc" }>): void {
    const L = this.L;
    const at = this.mountPoint(op.dest, false);
    this.mountFs(`${L}: mounting /proc at ${op.dest}`, at, "proc", MS.NOSUID | MS.NODEV | MS.NOEXEC, "");
    const proc = this.existing(ROOT, op.dest, HOLD); // the new proc itself
    // Before /proc/sys turns read-only: this layer's own user namespace gets its limit.
    if (this.layer.maxUserNamespaces !== undefined) {
      const what = `${L}: locking nested user namespaces (${op.dest}/sys/user/max_user_namespaces)`;
      const f = this.scratch();
      const text = new TextEncoder().encode(`${this.layer.maxUserNamespaces}\n`);
      this.step({
        what,
        nr: nr("openat"),
        args: [proc, cstr("sys/user/max_user_namespaces"), O.WRONLY | O.CLOEXEC],
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
        args: [proc, cstr(sub), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE],
        result: tree,
        onFail: { errno: ENOENT, skip: 3 },
      });
      this.step({ what, nr: nr("openat"), args: [proc, cstr(sub), O.PATH | O.NOFOLLOW | O.CLOEXEC], result: target });
      this.attach(what, tree, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV, target, true);
    }
    if (op.masked.length > 0) this.maskFile();
    for (const sub of op.masked) {
      const what = `${L}: masking ${op.dest}/${sub}`;
      const target = this.scratch();
      this.step({
        what,
        nr: nr("openat"),
        args: [proc, cstr(sub), O.PATH | O.NOFOLLOW | O.CLOEXEC],
        result: target,
        onFail: { errno: ENOENT, skip: 3 },
      });
      this.coverReadonly(what, MASKFILE, "", target);
    }
  }

  /** The minimal /dev: host device nodes bound (mknod is impossible in a user namespace), a new devpts. */
  private dev(op: Extract<FsOp, { kind: "dev" }>): void {
    const L = this.L;
    const DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty"];
    this.tmpfs(`${L}: mounting a tmpfs at ${op.dest}`, this.mountPoint(op.dest, false), 0o755, op.size, MS.NOSUID);
    const dev = this.existing(ROOT, op.dest, HOLD); // the new tmpfs itself: what follows is inside it
    const nodes: [string, string][] = [...DEV_NODES, ...(op.extra ?? [])].map((n) => [`${op.from}/${n}`, n]);
    if (op.console) nodes.push([op.console, "console"]);
    for (const [src, node] of nodes) {
      const what = `${L}: binding ${src} at ${op.dest}/${node}`;
      const [dir, name] = this.parent(dev, node, true);
      const f = this.scratch();
      this.step({ what, nr: nr("openat"), args: [dir, cstr(name), CREATE, 0o644], result: f });
      this.step({ what, nr: nr("close"), args: [f] });
      const tree = this.tree(what, AT_FDCWD, src, false);
      const at = this.beneath(what, dir, name, O.PATH);
      // Device nodes must keep "dev" (unlike every other bind), so only nosuid and noexec are added.
      this.attach(what, tree, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOEXEC, at, false);
    }
    const pts = this.subdir(`${L}: creating ${op.dest}/pts`, dev, "pts");
    this.mountFs(
      `${L}: mounting a new devpts at ${op.dest}/pts`,
      pts,
      "devpts",
      MS.NOSUID | MS.NOEXEC,
      "newinstance,ptmxmode=0666,mode=620",
    );
    const shm = this.subdir(`${L}: creating ${op.dest}/shm`, dev, "shm");
    this.tmpfs(`${L}: mounting a tmpfs at ${op.dest}/shm`, shm, 0o1777, op.shmSize);
    const links: [string, string][] = [["pts/ptmx", "ptmx"], ["/proc/self/fd", "fd"]];
    ["stdin", "stdout", "stderr"].forEach((n, i) => links.push([`/proc/self/fd/${i}`, n]));
    for (const [target, name] of links) {
      this.step({
        what: `${L}: creating ${op.dest}/${name}`,
        nr: nr("symlinkat"),
        args: [cstr(target), dev, cstr(name)],
      });
    }
    // Owned by the layer's root, which is the app's user: read-only so the app cannot plant files here.
    this.readonlyLater.push(op.dest);
  }

  /**
   * The AppImages in /sbxdir/apps: run_NAME (their AppRun with the AppImage conventions), NAME.AppImage
   * (the image, read-only) and NAME: the unpacked tree bound read-only, or FUSE: this layer (root in
   * its user namespace) opens /dev/fuse and mounts the filesystem itself (`fd=N`); the daemon, started
   * later as an untrusted helper with neither capabilities nor a path to the image, serves that
   * connection. The kernel wants /dev/fuse opened in the mounting user namespace, which is why this
   * layer, not the launcher, opens it. The image the daemon reads is the launcher's descriptor, opened
   * and checked there.
   */
  private appImages(sbx: Reg): void {
    const L = this.L;
    const images = this.layer.appimages ?? [];
    if (images.length === 0) return;
    const apps = this.beneath(`${L}: creating /sbxdir/apps`, sbx, "apps", O.PATH | O.DIRECTORY, HOLD2);
    for (const img of images) {
      const what = `${L}: writing /sbxdir/apps/run_${img.name}`;
      const f = this.scratch();
      this.step({ what, nr: nr("openat"), args: [apps, cstr(`run_${img.name}`), CREATE, 0o755], result: f });
      this.writeFile(what, f, runScript(img), 0o755);
      const fd = this.fds.images[img.name];
      if (img.extracted) {
        this.bind(img.image, `/sbxdir/apps/${img.name}.AppImage`, true, false);
        this.bind(img.extracted, `/sbxdir/apps/${img.name}`, true, true);
        continue;
      }
      if (fd === undefined) throw new Error(`${L}: no descriptor for the AppImage ${img.name}`);
      // A bind is made in this mount namespace, so from the path: the launcher's descriptor is the
      // daemon's, which serves what is mounted.
      this.bind(img.image, `/sbxdir/apps/${img.name}.AppImage`, true, false);
      const at = this.mountPoint(`/sbxdir/apps/${img.name}`, false);
      const fuse = FUSE_REGS[this.fuse.length];
      this.fuse.push(img.name);
      this.step({
        what: `${L}: opening ${img.fuseDevice} for the AppImage ${img.name} (FUSE)`,
        nr: nr("openat"),
        args: [AT_FDCWD, cstr(img.fuseDevice!), O.RDWR | O.CLOEXEC],
        result: fuse,
      });
      const uid = this.layer.uidMap![0].inside, gid = this.layer.gidMap![0].inside;
      const prefix = `rootmode=40000,user_id=${uid},group_id=${gid},fd=`;
      const data = cstr(prefix + "\0".repeat(24));
      this.step(decimalOp(`${L}: mounting the AppImage ${img.name}`, fuse, data, prefix.length));
      const target = this.procPath(at);
      const type = `fuse.${img.format === "squashfs" ? "squashfuse" : "dwarfs"}`;
      this.step({
        what: `${L}: mounting the AppImage ${img.name}`,
        nr: nr("mount"),
        args: [cstr(img.name), target, cstr(type), MS.NOSUID | MS.NODEV | MS.RDONLY, data],
      });
    }
  }

  /** The AppImages mounted with FUSE, in the order of FUSE_REGS. */
  readonly fuse: string[] = [];

  /**
   * /sbxdir: apps/, bin/ (programs bbl puts first in the app's PATH), plans/ (the plans of the layers
   * below) and temp/ (a writable tmpfs), read-only.
   */
  private sbxdir(sizes: { size: string; tempSize: string }): void {
    const L = this.L;
    this.tmpfs(`${L}: mounting /sbxdir`, this.mountPoint("/sbxdir", false), 0o755, sizes.size);
    const sbx = this.existing(ROOT, "/sbxdir", HOLD);
    this.mkdir(`${L}: creating /sbxdir/apps`, sbx, "apps");
    this.appImages(sbx);
    if (this.layer.sbxBin) {
      const bin = this.subdir(`${L}: creating /sbxdir/bin`, sbx, "bin", HOLD2);
      for (const [name, text] of Object.entries(this.layer.sbxBin)) {
        const what = `${L}: writing /sbxdir/bin/${name}`;
        const f = this.scratch();
        this.step({ what, nr: nr("openat"), args: [bin, cstr(name), CREATE, 0o755], result: f });
        this.writeFile(what, f, text, 0o755);
      }
    }
    const plans = this.subdir(`${L}: creating /sbxdir/plans`, sbx, "plans", HOLD2);
    for (const l of this.layer.sublayers.flatMap(allLayers)) {
      const { sublayers: _, ...own } = l;
      const what = `${L}: writing /sbxdir/plans/${l.name}.json`;
      const f = this.scratch();
      this.step({ what, nr: nr("openat"), args: [plans, cstr(`${l.name}.json`), CREATE, 0o644], result: f });
      this.writeFile(what, f, JSON.stringify(own, null, 2) + "\n", 0o644);
    }
    const temp = this.subdir(`${L}: creating /sbxdir/temp`, sbx, "temp");
    this.tmpfs(`${L}: mounting /sbxdir/temp`, temp, 0o1777, sizes.tempSize);
    this.readonlyLater.push("/sbxdir");
  }

  /** The layer's own setup, up to and including the read-only remounts after its pivot. */
  setup(): void {
    const { layer, L } = this;
    if (layer.session) this.step({ what: `${L}: starting a session`, nr: nr("setsid"), args: [] });
    if (layer.session === "terminal") {
      this.step({ what: `${L}: taking the sandbox's terminal`, nr: nr("ioctl"), args: [0, TIOCSCTTY, 0] });
    }
    if (layer.unshare.includes("net")) {
      // A new network namespace starts with lo down; setting IFF_UP keeps the flags it cannot change.
      const what = `${L}: bringing up the loopback interface`;
      const ifr = new Uint8Array(40); // struct ifreq: name[16], then a short of flags
      ifr.set(new TextEncoder().encode("lo"));
      new DataView(ifr.buffer).setUint16(16, IFF_UP, true);
      const s = this.scratch();
      this.step({ what, nr: nr("socket"), args: [2, /* AF_INET */ 2 | O.CLOEXEC, /* SOCK_DGRAM */ 0], result: s });
      this.step({ what, nr: nr("ioctl"), args: [s, SIOCSIFFLAGS, ifr] });
      this.step({ what, nr: nr("close"), args: [s] });
    }
    if (layer.hostname !== undefined) {
      const name = new TextEncoder().encode(layer.hostname);
      this.step({
        what: `${L}: setting the hostname to ${layer.hostname}`,
        nr: nr("sethostname"),
        args: [name, name.length],
      });
    }
    if (!layer.rootMount) return; // a layer of namespaces only
    const root = layer.rootMount;
    this.step({
      what: `${L}: detaching from the parent's mount propagation`,
      nr: nr("mount"),
      args: [cstr(""), cstr("/"), cstr(""), MS.SLAVE | MS.REC, 0],
    });
    const [first, ...rest] = layer.fs;
    if (first?.kind !== "tmpfs" || first.dest !== "/") throw new BblError(`${L}: the first step is not a tmpfs at /`);
    const data = `mode=${first.mode.toString(8).padStart(4, "0")},size=${first.size}`;
    this.step({
      what: `${L}: mounting the new root`,
      nr: nr("mount"),
      args: [cstr("tmpfs"), cstr(root), cstr("tmpfs"), MS.NOSUID | MS.NODEV, cstr(data)],
    });
    this.step({
      what: `${L}: opening the new root`,
      nr: nr("openat"),
      args: [AT_FDCWD, cstr(root), O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC],
      result: ROOT,
    });
    this.step({
      what: `${L}: creating ${this.scratchDir}`,
      nr: nr("mkdirat"),
      args: [AT_FDCWD, cstr(this.scratchDir), 0o700],
    });
    rest.forEach((op, i) => this.fsOp(op, i + 1));
    this.sbxdir(layer.sbxdir!);
    this.step({ what: `${L}: entering the new root`, nr: nr("fchdir"), args: [ROOT] });
    this.step({
      what: `${L}: switching to the new root (pivot_root)`,
      nr: nr("pivot_root"),
      args: [cstr("."), cstr(".")],
    });
    this.step({ what: `${L}: detaching the old root`, nr: nr("umount2"), args: [cstr("."), MNT_DETACH] });
    this.step({ what: `${L}: entering /`, nr: nr("chdir"), args: [cstr("/")] });
    this.step({
      what: `${L}: opening /`,
      nr: nr("openat"),
      args: [AT_FDCWD, cstr("/"), O.PATH | O.DIRECTORY | O.CLOEXEC],
      result: NEWROOT,
    });
    for (const dest of this.readonlyLater) {
      const what = `${L}: making ${dest} read-only`;
      const target = this.procPath(this.existing(NEWROOT, dest));
      this.step({
        what,
        nr: nr("mount"),
        args: [cstr(""), target, cstr(""), MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV, 0],
      });
    }
  }
}

/** Host paths as a layer whose host view is `hostView` names them, looked at on the launcher's host. */
export function lookThrough(hostView: string | null, look: Look): Look {
  return (p) => {
    if (hostView === null) return undefined;
    if (hostView === "") return look(p);
    if (p !== hostView && !p.startsWith(`${hostView}/`)) return undefined;
    return look(p === hostView ? "/" : p.slice(hostView.length));
  };
}
