/** Configuration: the file format, merging with origins, path patterns, and resolving against a host. */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/schema.ts";
import { type ConfigLayer, formatMerged, mergeConfigs } from "../../src/config/merge.ts";
import { expandPath, matchEnvNames, type PathContext } from "../../src/config/paths.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { isApproved, requireApproval } from "../../src/config/approval.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import { buildPlan } from "../../src/plan/plan.ts";
import { DEFAULT_TEMPLATE } from "../../src/plan/default_template.ts";
import { allLayers } from "../../src/plan/tree.ts";
import { UsageError } from "../../src/errors.ts";
import { fakeHost, host } from "./fixtures.ts";

const layer = (label: string, yaml: string, dir = "/cfg"): ConfigLayer => ({
  from: { label, dir },
  config: parseConfig(yaml, label),
});

const refuses = (yaml: string, msg: RegExp) =>
  assert.throws(
    () => parseConfig(yaml, "bbl.yaml"),
    (e: unknown) => e instanceof UsageError && msg.test(e.message),
    `${yaml} -> ${msg}`,
  );

Deno.test("config file: every bad input is one clear error with file:line:column", () => {
  refuses("home: persist\nmonuts: []\n", /^bbl.yaml:2:1: monuts: unknown key \(did you mean 'mounts'\?\)/);
  refuses("home: persit\n", /bbl.yaml:1:7: home: .*did you mean 'persist'/);
  refuses("home: [1]\n", /home: expected a non-empty string, got a list/);
  refuses("cwd: yes please\n", /cwd: expected true or false/);
  refuses("name: a/b\n", /name: invalid sandbox name 'a\/b'/);
  refuses("mounts:\n  - { kind: bnd, src: /x, dest: /y }\n", /bbl.yaml:2:13: mounts\[0\].kind: .*did you mean 'bind'/);
  refuses("mounts:\n  - { kind: bind, src: /x }\n", /mounts\[0\]: needs dest, or same: true/);
  refuses("mounts:\n  - { kind: bind, src: /x, dest: /y, same: true }\n", /either dest or same/);
  refuses(
    "mounts:\n  - { kind: bind, src: /x, dset: /y }\n",
    /mounts\[0\].dset: unknown key \(did you mean 'dest'\?\)/,
  );
  refuses("env: { set: { 1A: x } }\n", /env.set.1A: '1A' is not a variable name/);
  refuses("env: { sett: {} }\n", /env.sett: unknown key \(did you mean 'set'\?\)/);
  refuses("dns: [300.1.1.1]\n", /dns\[0\]: '300.1.1.1' is not an IP address/);
  refuses("net: shared\n", /net: expected one of none, host/);
  refuses("gui: x12\n", /gui: .*did you mean 'x11'/);
  refuses("limits: { nproc: -1 }\n", /limits.nproc: expected a whole number/);
  refuses("limits: { procs: 5 }\n", /limits.procs: unknown limit \(did you mean 'nproc'\?\)/);
  refuses("home: tmpfs\n  bad: indent\n", /^bbl.yaml:\d+:\d+: /);
  refuses("home: tmpfs\nhome: persist\n", /^bbl.yaml:2:1: /);
  refuses("- a\n", /expected a mapping, got a list/);
  assert.deepEqual(parseConfig("", "empty.yaml"), {});
  assert.deepEqual(parseConfig("# nothing\n", "c.yaml"), {});
});

Deno.test("merge: later sources win single values, lists accumulate, env and limits merge by name", () => {
  const m = mergeConfigs([
    { from: { label: "defaults", dir: "/" }, config: DEFAULT_CONFIG },
    layer("~/.config/bbl/default.yaml", "home: persist\nnever_access: [~/secret]\nenv: { set: { A: a, B: b } }\n"),
    layer("/apps/bbl.yaml", "home: overlay\nmounts: [{ kind: robind, src: data, same: true }]\nenv: { unset: [B] }\n"),
    layer("command line", "net: host\nenv: { keep: [B] }\nlimits: { nproc: 5 }\n"),
  ]);
  assert.equal(m.scalars.home?.value, "overlay");
  assert.equal(m.scalars.home?.from.label, "/apps/bbl.yaml");
  assert.equal(m.scalars.net?.from.label, "command line");
  assert.equal(m.scalars.machine_id?.from.label, "defaults");
  assert.ok(m.never_access.some((s) => s.value === "~/.ssh" && s.from.label === "defaults"));
  assert.ok(m.never_access.some((s) => s.value === "~/secret"));
  assert.deepEqual(Object.keys(m.env_set), ["A"]);
  assert.deepEqual(m.env_keep.map((s) => s.value), ["B"]);
  assert.deepEqual(m.env_unset, []);
  const shown = formatMerged(m, "app");
  assert.match(shown, /^home: "overlay" {2}# \/apps\/bbl.yaml$/m);
  assert.match(shown, /^net: "host" {2}# command line$/m);
  assert.match(shown, /^ {2}- {"kind":"robind","src":"data","same":true} {2}# \/apps\/bbl.yaml$/m);
  assert.match(shown, /^ {4}A: "a" {2}# ~\/.config\/bbl\/default.yaml$/m);
  assert.match(shown, /# {3}2\. ~\/.config\/bbl\/default.yaml/);
});

Deno.test("paths: ~, ${VAR}, relative, and per-component patterns", () => {
  const h = fakeHost({}, [
    "/run/user/1000/wayland-0",
    "/run/user/1000/wayland-0.lock",
    "/run/user/1000/wayland-12",
    "/run/user/1000/pulse/native",
    "/home/alice/.config/foo/x",
    "/home/alice/.config/bar/y",
    "/home/alice/.config/baz/z",
  ]);
  const ctx: PathContext = {
    env: { XDG_RUNTIME_DIR: "/run/user/1000", ODD: "/we+ird" },
    home: "/home/alice",
    dir: "/cfg",
    where: "t",
  };
  const x = (p: string) => expandPath(p, ctx, h.readDir);
  assert.deepEqual(x("${XDG_RUNTIME_DIR}/wayland-[0-9]+$"), ["/run/user/1000/wayland-0", "/run/user/1000/wayland-12"]);
  assert.deepEqual(x("~/.config/(foo|bar)"), ["/home/alice/.config/bar", "/home/alice/.config/foo"]);
  assert.deepEqual(x("~/.config/nothing-[0-9]"), []);
  assert.deepEqual(x("~"), ["/home/alice"]);
  assert.deepEqual(x("~/Music"), ["/home/alice/Music"]);
  assert.deepEqual(x("data/../in/./x"), ["/cfg/in/x"]);
  assert.deepEqual(x("${ODD}/a"), ["/we+ird/a"]); // a variable's value is never a pattern
  assert.deepEqual(x("/a/$$b"), ["/a/$b"]);
  assert.throws(() => x("${NOPE}/x"), /t: \$\{NOPE\} is not set/);
  assert.throws(() => x("/run/(unclosed"), /not a valid pattern/);
  assert.deepEqual(matchEnvNames("QT_.*", ["QT_A", "QTX", "QT_B", "A"]), ["QT_A", "QT_B"]);
  assert.deepEqual(matchEnvNames("EDITOR", ["EDITOR", "A"]), ["EDITOR"]);
  assert.deepEqual(matchEnvNames("EDITOR", ["A"]), []);
});

const resolve = (yaml: string, paths: string[] = [], env: Record<string, string> = {}) =>
  resolveConfig(
    "app",
    mergeConfigs([{ from: { label: "defaults", dir: "/" }, config: DEFAULT_CONFIG }, layer("/cfg/bbl.yaml", yaml)]),
    ["app"],
    {},
    fakeHost(env, paths),
  );

Deno.test("resolve: mounts, homes and never-access paths against the host", () => {
  const o = resolve(
    `home: persist
mounts:
  - { kind: robind, src: data, dest: /data }
  - { kind: bind, src: "\${XDG_RUNTIME_DIR}/wayland-[0-9]+$", same: true }
  - { kind: bind, src: ~/missing, same: true, optional: true }
never_access: ["~/.config/(secret|vault)"]
env: { keep: ["QT_.*"] }
`,
    [
      "/cfg/data/f",
      "/run/user/1000/wayland-1",
      "/home/alice/.ssh/id",
      "/home/alice/.config/vault/k",
      "/home/alice/.local/state/bbl/app/home/x",
    ],
    { XDG_RUNTIME_DIR: "/run/user/1000", QT_X: "1", OTHER: "2" },
  );
  assert.deepEqual(o.mounts, [
    { kind: "robind", src: "/cfg/data", dest: "/data", optional: false },
    { kind: "bind", src: "/run/user/1000/wayland-1", dest: "/run/user/1000/wayland-1", optional: false },
  ]);
  assert.deepEqual(o.home, { mode: "persist" });
  assert.equal(o.stateDir, "/home/alice/.local/state/bbl/app");
  assert.deepEqual(o.neverAccess.sort(), [
    "/home/alice/.config/vault",
    "/home/alice/.local/state/bbl",
    "/home/alice/.ssh",
  ]);
  assert.deepEqual(o.keepenv, ["QT_X"]);
});

Deno.test("resolve: bad mounts and homes stop before anything is created", () => {
  const cases: [string, RegExp][] = [
    ["mounts: [{ kind: bind, src: /nope, same: true }]", /\/cfg\/bbl.yaml: mounts\[0\].src: \/nope does not exist/],
    ["mounts: [{ kind: bind, src: /d, dest: data }]", /mounts\[0\].dest: 'data' is not an absolute path/],
    ["mounts: [{ kind: bind, src: /d, dest: /proc/x }]", /inside \/proc, which bbl builds itself/],
    ["mounts: [{ kind: bind, src: /d, dest: /dev }]", /inside \/dev/],
    ["mounts: [{ kind: bind, src: /d, dest: /sbxdir/apps }]", /inside \/sbxdir/],
    ["mounts: [{ kind: bind, src: /d, dest: / }]", /cannot replace the sandbox's root/],
    ["mounts: [{ kind: bind, src: /d, dest: /a/../b }]", /must not contain/],
    ["mounts: [{ kind: bind, src: '/(d|e)', dest: /x }]", /matches 2 paths: use same: true/],
    ["mounts: [{ kind: bind, src: '/z[0-9]', same: true }]", /nothing matches/],
    ["home: ~/nothere", /home: \/home\/alice\/nothere is not an existing directory/],
    ["home: /d/f", /is not an existing directory/],
    ["gui: x11", /gui: x11: DISPLAY is not set/],
    ["mounts: [{ kind: appimage, src: /d/f }]", /bbl.yaml: mounts\[0\]: \/d\/f: not an AppImage: a script/],
    [
      "mounts: [{ kind: appimage, src: /d/A.AppImage }, { kind: appimage, src: /e/A.AppImage }]",
      /a second AppImage named 'A'/,
    ],
    ["mounts: [{ kind: appimage, src: /d/A.AppImage, dest: /x }]", /mounts\[0\].dest: unknown key/],
  ];
  for (const [yaml, msg] of cases) {
    assert.throws(
      () => resolve(yaml, ["/d/f", "/e/f", "/d/A.AppImage", "/e/A.AppImage"]),
      (e: unknown) => e instanceof UsageError && msg.test(e.message),
      `${yaml} -> ${msg}`,
    );
  }
});

Deno.test("plan: an overlay home is built where the host is masked, and masked again on top", () => {
  const t = DEFAULT_TEMPLATE;
  const o = resolve("home: overlay\ncwd: true\nmachine_id: zero\nnet: host\n", [
    "/home/alice/src/f",
    "/home/alice/.ssh/id",
    "/home/alice/.local/state/bbl/other/home/x",
  ]);
  const plan = buildPlan(o, host, t);
  const L = Object.fromEntries(allLayers(plan.root).map((l) => [l.name, l]));
  const l2 = L.layer2.fs;
  const overlay = l2.findIndex((f) => f.kind === "overlay");
  assert.deepEqual(l2[overlay], {
    kind: "overlay",
    lower: ["/home/alice"],
    upper: "/home/alice/.local/state/bbl/app/upper",
    work: "/home/alice/.local/state/bbl/app/work",
    dest: "/zrootfs/home/alice",
  });
  for (const hidden of ["/home/alice/.ssh", "/home/alice/.local/state/bbl"]) {
    assert.ok(l2.findIndex((f) => f.kind === "mask" && f.dest === "/zrootfs" + hidden) > overlay, hidden);
  }
  // The current directory comes from the real home, over the overlay: its changes reach the host.
  assert.ok(l2.findIndex((f) => f.kind === "bind" && f.src === "/home/alice/src") > overlay);
  const l3 = L.layer3.fs;
  assert.ok(l3.some((f) => f.kind === "bind" && f.dest === "/home/alice" && f.src === "/zrootfs/home/alice"));
  assert.ok(l3.some((f) => f.kind === "bind" && f.dest === "/home/alice/src" && f.src === "/zrootfs/home/alice/src"));
  assert.ok(l3.some((f) => f.kind === "rofile" && f.dest === "/etc/machine-id" && f.content === "0".repeat(32) + "\n"));
  // The host's resolv.conf is a symlink into /run: its target is shown read-only.
  assert.ok(l3.some((f) => f.kind === "robind" && f.dest === "/run/systemd/resolve/stub-resolv.conf"));
  assert.deepEqual(plan.state, { dir: "/home/alice/.local/state/bbl/app", home: "overlay" });
});

Deno.test("plan: a persistent home is this sandbox's own state, shown again under the state mask", () => {
  const t = DEFAULT_TEMPLATE;
  const plan = buildPlan(
    resolve("home: persist\ndns: [1.1.1.1, '2606:4700::1111']\n", ["/home/alice/.local/state/bbl/b/home/f"]),
    host,
    t,
  );
  const L = Object.fromEntries(allLayers(plan.root).map((l) => [l.name, l]));
  const l2 = L.layer2.fs;
  const mask = l2.findIndex((f) => f.kind === "mask" && f.dest === "/zrootfs/home/alice/.local/state/bbl");
  const own = l2.findIndex((f) => f.kind === "bind" && f.dest === "/zrootfs/home/alice/.local/state/bbl/app/home");
  assert.ok(mask >= 0 && own > mask);
  const l3 = L.layer3.fs;
  assert.ok(
    l3.some((f) =>
      f.kind === "bind" && f.dest === "/home/alice" && f.src === "/zrootfs/home/alice/.local/state/bbl/app/home"
    ),
  );
  assert.ok(l3.some((f) =>
    f.kind === "rofile" && f.dest === "/run/systemd/resolve/stub-resolv.conf" &&
    f.content === "nameserver 1.1.1.1\nnameserver 2606:4700::1111\n"
  ));
  assert.equal(buildPlan(resolve(""), host, t).state, undefined);
});

Deno.test("the README's example configuration is valid", () => {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const example = readme.match(/```yaml\n(# ~\/Downloads\/FreeCAD.bbl.yaml[^]*?)```/);
  assert.ok(example, "the example is in the README");
  const c = parseConfig(example[1], "README.md");
  assert.equal(c.home, "persist");
  assert.equal(c.mounts?.length, 3);
  const gui = readme.match(/```yaml\n(gui: auto[^]*?)```/);
  assert.ok(gui, "the GUI example is in the README");
  assert.equal(parseConfig(gui[1], "README.md").dbus, "filter");
});

Deno.test("approvals: a file next to a program is used only as approved, asked about otherwise", () => {
  const dir = Deno.makeTempDirSync();
  try {
    let asked = 0;
    const say = (answer: boolean | null) => (() => (asked++, answer));
    assert.throws(
      () => requireApproval(dir, "/apps/bbl.yaml", "a: 1\n", say(null)),
      /`bbl config trust \/apps\/bbl.yaml`$/,
    );
    assert.throws(() => requireApproval(dir, "/apps/bbl.yaml", "a: 1\n", say(false)), /\(you answered no\)/);
    requireApproval(dir, "/apps/bbl.yaml", "a: 1\n", say(true));
    assert.ok(isApproved(dir, "/apps/bbl.yaml", "a: 1\n"));
    requireApproval(dir, "/apps/bbl.yaml", "a: 1\n", say(null));
    assert.equal(asked, 3, "not asked again for the approved text");
    assert.ok(!isApproved(dir, "/apps/bbl.yaml", "a: 2\n"), "a change needs a new approval");
    assert.ok(!isApproved(dir, "/other/bbl.yaml", "a: 1\n"), "approvals are per file");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
