/**
 * Running bbl for real as an unprivileged user. As root (CI), commands drop to BBL_TEST_USER (default
 * "bbltest", created by .ci/run) with setpriv; as anyone else they run as that user. A missing test
 * user is an error, never a skip: isolation tests must not pass without a sandbox having run.
 */
import { removeTree } from "../src/state/store.ts";
import { sourceArgv } from "../src/selfexec.ts";

export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const DENO = Deno.execPath();
const TEST_USER = Deno.env.get("BBL_TEST_USER") ?? "bbltest";

export interface User {
  name: string;
  uid: number;
  gid: number;
  /** The user's real home: where Deno's module cache lives. */
  home: string;
}

function lookup(name: string): User {
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
  }
  throw new Error(`test user '${name}' does not exist: run .ci/run as root, or: sudo useradd -m ${name}`);
}

export const user: User = Deno.uid() === 0 ? lookup(TEST_USER) : {
  name: Deno.env.get("USER") ?? String(Deno.uid()),
  uid: Deno.uid()!,
  gid: Deno.gid()!,
  home: Deno.env.get("HOME") ?? "/",
};
if (user.uid === 0) throw new Error("the e2e tests must run bbl as an unprivileged user");

/** A fresh directory owned by the test user (a fake HOME, a scratch dir). Removed by the caller. */
export function userTempDir(prefix = "bbl-test-"): string {
  const d = Deno.makeTempDirSync({ prefix });
  Deno.chmodSync(d, 0o755);
  if (Deno.uid() === 0) Deno.chownSync(d, user.uid, user.gid);
  return d;
}

/**
 * Runs `fn` with fresh directories of the test user's (one per prefix: a HOME, fixtures...), removed
 * afterwards, even where a sandbox left directories without permissions (an overlay's work/work).
 */
export async function withUserDirs(prefixes: string[], fn: (...dirs: string[]) => Promise<void>): Promise<void> {
  const dirs = prefixes.map((p) => userTempDir(p));
  try {
    await fn(...dirs);
  } finally {
    dirs.forEach((d) => removeTree(d));
  }
}

/** The names in a directory, sorted; none when it does not exist. */
export const ls = (dir: string) => exists(dir) ? [...Deno.readDirSync(dir)].map((e) => e.name).sort() : [];

/** Writes a file as the test user would, creating its missing parent directories (theirs too). */
export function writeAsUser(path: string, text: string, mode = 0o644): void {
  const missing: string[] = [];
  for (let d = path.replace(/\/[^/]+$/, ""); !exists(d); d = d.replace(/\/[^/]+$/, "")) missing.unshift(d);
  for (const d of missing) {
    Deno.mkdirSync(d, { mode: 0o755 });
    if (Deno.uid() === 0) Deno.chownSync(d, user.uid, user.gid);
  }
  Deno.writeTextFileSync(path, text, { mode });
  Deno.chmodSync(path, mode);
  if (Deno.uid() === 0) Deno.chownSync(path, user.uid, user.gid);
}

/** Whether a program of the machine's is installed (tests of real programs run only where they are). */
export function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

export function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export interface RunOpts {
  env?: Record<string, string>;
  stdin?: string;
  stdinBytes?: Uint8Array;
  /** HOME for bbl (default: a fresh empty directory). */
  home?: string;
  /** Where bbl starts (default: this process's directory). */
  cwd?: string;
}

/** The environment a launcher gets: minimal, with Deno's cache in the user's real home. */
export function userEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    USER: user.name,
    LANG: "C.UTF-8",
    DENO_DIR: Deno.env.get("DENO_DIR") && Deno.uid() !== 0 ? Deno.env.get("DENO_DIR")! : `${user.home}/.cache/deno`,
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    ...extra,
  };
}

/**
 * argv that runs bbl from source as the test user with exactly `env`. The test user never reaches the
 * registry (--cached-only): bbl's npm packages come from the checkout's node_modules/, which the
 * invoking user's `deno test` filled with its own environment (deno.json: nodeModulesDir auto).
 * `logFlag` is Deno's (--quiet: no download chatter).
 */
export function bblArgv(args: string[], env: Record<string, string>, logFlag = "--quiet"): string[] {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return asUser(["env", "-i", ...envArgs, ...sourceArgv(DENO, REPO, [logFlag, "--cached-only"]), ...args]);
}

/** argv run as the test user (setpriv when the tests run as root; as is otherwise). */
export const asUser = (argv: string[]) =>
  Deno.uid() === 0 ? ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", ...argv] : argv;

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an argv to completion with an empty environment (bblArgv's, or one wrapping it). */
export async function runArgv(argv: string[]): Promise<Result> {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped", clearEnv: true })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `bbl ARGS` to completion as the test user. */
export async function bbl(args: string[], opts: RunOpts = {}): Promise<Result> {
  const home = opts.home ?? userTempDir("bbl-home-");
  try {
    const argv = bblArgv(args, userEnv(home, opts.env));
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: opts.stdin === undefined && opts.stdinBytes === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    }).spawn();
    if (opts.stdin !== undefined || opts.stdinBytes !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(opts.stdinBytes ?? new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    if (opts.home === undefined) Deno.removeSync(home, { recursive: true });
  }
}

export interface Running {
  child: Deno.ChildProcess;
  /** Its stdout after what was read until `ready`. */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** What it printed up to and including `ready`. */
  output: string;
}

/** Starts `bbl ARGS` in the background as the test user; its stdout piped or not, its stderr not. */
export function spawnBbl(
  args: string[],
  home: string,
  env: Record<string, string> = {},
  stdout: "piped" | "null" = "null",
): Deno.ChildProcess {
  const argv = bblArgv(args, userEnv(home, env));
  return new Deno.Command(argv[0], { args: argv.slice(1), stdout, stderr: "null", clearEnv: true }).spawn();
}

/**
 * Starts `bbl ARGS` in the background as the test user and resolves once its stdout has shown
 * `ready`. setpriv and env exec in place, so `child.pid` is the launcher itself.
 */
export async function startBbl(
  args: string[],
  home: string,
  ready = "ready",
  env: Record<string, string> = {},
): Promise<Running> {
  const child = spawnBbl(args, home, env, "piped");
  const reader = child.stdout.getReader();
  let output = "";
  while (!output.includes(ready)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`bbl ended before printing '${ready}': ${output}`);
    output += new TextDecoder().decode(value);
  }
  return { child, reader, output };
}

/** Reads what is left of a stream to its end. */
export async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return rest;
    rest += new TextDecoder().decode(value);
  }
}

/** Runs a shell script inside the default sandbox. */
export function sandboxSh(script: string, opts: RunOpts & { flags?: string[] } = {}): Promise<Result> {
  return bbl([...(opts.flags ?? []), "--", "/bin/sh", "-c", script], opts);
}

/** The children of a process (all its threads'). */
export function childrenOf(pid: number): number[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].flatMap((t) =>
      Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim().split(/\s+/).filter(Boolean).map(Number)
    );
  } catch {
    return [];
  }
}

/** Every process below `pid` (children of all its threads, recursively). */
export function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((c) => [c, ...descendantsOf(c)]);
}

export function comm(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "";
  }
}

/** Where the test user's instance directories live for a launcher run with userEnv(). */
export const instanceBase = `/tmp/bbl-${user.uid}`;

export async function waitFor(cond: () => boolean, ms = 10000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

export const PTY_RUN = new URL("./e2e/pty_run.py", import.meta.url).pathname;

/**
 * Runs `bbl ARGS` on a new pseudo-terminal (tests/e2e/pty_run.py), typing `keys`; checks that the
 * user's terminal settings came back. HOME is `home`, or a fresh directory.
 */
export async function inPty(args: string[], keys: string[], home?: string): Promise<{ code: number; screen: string }> {
  const dir = home ?? userTempDir("bbl-home-");
  try {
    const argv = bblArgv(args, userEnv(dir, { TERM: "xterm" }));
    const out = await new Deno.Command("python3", {
      args: [PTY_RUN, JSON.stringify(keys), ...argv],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const i = text.lastIndexOf("\nEXIT ");
    if (i < 0) throw new Error(`no exit line: ${text} ${new TextDecoder().decode(out.stderr)}`);
    // every run must leave the user's terminal as it found it (cooked, echoing)
    if (!/TERMIOS icanon=1 echo=1/.test(text.slice(i))) throw new Error(`terminal settings not restored: ${text}`);
    return { code: Number(text.slice(i + 6).split("\n")[0].trim()), screen: text.slice(0, i) };
  } finally {
    if (home === undefined) Deno.removeSync(dir, { recursive: true });
  }
}

/** Checks once per test process that the test user can run bbl from what the checkout holds. */
async function checkRunnable(): Promise<void> {
  const argv = bblArgv(["--version"], userEnv(user.home));
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "null", stderr: "piped", clearEnv: true })
    .output();
  if (!out.success) {
    throw new Error(
      `cannot run bbl as ${user.name} (can it read ${REPO}/node_modules? \`scripts/deno install\` fills it): ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}
await checkRunnable();
