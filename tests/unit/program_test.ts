/** The program a run names: found on the host, shown inside only as far as needed, and the hint's paths. */
import assert from "node:assert/strict";
import { absolute, findProgram, namedFiles } from "../../src/config/program.ts";
import { buildPlan } from "../../src/plan/plan.ts";
import { DEFAULT_TEMPLATE } from "../../src/plan/default_template.ts";
import { allLayers } from "../../src/plan/tree.ts";
import { formatPlan } from "../../src/plan/format.ts";
import { notShownNote, shownAt } from "../../src/plan/visible.ts";
import type { FsOp } from "../../src/plan/types.ts";
import { UsageError } from "../../src/errors.ts";
import { fakeHost, host, runOptions } from "./fixtures.ts";

const h = fakeHost({}, [
  "/home/alice/Downloads/tool.sh",
  "/home/alice/Downloads/other.txt",
  "/home/alice/.local/bin/tool",
  "/home/alice/.ssh/run",
  "/home/alice/apps/firefox/firefox",
  "/usr/bin/ls",
  "/tmp/x/tool",
  "/proc/self/exe",
]);
const PATH = "/home/alice/.local/bin:/usr/bin:/bin";
const NEVER = ["/home/alice/.ssh"];
const find = (cmd: string, dir = false, cwd = "/home/alice/Downloads") =>
  findProgram(cmd, PATH, dir, NEVER, { ...h, cwd });

Deno.test("absolute paths: relative ones from the current directory, cleaned, symlinks not followed", () => {
  assert.equal(absolute("./tool.sh", "/home/alice/Downloads"), "/home/alice/Downloads/tool.sh");
  assert.equal(absolute("../x//y/./z", "/a/b"), "/a/x/y/z");
  assert.equal(absolute("/../etc", "/a"), "/etc");
});

Deno.test("the program: by path (relative, absolute), or through the host's PATH; never a never-access one", () => {
  const file = { path: "/home/alice/Downloads/tool.sh", src: "/home/alice/Downloads/tool.sh" };
  assert.deepEqual(find("./tool.sh"), { ...file, dest: file.path });
  assert.deepEqual(find("/home/alice/Downloads/tool.sh"), { ...file, dest: file.path });
  assert.deepEqual(find("/tmp/x/tool"), { path: "/tmp/x/tool", src: "/tmp/x/tool", dest: "/tmp/x/tool" });
  assert.deepEqual(find("tool"), {
    path: "/home/alice/.local/bin/tool",
    src: "/home/alice/.local/bin/tool",
    dest: "/home/alice/.local/bin/tool",
  });
  assert.equal(find("ls")?.path, "/usr/bin/ls");
  assert.equal(find("missing"), null);
  assert.equal(find("./missing.sh"), null);
  assert.equal(find("/proc/self/exe"), null, "bbl's own /proc is never a host file to show");
  assert.throws(
    () => find("/home/alice/.ssh/run"),
    (e) => e instanceof UsageError && /under the never-access path \/home\/alice\/\.ssh/.test(e.message),
  );
  // program_dir: the directory of the (resolved) program, run from there
  assert.deepEqual(find("./firefox", true, "/home/alice/apps/firefox"), {
    path: "/home/alice/apps/firefox/firefox",
    src: "/home/alice/apps/firefox",
    dest: "/home/alice/apps/firefox",
  });
});

Deno.test("the arguments' host files: whole arguments and the words of a shell command", () => {
  const cwd = { ...h, cwd: "/home/alice/Downloads" };
  assert.deepEqual(namedFiles(["-c", "./tool.sh --fast", "other.txt", "nothing"], cwd), [
    { word: "./tool.sh", path: "/home/alice/Downloads/tool.sh", whole: false },
    { word: "other.txt", path: "/home/alice/Downloads/other.txt", whole: true },
  ]);
});

Deno.test("visibility: the deepest step decides; binds show the host only at their own path", () => {
  const ops: FsOp[] = [
    { kind: "tmpfs", dest: "/", mode: 0o755, size: "64m" },
    { kind: "rosame", src: "/h/usr", dest: "/usr" },
    { kind: "tmpfs", dest: "/home/alice", mode: 0o700, size: "1g" },
    { kind: "bind", src: "/h/home/alice/data", dest: "/data" },
    { kind: "bind", src: "/h/home/alice/src", dest: "/home/alice/src" },
  ];
  assert.ok(shownAt(ops, "/h", "/usr/bin/ls"));
  assert.ok(shownAt(ops, "/h", "/home/alice/src/a.c"));
  assert.ok(!shownAt(ops, "/h", "/home/alice/Downloads/tool.sh"), "under the tmpfs home");
  assert.ok(!shownAt(ops, "/h", "/home/alice/data/x"), "bound elsewhere, not at its own path");
  assert.ok(!shownAt(ops, "/h", "/etc/passwd"), "nothing shows /etc here");
});

const dflt = () => DEFAULT_TEMPLATE;
const appRoot = (plan: ReturnType<typeof buildPlan>) => allLayers(plan.root).find((l) => l.name === "layer3")!;
const app = (plan: ReturnType<typeof buildPlan>) => allLayers(plan.root).find((l) => l.app)!.app!;

Deno.test("plan: a program the root would not show is bound read-only alone, run by that path, and explained", () => {
  const program = find("./tool.sh");
  const plan = buildPlan(runOptions({ command: ["./tool.sh", "a"], program }), host, dflt());
  const binds = appRoot(plan).fs.filter((f) => f.dest.startsWith("/home/alice/Downloads"));
  assert.deepEqual(binds, [{
    kind: "robind",
    src: "/zrootfs/home/alice/Downloads/tool.sh",
    dest: "/home/alice/Downloads/tool.sh",
  }]);
  assert.equal(app(plan).path, "/home/alice/Downloads/tool.sh");
  assert.deepEqual(app(plan).argv, ["./tool.sh", "a"]);
  const text = formatPlan(plan);
  assert.match(text, /robind\s+\/home\/alice\/Downloads\/tool\.sh <- \/zrootfs\/home\/alice\/Downloads\/tool\.sh/);
  assert.match(text, /app: \["\.\/tool\.sh","a"\] \(runs \/home\/alice\/Downloads\/tool\.sh\)/);
  // one the root shows already gets nothing more
  const ls = buildPlan(runOptions({ command: ["ls"], program: find("ls") }), host, dflt());
  assert.equal(appRoot(ls).fs.filter((f) => f.kind === "robind" && f.dest === "/usr/bin/ls").length, 0);
  // --cwd shows it already
  const cwd = buildPlan(
    runOptions({ command: ["./tool.sh"], program, cwd: true }),
    { ...host, cwd: "/home/alice/Downloads" },
    dflt(),
  );
  assert.equal(appRoot(cwd).fs.filter((f) => f.dest === "/home/alice/Downloads/tool.sh").length, 0);
});

Deno.test("plan: argument files the root does not show are listed for the hint, and not bound", () => {
  const cwd = { ...h, cwd: "/home/alice/Downloads" };
  const named = namedFiles(
    ["./tool.sh", "/usr/bin/ls", "/home/alice", "/home/alice/.ssh/run", "/proc/self/exe", "/tmp/x/tool"],
    cwd,
  );
  const plan = buildPlan(runOptions({ command: ["sh", ...named.map((n) => n.word)], namedFiles: named }), host, dflt());
  // the sandbox's own /proc is what /proc/self/exe means; /tmp inside is its own empty tmpfs
  assert.deepEqual(plan.notShown, [
    { word: "./tool.sh", path: "/home/alice/Downloads/tool.sh", whole: true },
    { word: "/tmp/x/tool", path: "/tmp/x/tool", whole: true },
  ]);
  assert.equal(appRoot(plan).fs.filter((f) => f.dest.includes("Downloads")).length, 0);
});

Deno.test("the note after a run: whole arguments always, words of one only after 126/127; one line", () => {
  const files = [
    { word: "./setup.sh", path: "/home/alice/Downloads/setup.sh", whole: false },
    { word: "data.txt", path: "/home/alice/Downloads/data.txt", whole: true },
  ];
  const cwd = "/home/alice/Downloads";
  assert.equal(
    notShownNote(files, 0, cwd),
    "bbl: not visible in the sandbox: data.txt (show it read-only with --ro-bind /home/alice/Downloads/data.txt," +
      " or the current directory read-write with --cwd)",
  );
  assert.equal(
    notShownNote(files, 127, "/"),
    "bbl: not visible in the sandbox: ./setup.sh, data.txt (show each read-only with --ro-bind PATH)",
  );
  assert.equal(notShownNote(files.slice(0, 1), 1, cwd), null);
  assert.equal(notShownNote([], 127, cwd), null);
});

Deno.test("plan: a name the app's PATH finds among bbl's own programs first (xdg-open with a display) is not the host's", () => {
  const program = { path: "/usr/bin/xdg-open", src: "/usr/bin/xdg-open", dest: "/usr/bin/xdg-open" };
  const desktop = {
    gui: { mode: "x11" as const, display: 0, trusted: false },
    dbus: { mode: "none" as const },
    audio: { mode: "none" as const },
    devices: [],
    themes: [],
    autolaunch: null,
  };
  const plan = buildPlan(runOptions({ command: ["xdg-open", "https://example.org/"], program, desktop }), host, dflt());
  assert.equal(app(plan).path, undefined, "found in /sbxdir/bin inside");
  assert.ok(app(plan).env.PATH.startsWith("/sbxdir/bin:"));
  // without a display there is no bbl xdg-open: the host's is the program
  const plain = buildPlan(runOptions({ command: ["xdg-open", "x"], program }), host, dflt());
  assert.equal(app(plain).path, "/usr/bin/xdg-open");
});
