/**
 * Finding and reading the configuration sources, in increasing priority:
 *
 *   the embedded defaults
 *   $XDG_CONFIG_HOME/bbl/default.yaml, then $XDG_CONFIG_HOME/bbl/NAME.yaml   (~/.config unless set)
 *   bbl.yaml, then NAME.bbl.yaml, next to the bbl binary
 *   bbl.yaml, then NAME.bbl.yaml, next to the program (when it is given as a path, ./app or ~/x/app)
 *   --config FILE
 *   command-line flags
 *
 * NAME is --name, else the `name` of the highest-priority name-independent file that has one, else
 * derived from the program's file name. A file that someone other than you (or root) owns, or that
 * other users can write, is refused: it would let them change your sandbox. Files next to a program
 * or bbl are used only once you have approved them (approval.ts): a sandbox may have written them.
 */
import { type ConfigLayer, mergeConfigs, type Merged } from "./merge.ts";
import { type Config, parseConfig } from "./schema.ts";
import { DEFAULT_CONFIG } from "./defaults.ts";
import { UsageError } from "../errors.ts";
import { absent, exists } from "../sys/files.ts";
import { type Asker, requireApproval } from "./approval.ts";

export interface LoadInput {
  /** The command-line layer (see flags.ts). */
  flags: Config;
  /** --config FILE. */
  configFile?: string;
  /** The program and its arguments (empty: the user's shell). */
  command: string[];
  env: Record<string, string>;
  home: string;
  cwd: string;
  uid: number;
  gid: number;
  /** The directory of the bbl binary (of the checkout, from source). */
  bblDir: string;
  /** For a run: asks about files next to programs not yet approved (see approval.ts). Absent: no check. */
  ask?: Asker;
}

export interface Loaded {
  name: string;
  merged: Merged;
}

/** A sandbox name from a command or file name: "FreeCAD_1.0.0-x86_64.AppImage" -> "FreeCAD". */
export function defaultName(command: string[]): string {
  const base = (command[0] ?? "shell").split("/").pop() ?? "shell";
  const cleaned = base.replace(/\.AppImage$/i, "").replace(/[-_]v?\d.*$/, "").replace(/[^A-Za-z0-9_.-]+/g, "_")
    .replace(/^[._-]+/, "");
  return cleaned.slice(0, 64) || "sandbox";
}

const dirOf = (p: string) => p.replace(/\/[^/]*$/, "") || "/";
const absolute = (p: string, cwd: string) => p.startsWith("/") ? p : `${cwd}/${p}`;

/** Why other users could change `path` (a file or directory), or null when only you or root can. */
function foreignWriter(path: string, st: Deno.FileInfo, uid: number, gid: number): string | null {
  const mode = st.mode ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `${path} belongs to another user (uid ${st.uid})`;
  // A group-writable file is fine when the group is your own (the usual per-user group under umask 002).
  const groupWrite = (mode & 0o020) !== 0 && st.gid !== gid;
  const sticky = st.isDirectory && (mode & 0o1000) !== 0;
  if (((mode & 0o002) !== 0 || groupWrite) && !sticky) {
    return `other users can write ${path} (mode ${(mode & 0o7777).toString(8).padStart(4, "0")})`;
  }
  return null;
}

/** The text of a configuration file, or null when there is none; refused when others could change it. */
export function readTrusted(path: string, uid: number, gid: number, required = false): string | null {
  if (!required && absent(path, true)) return null;
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && !required) return null;
    throw new UsageError(`${path}: ${(e as Error).message}`);
  }
  if (!st.isFile) throw new UsageError(`${path}: not a regular file`);
  const real = Deno.realPathSync(path);
  const problem = foreignWriter(real, st, uid, gid) ?? foreignWriter(dirOf(real), Deno.statSync(dirOf(real)), uid, gid);
  if (problem) throw new UsageError(`refusing the configuration file ${path}: ${problem}`);
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message}`);
  }
}

/** The embedded defaults as the lowest source (relative paths in them are under your home). */
export const defaultsLayer = (home: string): ConfigLayer => ({
  from: { label: "defaults", dir: home },
  config: DEFAULT_CONFIG,
});

export function configHome(env: Record<string, string>, home: string): string {
  return env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : `${home}/.config`;
}

/** `nextToProgram`: found beside a program or bbl, so used only once approved. */
function layerOf(path: string, i: LoadInput, required = false, nextToProgram = false): ConfigLayer | null {
  const text = readTrusted(path, i.uid, i.gid, required);
  if (text === null) return null;
  if (nextToProgram && i.ask) requireApproval(configHome(i.env, i.home), Deno.realPathSync(path), text, i.ask);
  const abs = absolute(path, i.cwd);
  return { from: { label: abs, dir: dirOf(abs) }, config: parseConfig(text, path) };
}

/** Where the configuration files of sandbox `name` may be (see the order above). */
function configPaths(i: LoadInput, name: string) {
  const home = configHome(i.env, i.home);
  const dirs = [i.bblDir];
  const program = i.command[0];
  if (program?.includes("/")) {
    const appDir = dirOf(absolute(program.replace(/^~(?=\/)/, i.home), i.cwd));
    if (appDir !== i.bblDir) dirs.push(appDir);
  }
  return {
    userDefault: `${home}/bbl/default.yaml`,
    nextTo: dirs.map((d) => `${d}/bbl.yaml`),
    userNamed: `${home}/bbl/${name}.yaml`,
    nextToNamed: dirs.map((d) => `${d}/${name}.bbl.yaml`),
  };
}

/**
 * Whether loading reads any file (so needs the YAML parser). Without a name-independent file the
 * name is the flag's or the program's, so the named files looked at are exactly these.
 */
export function readsConfigFiles(i: LoadInput): boolean {
  if (i.configFile !== undefined) return true;
  const p = configPaths(i, i.flags.name ?? defaultName(i.command));
  return [p.userDefault, ...p.nextTo, p.userNamed, ...p.nextToNamed].some(exists);
}

export function loadConfig(i: LoadInput): Loaded {
  const flagsLayer: ConfigLayer = { from: { label: "command line", dir: i.cwd }, config: i.flags };
  const paths = configPaths(i, "");
  const userDefault = layerOf(paths.userDefault, i);
  const nextTo = paths.nextTo.map((f) => layerOf(f, i, false, true));
  const explicit = i.configFile ? layerOf(i.configFile, i, true) : null;
  const name = [flagsLayer, explicit, ...nextTo.toReversed(), userDefault]
    .map((l) => l?.config.name).find((n) => n !== undefined) ?? defaultName(i.command);
  const named = (path: string, nextToProgram: boolean) => {
    const l = layerOf(path, i, false, nextToProgram);
    if (l?.config.name !== undefined && l.config.name !== name) {
      throw new UsageError(`${path}: name: '${l.config.name}' differs from the file's own name '${name}'`);
    }
    return l;
  };
  const own = configPaths(i, name);
  const layers = [
    defaultsLayer(i.home),
    userDefault,
    named(own.userNamed, false),
    ...nextTo.flatMap((l, k) => [l, named(own.nextToNamed[k], true)]),
    explicit,
    flagsLayer,
  ].filter((l): l is ConfigLayer => l !== null);
  return { name, merged: mergeConfigs(layers) };
}
