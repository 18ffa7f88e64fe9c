import assert from "node:assert/strict";
import { buildPlan, orderFs } from "../../src/plan/plan.ts";
import { defaultName } from "../../src/config/load.ts";
import { host, runOptions as opts } from "./fixtures.ts";
import type { FsOp, LayerPlan } from "../../src/plan/types.ts";
import { formatPlan } from "../../src/plan/format.ts";
import { parseTemplate } from "../../src/plan/template.ts";
import { DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_TEXT } from "../../src/plan/default_template.ts";
import { allLayers } from "../../src/plan/tree.ts";

const dflt = () => DEFAULT_TEMPLATE;
const byName = (root: LayerPlan) => Object.fromEntries(allLayers(root).map((l) => [l.name, l]));

Deno.test("default tree: layers, namespaces and id maps", () => {
  const p = buildPlan(opts(), host, dflt());
  assert.equal(p.instance, "ls-4242");
  const L = byName(p.root);
  // helper layers without helpers are left out; layer1 and layer2h (namespaces only) are created with
  // the layer below them, in one process each
  assert.deepEqual(Object.keys(L), ["layer2", "layer3", "layer4"]);
  assert.equal(L.layer2.joined, "layer1");
  assert.deepEqual(L.layer2.unshare, ["user", "pid", "mnt"]);
  assert.deepEqual(L.layer2.uidMap, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.equal(L.layer3.joined, "layer2h");
  // the untrusted side's init is the container root itself: its pid 1 is in the app's mount and net namespaces
  assert.deepEqual(L.layer3.unshare, ["user", "pid", "mnt", "ipc", "uts", "cgroup", "time", "net"]);
  assert.deepEqual(L.layer3.uidMap, [{ inside: 0, outside: 0, count: 1 }]);
  assert.deepEqual(L.layer4.uidMap, [{ inside: 1000, outside: 0, count: 1 }]);
  assert.ok(L.layer4.app && L.layer4.dropCaps && L.layer4.noNewPrivs);
  assert.ok(!L.layer4.helperOnly, "the app layer's process is the app");
});

Deno.test("default tree: host paths resolved for the process that uses them", () => {
  const L = byName(buildPlan(opts(), host, dflt()).root);
  // each layer's process is compiled by the launcher, which looks at its sources through the view of
  // the host that process has before its pivot
  assert.equal(L.layer2.hostView, "");
  assert.equal(L.layer2.rootMount, "/run/user/1000/bbl/ls-4242/layer2");
  assert.equal(L.layer3.hostView, "/zrootfs");
  const three = parseTemplate(
    Deno.readTextFileSync(new URL("../fixtures/three-level.yaml", import.meta.url)),
    "t.yaml",
  );
  const R = byName(buildPlan(opts(), host, three).root);
  assert.deepEqual([R.outer.hostView, R.middle.hostView], ["", "/host"]);
  assert.equal(R.middle.rootMount, "/host/run/user/1000/bbl/ls-4242/middle");
  assert.equal(L.layer3.rootMount, "/zrootfs/run/user/1000/bbl/ls-4242/layer3");
  const usr = L.layer3.fs.find((f) => f.dest === "/usr");
  assert.deepEqual(usr, { kind: "rosame", src: "/zrootfs/usr", dest: "/usr", optional: true });
  // devices come from the parent's own /dev (a bind from /zrootfs would be nodev)
  assert.deepEqual(L.layer3.fs.find((f) => f.kind === "dev"), {
    kind: "dev",
    dest: "/dev",
    from: "/dev",
    size: "16m",
    shmSize: "256m",
  });
});

Deno.test("never-access paths are masked under host_at in layer2", () => {
  const L = byName(buildPlan(opts(), host, dflt()).root);
  const masks = L.layer2.fs.filter((f) => f.kind === "mask");
  assert.deepEqual(masks, [
    { kind: "mask", src: "/home/alice/.ssh", dest: "/zrootfs/home/alice/.ssh", optional: true, size: "4k" },
    { kind: "mask", src: "/home/alice/.gnupg", dest: "/zrootfs/home/alice/.gnupg", optional: true, size: "4k" },
  ]);
  const fs = L.layer2.fs.map((f) => f.dest);
  assert.ok(fs.indexOf("/zrootfs") < fs.indexOf("/zrootfs/home/alice/.ssh"), "the bind comes before its masks");
});

Deno.test("the container root: tmpfs first, remount-ro last, home and runtime dir", () => {
  const { fs } = byName(buildPlan(opts(), host, dflt()).root).layer3;
  assert.deepEqual(fs[0], { kind: "tmpfs", dest: "/", mode: 0o755, size: "64m" });
  assert.deepEqual(fs.find((f) => f.dest === "/tmp"), { kind: "tmpfs", dest: "/tmp", mode: 0o1777, size: "1g" });
  assert.deepEqual(fs.at(-1), { kind: "remount-ro", dest: "/" });
  const dests = fs.map((o) => `${o.kind} ${o.dest}`);
  for (
    const d of [
      "proc /proc",
      "dev /dev",
      "mqueue /dev/mqueue",
      "tmpfs /tmp",
      "tmpfs /run/user/1000",
      "tmpfs /home/alice",
    ]
  ) {
    assert.ok(dests.includes(d), d);
  }
  assert.ok(dests.indexOf("tmpfs /run") < dests.indexOf("tmpfs /run/user/1000"));
});

Deno.test("options: --share-net, --uid 0, a terminal, the command", () => {
  assert.ok(!byName(buildPlan(opts({ net: "host" }), host, dflt()).root).layer3.unshare.includes("net"));
  const root = byName(buildPlan(opts({ uid: 0, gid: 0 }), host, dflt()).root);
  assert.deepEqual(root.layer4.uidMap, [{ inside: 0, outside: 0, count: 1 }]);
  assert.equal(root.layer4.app!.env.USER, "root");
  assert.ok(root.layer3.fs.some((o) => o.dest === "/run/user/0"));
  const tty = byName(buildPlan(opts(), { ...host, tty: "/dev/pts/4" }, dflt()).root);
  assert.deepEqual(tty.layer2.fs.find((f) => f.kind === "dev"), {
    kind: "dev",
    dest: "/dev",
    from: "/dev",
    console: "/dev/pts/4",
    size: "16m",
    shmSize: "256m",
  });
  assert.deepEqual(tty.layer3.fs.find((f) => f.kind === "dev"), {
    kind: "dev",
    dest: "/dev",
    from: "/dev",
    console: "/dev/console",
    size: "16m",
    shmSize: "256m",
  });
  assert.equal(tty.layer4.app!.terminal, true);
  assert.deepEqual(byName(buildPlan(opts({ command: [] }), host, dflt()).root).layer4.app!.argv, ["/bin/bash"]);
});

Deno.test("--limit tmpfs=SIZE: every tmpfs of the plan has that size (masks: the smallest, read-only)", () => {
  const plan = buildPlan(opts({ tmpfsSize: "8m" }), host, dflt());
  const sizes: string[] = [];
  for (const l of allLayers(plan.root)) {
    if (l.sbxdir) sizes.push(l.sbxdir.size, l.sbxdir.tempSize);
    for (const f of l.fs) {
      if (f.kind === "tmpfs" || f.kind === "rotmpfs" || f.kind === "tmp-overlay") sizes.push(f.size);
      if (f.kind === "dev") sizes.push(f.size, f.shmSize);
      if (f.kind === "mask") assert.equal(f.size, "4k");
    }
  }
  assert.ok(sizes.length >= 12, String(sizes.length));
  assert.deepEqual([...new Set(sizes)], ["8m"]);
  const dflts = byName(buildPlan(opts(), host, dflt()).root).layer3;
  assert.deepEqual(dflts.sbxdir, { size: "16m", tempSize: "256m" });
});

Deno.test("fs order: a later step for the same dest wins; parents first; remount-ro last", () => {
  const ops: FsOp[] = [
    { kind: "remount-ro", dest: "/" },
    { kind: "tmpfs", dest: "/a/b", mode: 0o755, size: "1m" },
    { kind: "tmpfs", dest: "/", mode: 0o755, size: "1m" },
    { kind: "dir", dest: "/a", mode: 0o700 },
    { kind: "tmpfs", dest: "/a/b", mode: 0o700, size: "1m" },
  ];
  assert.deepEqual(orderFs(ops).map((o) => `${o.kind} ${o.dest}${"mode" in o ? ` ${o.mode.toString(8)}` : ""}`), [
    "tmpfs / 755",
    "dir /a 700",
    "tmpfs /a/b 700",
    "remount-ro /",
  ]);
});

Deno.test("names: derived from the command, validated", () => {
  assert.equal(defaultName(["/opt/FreeCAD_1.0.0-x86_64.AppImage"]), "FreeCAD");
  assert.equal(defaultName(["./krita-5.2.3-x86_64.AppImage"]), "krita");
  assert.equal(defaultName(["python3"]), "python3");
  assert.equal(defaultName([".hidden"]), "hidden");
  assert.equal(defaultName([]), "shell");
  assert.equal(buildPlan(opts({ name: "my-box_1" }), host, dflt()).instance, "my-box_1-4242");
});

Deno.test("explain output names every layer and its steps", () => {
  const text = formatPlan(buildPlan(opts(), host, dflt()));
  assert.match(
    text,
    /layer2 \(with layer1, in one process\): unshare user,pid,mnt; uid 0->1000; gid 0->1000; stays as init/,
  );
  assert.match(text, /layer3 \(with layer2h, in one process\): unshare user,pid,mnt,ipc,uts,cgroup,time,net; uid 0->0/);
  assert.match(text, /mask\s+\/zrootfs\/home\/alice\/\.ssh <- \/home\/alice\/\.ssh \(optional\)/);
  assert.match(text, /layer4 \(app\): unshare user; uid 1000->0; gid 1000->0; caps dropped; no_new_privs/);
  assert.match(text, /app: \["ls","-l"\]/);
});

Deno.test("every init leads a session; with a terminal, the app's nearest init owns it (so Ctrl-Z can stop the app)", () => {
  const withTty = byName(buildPlan(opts(), { ...host, tty: "/dev/pts/3" }, dflt()).root);
  assert.deepEqual(Object.keys(withTty).filter((n) => withTty[n].session === "terminal"), ["layer3"]);
  assert.deepEqual(Object.keys(withTty).filter((n) => withTty[n].session === "own"), ["layer2"]);
  assert.ok(withTty.layer4.app!.terminal);
  const noTty = byName(buildPlan(opts(), host, dflt()).root);
  assert.deepEqual(Object.keys(noTty).filter((n) => noTty[n].session === "terminal"), []);
  assert.deepEqual(Object.keys(noTty).filter((n) => noTty[n].session === "own"), ["layer2", "layer3"]);
});

Deno.test("/etc/hostname and /etc/hosts of the sandbox's own, unless etc_hosts: host or the template has a step there", () => {
  const files = (o = {}) =>
    byName(buildPlan(opts(o), host, dflt()).root).layer3.fs.filter((f) => f.dest.startsWith("/etc/host"));
  assert.deepEqual(files({ hostname: "cad" }), [
    { kind: "rofile", dest: "/etc/hostname", content: "cad\n", mode: 0o644 },
    {
      kind: "rofile",
      dest: "/etc/hosts",
      content: "127.0.0.1\tlocalhost\n127.0.1.1\tcad\n::1\tlocalhost ip6-localhost ip6-loopback\n",
      mode: 0o644,
    },
  ]);
  assert.deepEqual(files({ etcHosts: "host" }), []);
  const own = parseTemplate(
    DEFAULT_TEMPLATE_TEXT.replace(
      "- { kind: proc, dest: /proc }\n                - { kind: dev",
      "- { kind: proc, dest: /proc }\n                - { kind: mask, dest: /etc/hostname }\n                - { kind: dev",
    ),
    "t.yaml",
  );
  const l3 = byName(buildPlan(opts(), host, own).root).layer3.fs.filter((f) => f.dest === "/etc/hostname");
  assert.deepEqual(l3.map((f) => f.kind), ["mask"]);
});

Deno.test("only a layer of bare user/pid namespaces joins its single sublayer, and never two user or pid namespaces", () => {
  const tree = (outer: string, inner: string) =>
    parseTemplate(
      `layer:
  name: outer
  unshare: [${outer}]
  sublayers:
    - name: inner
      unshare: [${inner}]
      fs:
        - { kind: tmpfs, dest: / }
        - { kind: proc, dest: /proc }
      host_at: /h
      sublayers:
        - { name: app, app: true, unshare: [user], ids: user }
`,
      "t.yaml",
    );
  const names = (outer: string, inner: string) =>
    allLayers(buildPlan(opts(), host, tree(outer, inner)).root).map((l) => l.joined ? `${l.joined}+${l.name}` : l.name);
  assert.deepEqual(names("user, pid", "mnt"), ["outer+inner", "app"]);
  assert.deepEqual(names("user, pid", "pid, mnt"), ["outer", "inner", "app"], "two pid namespaces");
  assert.deepEqual(names("user, pid", "user, mnt"), ["outer", "inner", "app"], "two user namespaces");
});

Deno.test("nested_sandbox: the lock adds exactly the namespaces asked", () => {
  const lock = (n: number) => byName(buildPlan(opts({ nestedSandbox: n }), host, dflt()).root).layer3.maxUserNamespaces;
  assert.equal(lock(0), 1, "the app's own user namespace");
  assert.equal(lock(32), 33);
});
