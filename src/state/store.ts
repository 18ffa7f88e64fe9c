/**
 * Per-sandbox state: $XDG_STATE_HOME/bbl/NAME (~/.local/state/bbl/NAME), mode 0700, holding what a
 * sandbox keeps: home/ (persist), upper/ and work/ (overlay), lock, and record.json (when it was
 * created and last used, and the options in force).
 *
 * The app controls what is inside home/ and upper/, never the directories themselves: those, and
 * everything bbl reads here, are checked not to be symlinks. A sandbox with state runs at most once at
 * a time: the launcher holds an exclusive lock on NAME/lock for the whole run (a second run is refused;
 * `discard` and `clean` refuse too), and the kernel drops it if the launcher dies.
 */
import { check, cstr, libc } from "../sys/libc.ts";
import { LOCK_EX, LOCK_NB, O } from "../sys/consts.ts";
import { BblError } from "../errors.ts";
import { lstatOrNull as lstat } from "../sys/files.ts";

export function stateBase(env: Record<string, string>, home: string): string {
  const xdg = env.XDG_STATE_HOME;
  return `${xdg?.startsWith("/") ? xdg : `${home}/.local/state`}/bbl`;
}

export interface StateRecord {
  name: string;
  home: "persist" | "overlay";
  created: string;
  last_used: string;
  /** overlay: the directory the changes are relative to (your home). */
  lower?: string;
  /** What the last run used, for `bbl list`. */
  options: Record<string, unknown>;
}

/** Makes (or checks) a directory of ours: a real directory, owned by us, mode 0700. */
function ownDir(p: string, uid: number): void {
  if (lstat(p) === null) {
    try {
      Deno.mkdirSync(p, { mode: 0o700 });
    } catch (e) {
      throw new BblError(`creating ${p}: ${(e as Error).message}`);
    }
  }
  const st = lstat(p)!;
  if (!st.isDirectory || st.isSymlink || st.uid !== uid) {
    throw new BblError(`${p} must be a directory that you own (not a symlink); remove or fix it`);
  }
  Deno.chmodSync(p, 0o700);
}

export function readRecord(dir: string): StateRecord | null {
  const st = lstat(`${dir}/record.json`);
  if (!st?.isFile) return null;
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/record.json`)) as StateRecord;
  } catch {
    return null;
  }
}

/** An exclusive lock on DIR/lock, or null when another bbl holds it. */
export function tryLock(dir: string): number | null {
  const what = `locking ${dir}`;
  const fd = check(libc.open(cstr(`${dir}/lock`), O.CREAT | O.RDWR | O.CLOEXEC | O.NOFOLLOW, 0o600), what, "open");
  if (libc.flock(fd, LOCK_EX | LOCK_NB) === 0) return fd;
  libc.close(fd);
  return null;
}

export class SandboxState {
  private constructor(readonly dir: string, private lockFd: number) {}

  /**
   * Creates or reopens the state of one sandbox for a run: directories checked, lock taken (refused
   * when another run holds it), record updated.
   */
  static open(dir: string, uid: number, record: Omit<StateRecord, "created" | "last_used">): SandboxState {
    const base = dir.replace(/\/[^/]+$/, "");
    Deno.mkdirSync(base.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o755 });
    ownDir(base, uid);
    ownDir(dir, uid);
    const fd = tryLock(dir);
    if (fd === null) {
      throw new BblError(
        `sandbox '${record.name}' is already running (its state ${dir} is in use); ` +
          "wait for it to end, or use another --name",
      );
    }
    try {
      for (const sub of record.home === "persist" ? ["home"] : ["upper", "work"]) ownDir(`${dir}/${sub}`, uid);
      const now = new Date().toISOString();
      const old = readRecord(dir);
      const full: StateRecord = { ...record, created: old?.created ?? now, last_used: now };
      Deno.writeTextFileSync(`${dir}/record.json.new`, JSON.stringify(full, null, 2) + "\n", { mode: 0o600 });
      Deno.renameSync(`${dir}/record.json.new`, `${dir}/record.json`);
    } catch (e) {
      libc.close(fd);
      throw e;
    }
    return new SandboxState(dir, fd);
  }

  release(): void {
    libc.close(this.lockFd);
  }
}

/** Bytes on disk under `p`, never following a symlink; unreadable parts count as nothing. */
export function diskUsage(p: string): number {
  const st = lstat(p);
  if (st === null) return 0;
  let total = (st.blocks ?? 0) * 512;
  if (st.isDirectory) {
    try {
      for (const e of Deno.readDirSync(p)) total += diskUsage(`${p}/${e.name}`);
    } catch { /* unreadable: not counted */ }
  }
  return total;
}

/**
 * Removes a tree the app may have made hostile (directories without permissions, symlinks): every
 * directory is made ours to traverse first, and no symlink is followed.
 */
export function removeTree(p: string): void {
  const st = lstat(p);
  if (st === null) return;
  if (st.isDirectory) {
    Deno.chmodSync(p, 0o700);
    for (const e of Deno.readDirSync(p)) removeTree(`${p}/${e.name}`);
  }
  Deno.removeSync(p);
}

export interface StateInfo {
  name: string;
  dir: string;
  record: StateRecord | null;
  bytes: number;
  running: boolean;
}

/** Every sandbox with state, by name. */
export function listStates(base: string): StateInfo[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(base)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw new BblError(`reading ${base}: ${(e as Error).message}`);
  }
  return entries.filter((e) => e.isDirectory && !e.isSymlink).map((e) => e.name).sort().map((name) => {
    const dir = `${base}/${name}`;
    const fd = tryLock(dir);
    if (fd !== null) libc.close(fd);
    return { name, dir, record: readRecord(dir), bytes: diskUsage(dir), running: fd === null };
  });
}
