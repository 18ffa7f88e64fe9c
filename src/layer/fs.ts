/**
 * Builds a layer's new root on a tmpfs from its filesystem plan, then pivots into it. Order (as in
 * bubblewrap): make the inherited tree a slave, mount the new root, apply the plan (already ordered
 * parents first by the planner), add /sbxdir, pivot, detach the old root, and only then make the
 * requested mounts read-only (so nothing needed writing too early).
 *
 * Symlinks: every destination is reached through directories only (beneath.ts: openat2 with
 * RESOLVE_NO_SYMLINKS from the new root's descriptor, missing components created in place), so a
 * symlink planted there (by an earlier step, a source bound there, or another sandbox sharing a bound
 * directory while this one is built) fails the step instead of leading anywhere; mounts go on the
 * descriptor so found. Bind sources are opened once (O_PATH) and the tree bound from that descriptor,
 * its attributes set on the detached copy, so what was checked is what gets mounted, as asked.
 */
import type { FsOp, LayerPlan } from "../plan/types.ts";
import { bindMount, bindTree, mount, pivotInto, remountReadonly, setAttrRecursive } from "../sys/mount.ts";
import { MOUNT_ATTR, MS, O } from "../sys/consts.ts";
import { check, cstr, libc } from "../sys/libc.ts";
import { BblError } from "../errors.ts";
import { allLayers } from "../plan/tree.ts";
import { type AppImageFds, mountFuse, runScript } from "./appimage.ts";
import { lstatOrNull as lstat } from "../sys/files.ts";
import { Beneath } from "./beneath.ts";

const DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty"];

/** Creates a file that must not exist yet, with exactly `mode` (the umask would clear bits of it). */
function newFile(p: string, text: string, mode: number): void {
  Deno.writeTextFileSync(p, text, { mode, createNew: true });
  Deno.chmodSync(p, mode);
}

function tmpfs(what: string, at: string, mode: number, size: string): void {
  const data = `mode=${mode.toString(8).padStart(4, "0")},size=${size}`;
  mount(what, "tmpfs", at, "tmpfs", MS.NOSUID | MS.NODEV, data);
}

/** Binds `src` at `dest` through an O_PATH descriptor (the object checked is the object mounted). */
function bindByFd(b: Beneath, src: string, dest: string, readonly: boolean, optional: boolean): void {
  const what = `mounting ${src} at ${dest}`;
  const fd = libc.open(cstr(src), O.PATH | O.CLOEXEC, 0);
  if (fd < 0) {
    if (optional && lstat(src) === null) return;
    check(fd, what, "open");
  }
  try {
    const isDir = Deno.statSync(`/proc/self/fd/${fd}`).isDirectory;
    bindTree(what, fd, b.mountPoint(dest, !isDir), readonly);
  } finally {
    libc.close(fd);
  }
}

/** Overlay options are comma- and colon-separated; such characters in paths would change their meaning. */
function overlayPath(p: string): string {
  if (/[,:\\]/.test(p)) throw new BblError(`overlay path ${p}: ',', ':' and '\\' are not supported`);
  return p;
}

interface Applying {
  /** The new root, every destination reached beneath it. */
  b: Beneath;
  /** FUSE connections and images of the AppImages mounted here, for their daemons. */
  appImageFds: Map<string, AppImageFds>;
  maxUserNamespaces?: number;
  /** A scratch directory of this layer in the instance directory (as this layer sees it). */
  scratch: string;
  readonlyLater: string[];
}

function applyOne(a: Applying, op: FsOp, index: number): void {
  const { b } = a;
  switch (op.kind) {
    case "tmpfs":
    case "rotmpfs": {
      tmpfs(`mounting a tmpfs at ${op.dest}`, b.mountPoint(op.dest, false), op.mode, op.size);
      if (op.kind === "rotmpfs") a.readonlyLater.push(op.dest);
      return;
    }
    case "bind":
    case "robind":
      return bindByFd(b, op.src, op.dest, op.kind === "robind", op.optional ?? false);
    case "same":
    case "rosame": {
      const st = lstat(op.src);
      if (st === null) {
        if (op.optional) return;
        throw new BblError(`mounting ${op.src} at ${op.dest}: ENOENT (the source does not exist)`);
      }
      if (st.isSymlink) return b.symlink(op.dest, Deno.readLinkSync(op.src));
      return bindByFd(b, op.src, op.dest, op.kind === "rosame", false);
    }
    case "dir":
      Deno.chmodSync(b.mountPoint(op.dest, false), op.mode);
      return;
    case "file":
    case "rofile": {
      const existing = b.stat(op.dest);
      if (existing?.isFile && op.kind === "rofile") {
        // A file of a bound directory (such as /etc/machine-id): covered by ours, the source untouched.
        const own = `${a.scratch}/file-${index}`;
        newFile(own, op.content, op.mode);
        mount(`replacing ${op.dest}`, own, b.existing(op.dest), null, MS.BIND);
        a.readonlyLater.push(op.dest);
        return;
      }
      if (existing !== null) throw new BblError(`${op.dest}: already exists in the new root`);
      b.newFile(op.dest, op.content, op.mode);
      if (op.kind === "rofile") {
        const p = b.existing(op.dest);
        mount(`protecting ${op.dest}`, p, p, null, MS.BIND);
        a.readonlyLater.push(op.dest);
      }
      return;
    }
    case "symlink":
      return b.symlink(op.dest, op.target);
    case "proc": {
      mount(
        `mounting /proc at ${op.dest}`,
        "proc",
        b.mountPoint(op.dest, false),
        "proc",
        MS.NOSUID | MS.NODEV | MS.NOEXEC,
      );
      const at = b.existing(op.dest); // the new proc itself
      // Before /proc/sys turns read-only: this layer's own user namespace gets its limit.
      if (a.maxUserNamespaces !== undefined) {
        lockUserNamespaces(`${at}/sys/user/max_user_namespaces`, a.maxUserNamespaces);
      }
      for (const sub of op.readonly) {
        const p = `${at}/${sub}`;
        if (lstat(p) !== null) bindMount(`protecting ${op.dest}/${sub}`, p, p, true);
      }
      for (const sub of op.masked) {
        if (lstat(`${at}/${sub}`) !== null) maskWithEmptyFile(a, `${at}/${sub}`, `${op.dest}/${sub}`);
      }
      return;
    }
    case "devpts":
      mount(
        `mounting a devpts at ${op.dest}`,
        "devpts",
        b.mountPoint(op.dest, false),
        "devpts",
        MS.NOSUID | MS.NOEXEC,
        "newinstance,ptmxmode=0666,mode=620",
      );
      return;
    case "mqueue":
      mount(
        `mounting mqueue at ${op.dest}`,
        "mqueue",
        b.mountPoint(op.dest, false),
        "mqueue",
        MS.NOSUID | MS.NODEV | MS.NOEXEC,
      );
      return;
    case "dev":
      return makeDev(a, op);
    case "mask":
      return mask(a, op.src, op.dest, op.optional ?? false, op.size);
    case "overlay": {
      const at = b.mountPoint(op.dest, false);
      const data = `lowerdir=${op.lower.map(overlayPath).join(":")},upperdir=${overlayPath(op.upper)},workdir=${
        overlayPath(op.work)
      },userxattr`;
      mount(`mounting an overlay at ${op.dest}`, "overlay", at, "overlay", MS.NOSUID | MS.NODEV, data);
      return;
    }
    case "tmp-overlay": {
      // The upper layer lives on a tmpfs of this mount namespace, on a scratch directory of the instance.
      const dir = `${a.scratch}/tmp-overlay-${index}`;
      Deno.mkdirSync(dir, { mode: 0o700 });
      tmpfs(`mounting a tmpfs for the overlay at ${op.dest}`, dir, 0o755, op.size);
      Deno.mkdirSync(`${dir}/upper`);
      Deno.mkdirSync(`${dir}/work`);
      const at = b.mountPoint(op.dest, false);
      const data = `lowerdir=${
        op.lower.map(overlayPath).join(":")
      },upperdir=${dir}/upper,workdir=${dir}/work,userxattr`;
      mount(`mounting an overlay at ${op.dest}`, "overlay", at, "overlay", MS.NOSUID | MS.NODEV, data);
      return;
    }
    case "remount-ro":
      a.readonlyLater.push(op.dest);
      return;
  }
}

/**
 * Limits the user namespaces that can exist below this layer's own (the kernel checks every ancestor's
 * limit), as bubblewrap's --disable-userns does: the app has no capability here, so cannot raise it.
 */
function lockUserNamespaces(sysctl: string, max: number): void {
  try {
    Deno.writeTextFileSync(sysctl, `${max}\n`);
  } catch (e) {
    throw new BblError(`locking nested user namespaces (${sysctl}): ${(e as { code?: string }).code ?? e}`);
  }
}

/**
 * Masks an existing path so it is empty and unreadable: a directory gets a mode-000 tmpfs, anything
 * else an empty mode-000 file (for a device too: stronger than /dev/null, which could be written).
 */
function mask(a: Applying, src: string, dest: string, optional: boolean, size: string): void {
  const st = lstat(src);
  if (st === null) {
    if (optional) return;
    throw new BblError(`masking ${dest}: ENOENT (nothing there to mask)`);
  }
  const at = a.b.existing(dest); // a symlink there is refused
  if (st.isDirectory) {
    tmpfs(`masking ${dest}`, at, 0o000, size);
    a.readonlyLater.push(dest);
  } else maskWithEmptyFile(a, at, dest);
}

/** Covers the file at `at` (`dest` inside) with an empty mode-000 file, read-only once pivoted. */
function maskWithEmptyFile(a: Applying, at: string, dest: string): void {
  const empty = `${a.scratch}/mask`;
  if (lstat(empty) === null) Deno.writeFileSync(empty, new Uint8Array(), { mode: 0o000 });
  Deno.chmodSync(empty, 0o000);
  mount(`masking ${dest}`, empty, at, null, MS.BIND);
  a.readonlyLater.push(dest);
}

/** The minimal /dev: host device nodes bound (mknod is impossible in a user namespace), a new devpts. */
function makeDev(a: Applying, op: Extract<FsOp, { kind: "dev" }>): void {
  const dest = op.dest;
  mount(
    `mounting a tmpfs at ${dest}`,
    "tmpfs",
    a.b.mountPoint(dest, false),
    "tmpfs",
    MS.NOSUID,
    `mode=0755,size=${op.size}`,
  );
  const at = a.b.existing(dest); // the new tmpfs itself: what follows is inside it
  const nodes: [string, string][] = [...DEV_NODES, ...(op.extra ?? [])].map((n) => [`${op.from}/${n}`, n]);
  if (op.console) nodes.push([op.console, "console"]);
  for (const [src, node] of nodes) {
    const p = `${at}/${node}`;
    if (node.includes("/")) Deno.mkdirSync(p.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o755 });
    Deno.writeFileSync(p, new Uint8Array(), { mode: 0o644 });
    // Device nodes must keep "dev" (unlike every other bind), so only nosuid and noexec are added.
    mount(`binding ${src} at ${dest}/${node}`, src, p, null, MS.BIND);
    setAttrRecursive(`protecting ${dest}/${node}`, p, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOEXEC);
  }
  Deno.mkdirSync(`${at}/pts`);
  mount(
    `mounting a new devpts at ${dest}/pts`,
    "devpts",
    `${at}/pts`,
    "devpts",
    MS.NOSUID | MS.NOEXEC,
    "newinstance,ptmxmode=0666,mode=620",
  );
  Deno.symlinkSync("pts/ptmx", `${at}/ptmx`);
  Deno.mkdirSync(`${at}/shm`);
  tmpfs(`mounting a tmpfs at ${dest}/shm`, `${at}/shm`, 0o1777, op.shmSize);
  Deno.symlinkSync("/proc/self/fd", `${at}/fd`);
  ["stdin", "stdout", "stderr"].forEach((n, i) => Deno.symlinkSync(`/proc/self/fd/${i}`, `${at}/${n}`));
  // Owned by the layer's root, which is the app's user: read-only so the app cannot plant files here.
  a.readonlyLater.push(dest);
}

/**
 * /sbxdir: a read-only tmpfs with apps/ (AppImage mounts, shared with the layers below), temp/ (a
 * writable tmpfs for helpers) and plans/ (the plans of the layers below this one, nothing else).
 */
function makeSbxdir(a: Applying, layer: LayerPlan, sizes: { size: string; tempSize: string }): void {
  tmpfs("mounting /sbxdir", a.b.mountPoint("/sbxdir", false), 0o755, sizes.size);
  const at = a.b.existing("/sbxdir");
  Deno.mkdirSync(`${at}/apps`);
  if (layer.sbxBin) {
    Deno.mkdirSync(`${at}/bin`);
    for (const [name, text] of Object.entries(layer.sbxBin)) {
      newFile(`${at}/bin/${name}`, text, 0o755);
    }
  }
  for (const img of layer.appimages ?? []) {
    newFile(`${at}/apps/run_${img.name}`, runScript(img), 0o755);
    bindByFd(a.b, img.image, `/sbxdir/apps/${img.name}.AppImage`, true, false);
    if (img.extracted) bindByFd(a.b, img.extracted, `/sbxdir/apps/${img.name}`, true, false);
    else {
      Deno.mkdirSync(`${at}/apps/${img.name}`);
      a.appImageFds.set(img.name, mountFuse(img, `${at}/apps/${img.name}`));
    }
  }
  Deno.mkdirSync(`${at}/plans`);
  for (const l of layer.sublayers.flatMap(allLayers)) {
    const { sublayers: _, ...own } = l;
    Deno.writeTextFileSync(`${at}/plans/${l.name}.json`, JSON.stringify(own, null, 2) + "\n");
  }
  Deno.mkdirSync(`${at}/temp`);
  tmpfs("mounting /sbxdir/temp", `${at}/temp`, 0o1777, sizes.tempSize);
  a.readonlyLater.push("/sbxdir");
}

/**
 * Builds the layer's new root at its rootMount and pivots into it. Runs in the layer's own mount
 * namespace. Returns the fds of the AppImages it mounted (for their FUSE daemons).
 */
export function buildRoot(layer: LayerPlan): Map<string, AppImageFds> {
  const root = layer.rootMount!;
  mount("detaching from the parent's mount propagation", null, "/", null, MS.SLAVE | MS.REC);
  // The first step is the tmpfs at / (the planner checks it): the root's descriptor is taken on it.
  const [first, ...rest] = layer.fs;
  if (first?.kind !== "tmpfs" || first.dest !== "/") {
    throw new BblError(`${layer.name}: the first step is not a tmpfs at /`);
  }
  tmpfs("mounting the new root", root, first.mode, first.size);
  const a: Applying = {
    b: Beneath.open(root),
    appImageFds: new Map(),
    scratch: `${root}.scratch`,
    readonlyLater: [],
    maxUserNamespaces: layer.maxUserNamespaces,
  };
  Deno.mkdirSync(a.scratch, { mode: 0o700 });
  try {
    rest.forEach((op, i) => applyOne(a, op, i + 1));
    if (layer.sbxdir) makeSbxdir(a, layer, layer.sbxdir);
  } finally {
    a.b.close();
  }
  pivotInto(root);
  const inside = Beneath.open("/");
  try {
    for (const dest of a.readonlyLater) remountReadonly(`making ${dest} read-only`, inside.existing(dest));
  } finally {
    inside.close();
  }
  return a.appImageFds;
}
