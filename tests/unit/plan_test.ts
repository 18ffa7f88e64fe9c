import assert from "node:assert/strict";
import { buildPlan, defaultName, type RunOptions } from "../../src/plan/plan.ts";
import type { HostFacts } from "../../src/plan/host.ts";
import { formatPlan } from "../../src/plan/format.ts";
import { UsageError } from "../../src/errors.ts";

export const host: HostFacts = {
  uid: 1000,
  gid: 1000,
  user: "alice",
  home: "/home/alice",
  cwd: "/home/alice/src",
  pid: 4242,
  env: {
    PATH: "/usr/bin:/bin",
    SHELL: "/bin/bash",
    TERM: "xterm",
    SSH_AUTH_SOCK: "/run/agent",
    GITHUB_TOKEN: "x",
    LC_ALL: "C",
  },
  tty: null,
  terminalForeground: false,
  instanceBase: "/run/user/1000/bbl",
};

const opts = (o: Partial<RunOptions> = {}): RunOptions => ({
  command: ["ls", "-l"],
  shareNet: false,
  setenv: {},
  keepenv: [],
  ...o,
});

Deno.test("default plan: one layer, every namespace, root inside mapped to the user", () => {
  const p = buildPlan(opts(), host);
  assert.equal(p.instance, "ls-4242");
  assert.equal(p.instanceDir, "/run/user/1000/bbl/ls-4242");
  const [l] = p.layers;
  assert.deepEqual(l.unshare, ["user", "pid", "mnt", "ipc", "uts", "cgroup", "net"]);
  assert.deepEqual(l.uidMap, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.deepEqual(l.gidMap, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.equal(l.rootMount, "/run/user/1000/bbl/ls-4242/root");
  assert.equal(l.hostname, "bbl");
});

Deno.test("default plan: the filesystem starts with a tmpfs root and ends read-only", () => {
  const { fs } = buildPlan(opts(), host).layers[0];
  assert.deepEqual(fs[0], { kind: "tmpfs", dest: "/", mode: 0o755 });
  assert.deepEqual(fs.at(-1), { kind: "remount-ro", dest: "/" });
  const dests = fs.map((o) => `${o.kind} ${o.dest}`);
  for (
    const d of [
      "rosame /usr",
      "rosame /etc",
      "rosame /bin",
      "proc /proc",
      "dev /dev",
      "tmpfs /tmp",
      "tmpfs /run/user/1000",
      "tmpfs /home/alice",
    ]
  ) {
    assert.ok(dests.includes(d), d);
  }
  // parents before children
  assert.ok(dests.indexOf("tmpfs /run") < dests.indexOf("tmpfs /run/user/1000"));
  assert.ok(fs.filter((o) => o.kind === "rosame").every((o) => "optional" in o && o.optional));
});

Deno.test("the app: user ids through its own user namespace, cwd, shell default", () => {
  const p = buildPlan(opts(), host);
  assert.deepEqual(p.app.uidMap, [{ inside: 1000, outside: 0, count: 1 }]);
  assert.deepEqual(p.app.argv, ["ls", "-l"]);
  assert.equal(p.app.cwd, "/home/alice/src");
  assert.deepEqual(buildPlan(opts({ command: [] }), host).app.argv, ["/bin/bash"]);
  const root = buildPlan(opts({ uid: 0, gid: 0 }), host);
  assert.equal(root.app.uidMap, undefined);
  assert.equal(root.app.env.USER, "root");
  assert.ok(root.layers[0].fs.some((o) => o.dest === "/run/user/0"));
});

Deno.test("--share-net keeps the host network namespace", () => {
  assert.ok(!buildPlan(opts({ shareNet: true }), host).layers[0].unshare.includes("net"));
});

Deno.test("a terminal on stdin becomes /dev/console; foreground is carried to the app", () => {
  const p = buildPlan(opts(), { ...host, tty: "/dev/pts/4", terminalForeground: true });
  assert.ok(p.layers[0].fs.some((o) => o.kind === "dev" && o.console === "/dev/pts/4"));
  assert.equal(p.app.foreground, true);
});

Deno.test("names: derived from the command, validated", () => {
  assert.equal(defaultName(["/opt/FreeCAD_1.0-x86_64.AppImage"]), "FreeCAD_1.0-x86_64.AppImage");
  assert.equal(defaultName([".hidden"]), "hidden");
  assert.equal(defaultName([]), "shell");
  assert.throws(() => buildPlan(opts({ name: "../x" }), host), UsageError);
  assert.throws(() => buildPlan(opts({ name: "" }), host), UsageError);
  assert.equal(buildPlan(opts({ name: "my-box_1" }), host).instance, "my-box_1-4242");
});

Deno.test("explain output names every layer step", () => {
  const text = formatPlan(buildPlan(opts(), host));
  assert.match(text, /layer1: unshare user,pid,mnt,ipc,uts,cgroup,net; uid 0->1000; gid 0->1000; hostname bbl/);
  assert.match(text, /rosame\s+\/usr \(optional\)/);
  assert.match(text, /app: \["ls","-l"\]/);
  assert.match(text, /own user namespace, uid 1000->0/);
});
