/**
 * Running the program you just downloaded, end to end as the unprivileged test user: given by path
 * (relative or absolute, in the home or in /tmp) or found through PATH, it is shown read-only at its
 * path and runs, with nothing else of its directory; --program-dir shows the directory; files the
 * arguments name that the sandbox cannot see get one line saying so, and nothing more.
 */
import assert from "node:assert/strict";
import { bbl, withUserDirs, writeAsUser } from "../helpers.ts";

/** A script that reports its arguments, what its directory holds, and whether it can change itself or its directory. */
const TOOL = [
  "#!/bin/sh",
  'echo "ran $*"',
  'ls -A "$(dirname "$0")" | tr "\\n" " "; echo',
  'echo x 2>/dev/null >> "$0" && echo writable || echo read-only',
  'touch "$(dirname "$0")/x" 2>/dev/null && echo dir-writable || echo dir-read-only',
].join("\n") + "\n";

Deno.test("bbl -- ./tool.sh, an absolute path, and a path in /tmp run, with nothing else of their directory", () =>
  withUserDirs(["bbl-home-", "bbl-tmpx-"], async (home, tmp) => {
    const dl = `${home}/Downloads`;
    writeAsUser(`${dl}/tool.sh`, TOOL, 0o755);
    writeAsUser(`${dl}/private.txt`, "mine\n");
    writeAsUser(`${tmp}/tool`, TOOL, 0o755);
    writeAsUser(`${tmp}/other`, "x\n");
    const runs: [string[], string][] = [
      [["--", "./tool.sh", "a"], dl],
      [[`${dl}/tool.sh`, "a"], home],
      [[`${tmp}/tool`, "a"], home],
    ];
    for (const [args, cwd] of runs) {
      const r = await bbl(args, { home, cwd });
      assert.equal(r.code, 0, `${args}: ${r.stderr}`);
      const [ran, listing, write] = r.stdout.split("\n");
      assert.equal(ran, "ran a");
      assert.equal(listing.trim(), args.some((a) => a.includes(tmp)) ? "tool" : "tool.sh", "only the program");
      assert.equal(write, "read-only");
      assert.equal(r.stderr.includes("not visible"), false, r.stderr);
    }
    assert.equal(Deno.readTextFileSync(`${dl}/tool.sh`), TOOL, "the host's file is unchanged");
    assert.deepEqual([...Deno.readDirSync(dl)].map((e) => e.name).sort(), ["private.txt", "tool.sh"]);
    const before = await bbl(["--", "/bin/sh", "-c", `cat ${dl}/private.txt`], { home });
    assert.notEqual(before.code, 0, "the directory stays hidden");
  }));

Deno.test("bbl -- tool: a program in a PATH directory the sandbox hides (~/.local/bin) runs, and explain shows it", () =>
  withUserDirs(["bbl-home-"], async (home) => {
    const bin = `${home}/.local/bin`;
    writeAsUser(`${bin}/tool`, TOOL, 0o755);
    writeAsUser(`${bin}/other-tool`, TOOL, 0o755);
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const r = await bbl(["--", "tool", "b"], { home, env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").slice(0, 2), ["ran b", "tool "]);
    const explain = await bbl(["explain", "--", "tool"], { home, env });
    assert.match(explain.stdout, new RegExp(`robind\\s+${bin}/tool <- /zrootfs${bin}/tool`));
    assert.match(explain.stdout, new RegExp(`app: \\["tool"\\] \\(runs ${bin}/tool\\)`));
  }));

Deno.test("--program-dir (and program_dir: true) shows the program's directory, read-only", () =>
  withUserDirs(["bbl-home-"], async (home) => {
    const app = `${home}/apps/firefox`;
    writeAsUser(`${app}/firefox`, TOOL, 0o755);
    writeAsUser(`${app}/libxul.so`, "lib\n");
    const r = await bbl(["--program-dir", "--", "./firefox"], { home, cwd: app });
    assert.equal(r.code, 0, r.stderr);
    const [ran, listing, write, dirWrite] = r.stdout.split("\n");
    assert.equal(ran, "ran ");
    assert.equal(listing.trim(), "firefox libxul.so");
    assert.deepEqual([write, dirWrite], ["read-only", "dir-read-only"]);
    writeAsUser(`${home}/.config/bbl/firefox.yaml`, "program_dir: true\n");
    const fromConfig = await bbl([`${app}/firefox`], { home });
    assert.equal(fromConfig.stdout.split("\n")[1].trim(), "firefox libxul.so", fromConfig.stderr);
  }));

Deno.test("files the arguments name that the sandbox cannot see: one line saying so and the flag; no access given", () =>
  withUserDirs(["bbl-home-"], async (home) => {
    const dl = `${home}/Downloads`;
    writeAsUser(`${dl}/setup.sh`, "echo set up\n");
    const plain = await bbl(["--", "sh", "./setup.sh"], { home, cwd: dl });
    assert.notEqual(plain.code, 0);
    const notes = plain.stderr.split("\n").filter((l) => l.startsWith("bbl:"));
    assert.deepEqual(notes, [
      `bbl: not visible in the sandbox: ./setup.sh (show it read-only with --ro-bind ${dl}/setup.sh, or the current` +
      " directory read-write with --cwd)",
    ]);
    // inside a shell command, said when the run could not find or execute it
    const word = await bbl(["--", "sh", "-c", "./setup.sh"], { home, cwd: dl });
    assert.equal(word.code, 127);
    assert.match(word.stderr, /^bbl: not visible in the sandbox: \.\/setup\.sh \(show it read-only/m);
    // the flag it names works
    const shown = await bbl(["--ro-bind", `${dl}/setup.sh`, "--", "sh", "./setup.sh"], { home, cwd: dl });
    assert.equal(shown.stdout, "set up\n", shown.stderr);
    assert.equal(shown.stderr.includes("not visible"), false);
    // a file the sandbox shows anyway gets no note
    // a file the sandbox shows, or has its own of, gets no note
    const seen = await bbl(["--", "cat", "/etc/hostname", "/proc/self/stat", "/dev/null"], { home });
    assert.equal(seen.code, 0, seen.stderr);
    assert.equal(seen.stderr.includes("not visible"), false, seen.stderr);
  }));
