/**
 * Applies a layer's filesystem plan onto a fresh tmpfs, then pivots into it. Order (as bubblewrap):
 * make the inherited tree a slave, mount the new root, apply the plan parents first, pivot, detach
 * the old root, and finally make the requested mounts read-only.
 */
import type { FsOp } from "../plan/types.ts";
import { bindMount, mount, pivotInto, remountReadonly, setAttrRecursive } from "../sys/mount.ts";
import { MOUNT_ATTR, MS } from "../sys/consts.ts";
import { BblError } from "../errors.ts";

const DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty"];
/** /proc entries that would let root-in-the-namespace change host-wide settings; bound read-only. */
const PROC_READONLY = ["sys", "sysrq-trigger", "irq", "bus"];

function lstat(p: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Creates dest's missing parents inside the new root. Every existing component must be a real
 * directory: a symlink there (planted by an earlier step) could point anywhere on the host, so it is
 * refused rather than followed.
 */
function prepareParents(root: string, dest: string): void {
  let cur = root;
  const parts = dest.split("/").filter(Boolean);
  for (const part of parts.slice(0, -1)) {
    cur = `${cur}/${part}`;
    const st = lstat(cur);
    if (st === null) Deno.mkdirSync(cur, { mode: 0o755 });
    else if (st.isSymlink) throw new BblError(`${dest}: refusing a path through the symlink ${cur.slice(root.length)}`);
    else if (!st.isDirectory) throw new BblError(`${dest}: ${cur.slice(root.length)} is not a directory`);
  }
}

/** Makes the mount point for dest: a directory, or an empty file when the source is not a directory. */
function mountPoint(root: string, dest: string, asFile: boolean): string {
  prepareParents(root, dest);
  const p = root + (dest === "/" ? "" : dest);
  const st = lstat(p);
  if (st?.isSymlink) throw new BblError(`${dest}: refusing to mount over a symlink`);
  if (st === null) {
    if (asFile) Deno.writeFileSync(p, new Uint8Array(), { mode: 0o644 });
    else Deno.mkdirSync(p, { mode: 0o755 });
  }
  return p;
}

function tmpfs(what: string, at: string, mode: number, size?: number): void {
  const data = `mode=${mode.toString(8).padStart(4, "0")}` + (size ? `,size=${size}` : "");
  mount(what, "tmpfs", at, "tmpfs", MS.NOSUID | MS.NODEV, data);
}

function applyOne(root: string, op: FsOp, readonlyLater: string[]): void {
  switch (op.kind) {
    case "tmpfs": {
      const at = mountPoint(root, op.dest, false);
      tmpfs(`mounting a tmpfs at ${op.dest}`, at, op.mode, op.size);
      if (op.readonly) readonlyLater.push(op.dest);
      return;
    }
    case "bind":
    case "robind":
    case "same":
    case "rosame": {
      const src = op.kind === "bind" || op.kind === "robind" ? op.src : op.dest;
      const ro = op.kind === "robind" || op.kind === "rosame";
      const st = lstat(src);
      if (st === null) {
        if (op.optional) return;
        throw new BblError(`mounting ${src} at ${op.dest}: ENOENT (the source does not exist)`);
      }
      if (st.isSymlink && (op.kind === "same" || op.kind === "rosame")) {
        prepareParents(root, op.dest);
        Deno.symlinkSync(Deno.readLinkSync(src), root + op.dest);
        return;
      }
      const isDir = Deno.statSync(src).isDirectory;
      const at = mountPoint(root, op.dest, !isDir);
      bindMount(`mounting ${src} at ${op.dest}`, src, at, ro);
      return;
    }
    case "dir": {
      const at = mountPoint(root, op.dest, false);
      Deno.chmodSync(at, op.mode);
      return;
    }
    case "symlink": {
      prepareParents(root, op.dest);
      Deno.symlinkSync(op.target, root + op.dest);
      return;
    }
    case "proc": {
      const at = mountPoint(root, op.dest, false);
      mount(`mounting /proc at ${op.dest}`, "proc", at, "proc", MS.NOSUID | MS.NODEV | MS.NOEXEC);
      for (const sub of PROC_READONLY) {
        const p = `${at}/${sub}`;
        if (lstat(p) === null) continue;
        bindMount(`protecting ${op.dest}/${sub}`, p, p, true);
      }
      return;
    }
    case "dev":
      return makeDev(root, op.dest, op.console, readonlyLater);
    case "remount-ro":
      readonlyLater.push(op.dest);
      return;
  }
}

/** The minimal /dev: host device nodes bound (mknod is impossible in a user namespace), a new devpts. */
function makeDev(root: string, dest: string, consoleTty: string | undefined, readonlyLater: string[]): void {
  const at = mountPoint(root, dest, false);
  mount(`mounting a tmpfs at ${dest}`, "tmpfs", at, "tmpfs", MS.NOSUID, "mode=0755");
  const nodes: [string, string][] = DEV_NODES.map((n) => [`/dev/${n}`, n]);
  if (consoleTty) nodes.push([consoleTty, "console"]);
  for (const [src, node] of nodes) {
    const p = `${at}/${node}`;
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
  tmpfs(`mounting a tmpfs at ${dest}/shm`, `${at}/shm`, 0o1777);
  Deno.symlinkSync("/proc/self/fd", `${at}/fd`);
  ["stdin", "stdout", "stderr"].forEach((n, i) => Deno.symlinkSync(`/proc/self/fd/${i}`, `${at}/${n}`));
  // The directory is owned by the layer's root, which is the app's user: read-only so the app cannot
  // plant files in /dev.
  readonlyLater.push(dest);
}

/**
 * Builds the new root at `rootMount` from `ops` (the first op must be the tmpfs for "/") and pivots
 * into it. Runs in the layer's own mount namespace: nothing here is visible on the host.
 */
export function buildRoot(rootMount: string, ops: FsOp[]): void {
  mount("detaching from the host's mount propagation", null, "/", null, MS.SLAVE | MS.REC);
  if (ops[0]?.kind !== "tmpfs" || ops[0].dest !== "/") {
    throw new BblError("the filesystem plan must start with a tmpfs at /");
  }
  const readonlyLater: string[] = [];
  for (const op of ops) applyOne(rootMount, op, readonlyLater);
  pivotInto(rootMount);
  for (const dest of readonlyLater) remountReadonly(`making ${dest} read-only`, dest);
}
