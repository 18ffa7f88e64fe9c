/**
 * `deno task bench`: start-up time and memory of bbl next to bubblewrap and firejail (its default
 * profile, `firejail --quiet`), measured in one run with the commands interleaved (so machine noise
 * hits all alike), reported as medians, spread and ratios. As root, every command runs as the
 * unprivileged BBL_TEST_USER (default bbltest) when it exists, since that is how users run bbl.
 * Installs the reference tools from Debian when missing and root.
 *
 *   scripts/deno task bench [--runs N]
 *
 * Layer trees: the default one, a one-layer template (scripts/bench/one-layer.yaml) and a chain of
 * DEPTH layers generated here (each adds a user namespace and one process), to show the cost per layer.
 * AppImages: a fixture (tests/appimage_fixture.ts) under bbl, against its AppRun run directly from an
 * unpacked tree and from a plain squashfuse mount.
 */
import YAML from "yaml";
import { buildAppImage, payloadOffset } from "../../tests/appimage_fixture.ts";
import { sourceArgv } from "../../src/selfexec.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const runsArg = Deno.args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 30;

function sh(cmd: string, args: string[]): { code: number; out: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    return { code: r.code, out: new TextDecoder().decode(r.stdout) };
  } catch {
    return { code: 127, out: "" };
  }
}

/** The reference tools: bubblewrap, firejail, and for AppImages squashfuse, unsquashfs and fusermount3. */
function ensureTools(): boolean {
  const missing = [
    ["bwrap", "bubblewrap"],
    ["firejail", "firejail"],
    ["squashfuse", "squashfuse"],
    ["unsquashfs", "squashfs-tools"],
    ["fusermount3", "fuse3"],
  ].filter(([cmd]) => sh("sh", ["-c", `command -v ${cmd}`]).code !== 0).map(([, pkg]) => pkg);
  if (missing.length > 0 && Deno.uid() === 0) {
    console.log(`installing ${missing.join(" ")} from Debian...`);
    sh("apt-get", ["update", "-qq"]);
    sh("apt-get", ["install", "-y", "-qq", ...missing]);
  }
  return sh("bwrap", ["--version"]).code === 0 && sh("firejail", ["--version"]).code === 0;
}

/** As root: run as the test user; its uid/gid/home, or null to run as ourselves. */
function dropTo(): { uid: number; gid: number; home: string } | null {
  if (Deno.uid() !== 0) return null;
  const name = Deno.env.get("BBL_TEST_USER") ?? "bbltest";
  const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) => l.startsWith(`${name}:`));
  if (!line) return null;
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

const who = dropTo();
const home = who?.home ?? Deno.env.get("HOME") ?? "/tmp";
const env = [
  `PATH=/usr/local/bin:/usr/bin:/bin`,
  `HOME=${home}`,
  `DENO_DIR=${who ? `${home}/.cache/deno` : Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`}`,
  "DENO_NO_UPDATE_CHECK=1",
  "NO_COLOR=1",
];
const prefix = [
  ...(who ? ["setpriv", `--reuid=${who.uid}`, `--regid=${who.gid}`, "--init-groups", "--"] : []),
  "env",
  "-i",
  ...env,
];

// The test user never downloads: bbl's npm packages come from the checkout's node_modules/, which
// this process (the invoking user) filled while loading (deno.json: nodeModulesDir auto).
const bblRun = sourceArgv(DENO, ROOT, ["--cached-only"]);
const scratch = Deno.makeTempDirSync({ prefix: "bbl-bench-" });
Deno.chmodSync(scratch, 0o755);
const emptyTs = `${scratch}/empty.ts`;
Deno.writeTextFileSync(emptyTs, "Deno.exit(0);\n");
const oneLayer = `${ROOT}/scripts/bench/one-layer.yaml`;

/**
 * A chain of `depth` layers: level1 (the init), levels 2.. adding only a user namespace each,
 * and the one-layer template's layer as the deepest, which builds the root; then the app.
 */
function chainTemplate(depth: number): string {
  let layer = { ...YAML.parse(Deno.readTextFileSync(oneLayer)).layer, name: "deepest" };
  for (let i = depth - 1; i >= 1; i--) {
    layer = { name: `level${i}`, unshare: i === 1 ? ["user", "pid"] : ["user"], ids: "root", sublayers: [layer] };
  }
  return YAML.stringify({ layer });
}
const DEPTH = 8;
const deep = `${scratch}/chain-${DEPTH}.yaml`;
Deno.writeTextFileSync(deep, chainTemplate(DEPTH));

const bwrapArgs = [
  "bwrap",
  "--unshare-all",
  "--die-with-parent",
  "--new-session",
  "--ro-bind",
  "/usr",
  "/usr",
  "--ro-bind",
  "/etc",
  "/etc",
  ...["/bin", "/sbin", "/lib", "/lib64"].flatMap((p) => {
    try {
      const st = Deno.lstatSync(p);
      return st.isSymlink ? ["--symlink", Deno.readLinkSync(p), p] : ["--ro-bind", p, p];
    } catch {
      return [];
    }
  }),
  "--proc",
  "/proc",
  "--dev",
  "/dev",
  "--tmpfs",
  "/tmp",
];

interface Case {
  name: string;
  argv: string[];
}

const cases: Case[] = [
  { name: "bwrap /bin/true", argv: [...bwrapArgs, "/bin/true"] },
  // firejail's default profile, as a user who writes no profile gets it
  { name: "firejail --quiet /bin/true", argv: ["firejail", "--quiet", "/bin/true"] },
  { name: "unshare -Urmpf /bin/true", argv: ["unshare", "-Urmpf", "--mount-proc", "/bin/true"] },
  { name: "bbl -- /bin/true (default tree)", argv: [...bblRun, "--", "/bin/true"] },
  { name: "bbl one-layer template", argv: [...bblRun, "--template", oneLayer, "--", "/bin/true"] },
  { name: `bbl ${DEPTH}-layer chain`, argv: [...bblRun, "--template", deep, "--", "/bin/true"] },
  // Where bbl's time goes:
  { name: "deno: empty script", argv: [DENO, "run", "--allow-all", "--no-config", emptyTs] },
  { name: "bbl --version (launcher load)", argv: [...bblRun, "--version"] },
];

function timeOnce(argv: string[]): number {
  const full = [...prefix, ...argv];
  const t0 = performance.now();
  const r = new Deno.Command(full[0], { args: full.slice(1), stdout: "null", stderr: "piped" }).outputSync();
  const ms = performance.now() - t0;
  if (!r.success) throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(r.stderr)}`);
  return ms;
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
  return { median: q(0.5), p10: q(0.1), p90: q(0.9) };
}

function childrenOf(pid: number): number[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].flatMap((t) =>
      Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim().split(/\s+/).filter(Boolean).map(Number)
    );
  } catch {
    return [];
  }
}

const comm = (pid: number) => Deno.readTextFileSync(`/proc/${pid}/comm`).trim();

/**
 * RSS and PSS (kB) of bbl's own processes (the launcher and the layers' inits: every process of the
 * tree but the app) once the app, `sleep`, runs.
 */
async function memoryOf(argv: string[]): Promise<{ rss: number; pss: number; n: number }> {
  const full = [...prefix, ...argv];
  // setpriv and env exec in place, so the spawned pid becomes the launcher.
  const child = new Deno.Command(full[0], { args: full.slice(1), stdout: "null", stderr: "null" }).spawn();
  try {
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const tree: number[] = [];
      const walk = (p: number) => [p, ...childrenOf(p)].forEach((q, j) => j === 0 ? tree.push(q) : walk(q));
      walk(child.pid);
      const ours = tree.filter((p) => comm(p) !== "sleep");
      if (ours.length === tree.length) continue; // the app is not running yet
      let rss = 0, pss = 0;
      for (const p of ours) {
        const t = Deno.readTextFileSync(`/proc/${p}/smaps_rollup`);
        rss += Number(t.match(/^Rss:\s+(\d+)/m)?.[1] ?? 0);
        pss += Number(t.match(/^Pss:\s+(\d+)/m)?.[1] ?? 0);
      }
      return { rss, pss, n: ours.length };
    }
    throw new Error("the sandboxed sleep never started");
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

if (!ensureTools()) {
  console.error(
    "bench: bubblewrap or firejail is not installed (apt-get install bubblewrap firejail) and we are not root to install them",
  );
  Deno.exit(1);
}
console.log(
  `bbl benchmark: ${RUNS} interleaved runs each, as ${
    who ? `uid ${who.uid}` : "the current user"
  }, ${Deno.osRelease()}`,
);
for (const c of cases) for (let i = 0; i < 3; i++) timeOnce(c.argv); // warm caches
const times = new Map(cases.map((c) => [c.name, [] as number[]]));
for (let i = 0; i < RUNS; i++) for (const c of cases) times.get(c.name)!.push(timeOnce(c.argv));

const base = stats(times.get("bwrap /bin/true")!).median;
const fj = stats(times.get("firejail --quiet /bin/true")!).median;
console.log("\nstart-up (ms)                            median    p10    p90   vs bwrap  vs firejail");
for (const c of cases) {
  const s = stats(times.get(c.name)!);
  const f = (x: number) => x.toFixed(1).padStart(6);
  const ratio = (x: number) => `${(s.median / x).toFixed(2)}x`.padStart(8);
  console.log(`${c.name.padEnd(38)} ${f(s.median)} ${f(s.p10)} ${f(s.p90)} ${ratio(base)} ${ratio(fj)}`);
}

const med = (n: string) => stats(times.get(n)!).median;
const perLayer = (med(`bbl ${DEPTH}-layer chain`) - med("bbl one-layer template")) / (DEPTH - 1);
console.log(
  `\ncost per added layer: ${perLayer.toFixed(1)} ms; default tree / one layer: ${
    (med("bbl -- /bin/true (default tree)") / med("bbl one-layer template")).toFixed(2)
  }x`,
);

const mem = await memoryOf([...bblRun, "--", "/bin/sleep", "30"]);
console.log(
  `\nmemory of bbl's own processes while the app sleeps (${mem.n} processes): RSS ${
    (mem.rss / 1024).toFixed(1)
  } MiB, PSS ${(mem.pss / 1024).toFixed(1)} MiB`,
);
// The seccomp filter and the pty relay, each with and without, interleaved (fewer runs: slower cases).
const loop = "python3 -c 'import os\nfor _ in range(300000): os.getppid()'";
const tty = (
  cmd: string[],
) => ["script", "-qfec", cmd.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" "), "/dev/null"];
const extra: Case[] = [
  { name: "startup, seccomp default", argv: [...bblRun, "--", "/bin/true"] },
  { name: "startup, seccomp off", argv: [...bblRun, "--seccomp", "off", "--", "/bin/true"] },
  { name: "getppid loop, seccomp default", argv: [...bblRun, "--", "/bin/sh", "-c", loop] },
  { name: "getppid loop, seccomp off", argv: [...bblRun, "--seccomp", "off", "--", "/bin/sh", "-c", loop] },
  { name: "startup on a terminal (pty relay)", argv: tty([...bblRun, "--", "/bin/true"]) },
  { name: "startup without a terminal", argv: [...bblRun, "--", "/bin/true"] },
  { name: "64 MiB of output, pty relay", argv: tty([...bblRun, "--", "/bin/sh", "-c", "head -c 67108864 /dev/zero"]) },
  { name: "64 MiB of output, no terminal", argv: [...bblRun, "--", "/bin/sh", "-c", "head -c 67108864 /dev/zero"] },
  // bbl's relay next to a plain C one: the same output through script(1) alone
  { name: "64 MiB through script -qc alone", argv: tty(["/bin/sh", "-c", "head -c 67108864 /dev/zero"]) },
];
const extraRuns = Math.max(5, Math.floor(RUNS / 2));
const extraTimes = new Map(extra.map((c) => [c.name, [] as number[]]));
for (let i = 0; i < extraRuns; i++) for (const c of extra) extraTimes.get(c.name)!.push(timeOnce(c.argv));
const em = (n: string) => stats(extraTimes.get(n)!).median;
console.log(`\nhardening costs (${extraRuns} interleaved runs, medians)`);
for (const [a, b] of [[0, 1], [2, 3], [4, 5], [6, 7], [6, 8]]) {
  const [x, y] = [extra[a].name, extra[b].name];
  console.log(
    `${x.padEnd(36)} ${em(x).toFixed(1).padStart(7)} ms  vs ${y}: ${em(y).toFixed(1)} ms  (${
      (em(x) / em(y)).toFixed(2)
    }x)`,
  );
}

// AppImages: time to the first output of a fixture's AppRun, under bbl and without a sandbox.
const apps = `${scratch}/apps`;
Deno.mkdirSync(apps, { mode: 0o755 });
const image = buildAppImage(apps, "Bench.AppImage", { AppRun: "#!/bin/sh\necho first-output\n" }, "zstd");
sh("unsquashfs", ["-quiet", "-no-progress", "-o", String(payloadOffset()), "-d", `${apps}/extracted`, image]);
const mnt = `${apps}/mnt`;
Deno.mkdirSync(mnt);
if (who) Deno.chownSync(mnt, who.uid, who.gid);

/** ms until the command's first byte on stdout (then it is let finish). */
async function firstOutput(argv: string[]): Promise<number> {
  const full = [...prefix, ...argv];
  const t0 = performance.now();
  const child = new Deno.Command(full[0], { args: full.slice(1), stdout: "piped", stderr: "null" }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  const ms = performance.now() - t0;
  while (!(await reader.read()).done) { /* drain */ }
  if (first.done || !(await child.status).success) throw new Error(`${argv.join(" ")} failed`);
  return ms;
}
const appCases: Case[] = [
  { name: "bbl --appimage (squashfuse inside)", argv: [...bblRun, "--appimage", image] },
  { name: "bbl --appimage --appimage-extract (cached)", argv: [...bblRun, "--appimage-extract", "--appimage", image] },
  { name: "extracted AppRun, no sandbox", argv: [`${apps}/extracted/AppRun`] },
  {
    name: "squashfuse + AppRun, no sandbox",
    argv: [
      "sh",
      "-c",
      `squashfuse -o offset=${payloadOffset()} ${image} ${mnt} && ${mnt}/AppRun; fusermount3 -u ${mnt}`,
    ],
  },
];
const appRuns = Math.max(5, Math.floor(RUNS / 2));
const appTimes = new Map(appCases.map((c) => [c.name, [] as number[]]));
for (const c of appCases) await firstOutput(c.argv); // warm (and fill the extraction cache)
for (let i = 0; i < appRuns; i++) for (const c of appCases) appTimes.get(c.name)!.push(await firstOutput(c.argv));
const am = (n: string) => stats(appTimes.get(n)!).median;
console.log(`
AppImage: time to first output (${appRuns} interleaved runs, medians)`);
for (const c of appCases) {
  console.log(
    `${c.name.padEnd(44)} ${am(c.name).toFixed(1).padStart(7)} ms   vs extracted: ${
      (am(c.name) / am(appCases[2].name)).toFixed(1)
    }x   vs squashfuse: ${(am(c.name) / am(appCases[3].name)).toFixed(1)}x`,
  );
}

const memOne = await memoryOf([...bblRun, "--template", oneLayer, "--", "/bin/sleep", "30"]);
console.log(
  `  one-layer template (${memOne.n} processes): RSS ${(memOne.rss / 1024).toFixed(1)} MiB, PSS ${
    (memOne.pss / 1024).toFixed(1)
  } MiB`,
);
Deno.removeSync(scratch, { recursive: true });
