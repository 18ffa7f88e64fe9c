/** End-to-end: layer trees, run for real as an unprivileged user. */
import assert from "node:assert/strict";
import YAML from "yaml";
import type { FsOp, LayerPlan, Plan } from "../../src/plan/types.ts";
import {
  bbl,
  comm,
  descendantsOf,
  exists,
  instanceBase,
  REPO,
  sandboxSh,
  startBbl,
  user,
  userTempDir,
  waitFor,
  writeAsUser,
} from "../helpers.ts";

const FIXTURE = `${REPO}/tests/fixtures/three-level.yaml`;

/** Mount points and options from /proc/self/mountinfo: dest -> {fstype, options}. */
function mounts(mountinfo: string): Map<string, { fs: string; opts: string }> {
  const m = new Map<string, { fs: string; opts: string }>();
  for (const line of mountinfo.trim().split("\n")) {
    const [pre, post] = line.split(" - ");
    const f = pre.split(" ");
    m.set(f[4], { fs: post.split(" ")[0], opts: f[5] });
  }
  return m;
}

Deno.test("a three-level template: bbl explain matches what the layers really do", async () => {
  const home = userTempDir("bbl-home-");
  try {
    const ex = await bbl(["explain", "--json", "--template", FIXTURE, "--", "sh"], { home });
    assert.equal(ex.code, 0, ex.stderr);
    const plan: Plan = JSON.parse(ex.stdout);
    assert.deepEqual(allNames(plan.root), ["outer", "middle", "app"]);
    const middle = plan.root.sublayers[0];
    const app = middle.sublayers[0];

    const r = await sandboxSh(
      "cat /proc/self/mountinfo; echo ===; hostname; echo ===; cat /proc/self/uid_map; echo ===; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; echo ===; for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done; true",
      { home, flags: ["--template", FIXTURE] },
    );
    assert.equal(r.code, 0, r.stderr);
    const [mountinfo, hostname, uidMap, caps, procs] = r.stdout.split("===\n");
    const m = mounts(mountinfo);

    // the host name, id map and privileges the plan promised
    assert.equal(hostname.trim(), middle.hostname);
    assert.equal(hostname.trim(), `middle-${user.name}`);
    const [inside, outside, count] = uidMap.trim().split(/\s+/).map(Number);
    assert.deepEqual({ inside, outside, count }, app.uidMap![0]);
    assert.match(caps, /CapEff:\s+0+\n/);
    assert.match(caps, /CapBnd:\s+0+\n/);
    assert.match(caps, /NoNewPrivs:\s+1/);
    // the outer init, the helper the middle layer started, and the app's own processes
    assert.ok(procs.includes("sleep"), `helper running: ${procs}`);

    // every mounting step of the middle layer is a mount at its dest, read-only where the plan says
    const readonly = new Set(middle.fs.filter((f) => f.kind === "remount-ro").map((f) => f.dest));
    const expectFs: Partial<Record<FsOp["kind"], string>> = {
      tmpfs: "tmpfs",
      rotmpfs: "tmpfs",
      proc: "proc",
      mqueue: "mqueue",
      "tmp-overlay": "overlay",
    };
    for (const op of middle.fs) {
      if (["dir", "file", "symlink", "remount-ro"].includes(op.kind)) continue;
      if (op.kind === "rosame" && !m.has(op.dest) && op.optional) continue; // a symlink on this host (merged /usr)
      // a never-access path (masked again over the overlay) that this host does not have
      if (op.kind === "mask" && op.optional && !exists(op.src.replace(/^\/host\//, "/"))) continue;
      const got = m.get(op.dest);
      assert.ok(got, `${op.kind} ${op.dest} is mounted`);
      if (expectFs[op.kind]) assert.equal(got.fs, expectFs[op.kind], `${op.dest} fstype`);
      const ro = ["robind", "rosame", "rotmpfs", "rofile", "mask", "dev"].includes(op.kind) || readonly.has(op.dest);
      assert.equal(got.opts.split(",")[0], ro ? "ro" : "rw", `${op.kind} ${op.dest} ${got.opts}`);
    }
    assert.equal(m.get("/sbxdir")?.opts.split(",")[0], "ro");
    assert.equal(m.get("/sbxdir/temp")?.opts.split(",")[0], "rw");
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

function allNames(l: LayerPlan): string[] {
  return [l.name, ...l.sublayers.flatMap(allNames)];
}

Deno.test("filesystem kinds behave as planned (fixture)", async () => {
  const home = userTempDir("bbl-home-");
  try {
    writeAsUser(`${home}/visible.txt`, "VISIBLE");
    const r = await sandboxSh(
      [
        "cat /data/note",
        "cat /motd; echo x >> /motd || echo motd-ro",
        "readlink /link",
        "stat -c %a /data",
        "cat /etc/hostname; echo rc=$?",
        "touch /empty/x || echo empty-ro",
        "cat /hosthome/visible.txt; touch /hosthome/new || echo hosthome-ro",
        "echo changed > /ovl/visible.txt && cat /ovl/visible.txt && touch /ovl/added",
        "cat /tmp/helper-ready",
        "ls /sbxdir; ls /sbxdir/plans; touch /sbxdir/x || echo sbxdir-ro; touch /sbxdir/temp/ok && echo temp-rw",
      ].join("; "),
      { home, flags: ["--template", FIXTURE] },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, new RegExp(`^hello ${user.name}$`, "m"));
    assert.match(out, /^read only\nmotd-ro$/m);
    assert.match(out, /^\/usr\/bin$/m);
    assert.match(out, /^700$/m);
    assert.match(r.stderr, /\/etc\/hostname: Permission denied/); // masked: empty and unreadable
    assert.match(out, /^empty-ro$/m);
    assert.match(out, /^VISIBLE\s*hosthome-ro$/m);
    assert.match(out, /^changed$/m); // the overlay is writable inside...
    assert.equal(Deno.readTextFileSync(`${home}/visible.txt`), "VISIBLE"); // ...not on the host
    assert.match(out, /^started$/m); // the helper ran, and was ready, before the app
    assert.match(out, /^apps\nplans\ntemp\napp\.json\nsbxdir-ro\ntemp-rw$/m); // plans of the layers below only
    assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name), ["visible.txt"]);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("never-access paths are unreadable even under a bound parent", async () => {
  const home = userTempDir("bbl-home-");
  try {
    Deno.mkdirSync(`${home}/.ssh`, { mode: 0o700 });
    if (Deno.uid() === 0) Deno.chownSync(`${home}/.ssh`, user.uid, user.gid);
    writeAsUser(`${home}/.ssh/id_ed25519`, "PRIVATE KEY", 0o600);
    writeAsUser(`${home}/.netrc`, "machine x password hunter2", 0o600);
    writeAsUser(`${home}/ok.txt`, "fine");
    const r = await sandboxSh(
      "cat /hosthome/ok.txt; echo; ls -A /hosthome/.ssh; cat /hosthome/.ssh/id_ed25519; cat /hosthome/.netrc; echo end",
      { home, flags: ["--template", FIXTURE] },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^fine$/m);
    assert.ok(!r.stdout.includes("PRIVATE KEY") && !r.stdout.includes("hunter2"), r.stdout);
    assert.match(r.stderr, /\.ssh.*Permission denied/);
    assert.match(r.stderr, /\.netrc: Permission denied/);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("default tree: only the inits and the app stay resident; the app sees only its side", async () => {
  const home = userTempDir("bbl-home-");
  const { child, reader } = await startBbl(["--", "/bin/sh", "-c", "echo ready; exec sleep 1000"], home);
  assert.ok(await waitFor(() => descendantsOf(child.pid).some((p) => comm(p) === "sleep")));
  // layer1 (init), layer3 (init of the untrusted side), each now bbl's native init, and the app;
  // layer2 and layer2h exit (and are reaped) once their sublayers run.
  const steady = () =>
    JSON.stringify(descendantsOf(child.pid).map(comm)) === JSON.stringify(["bbl-init", "bbl-init", "sleep"]);
  assert.ok(await waitFor(steady, 5000), `resident: ${descendantsOf(child.pid).map(comm)}`);
  child.kill("SIGTERM");
  const st = await child.status;
  await reader.cancel();
  Deno.removeSync(home, { recursive: true });
  assert.equal(st.code, 143);
});

Deno.test("a bad template is refused before anything is created", async () => {
  const dir = userTempDir("bbl-tpl-");
  try {
    const bad = `${dir}/bad.yaml`;
    writeAsUser(bad, Deno.readTextFileSync(FIXTURE).replace("kind: tmp-overlay", "kind: tmp-overlya"));
    const before = [...Deno.readDirSync(instanceBase)].length;
    const r = await bbl(["--template", bad, "--", "true"]);
    assert.equal(r.code, 125);
    assert.match(
      r.stderr,
      /^bbl: \/.*bad\.yaml:\d+:\d+: middle\.fs\[18\]\.kind: unknown kind 'tmp-overlya' \(did you mean 'tmp-overlay'\?\)\n$/,
    );
    assert.equal([...Deno.readDirSync(instanceBase)].length, before);
    const missing = await bbl(["--template", `${dir}/none.yaml`, "--", "true"]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /^bbl: --template .*none\.yaml: No such file/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bbl template prints the embedded default, which runs when passed back", async () => {
  const t = await bbl(["template"]);
  assert.equal(t.code, 0);
  assert.equal(t.stdout, Deno.readTextFileSync(`${REPO}/templates/default.yaml`));
  const dir = userTempDir("bbl-tpl-");
  try {
    writeAsUser(`${dir}/mine.yaml`, t.stdout);
    const r = await sandboxSh("echo ok", { flags: ["--template", `${dir}/mine.yaml`] });
    assert.equal(r.stdout, "ok\n");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("untrusted helpers (layer4a) run beside the app, unprivileged and under its seccomp policy", async () => {
  const dir = userTempDir("bbl-tpl-");
  try {
    const tpl = YAML.parse(Deno.readTextFileSync(`${REPO}/templates/default.yaml`));
    const layer3 = tpl.layer.sublayers[0].sublayers[1].sublayers[0];
    const layer4a = layer3.sublayers.find((l: { name: string }) => l.name === "layer4a");
    layer4a.helpers = [{
      run: ["/bin/sh", "-c", "grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status > /tmp/helper; exec sleep 100"],
      wait: { path: "/tmp/helper" },
    }];
    writeAsUser(`${dir}/t.yaml`, YAML.stringify(tpl));
    const r = await sandboxSh(
      // no waiting inside: a helper-only layer listed before the app is ready before the app starts
      "cat /tmp/helper",
      {
        flags: ["--template", `${dir}/t.yaml`],
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^CapEff:\s+0+$/m);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(r.stdout, /^Seccomp:\s+2$/m); // filter mode
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a helper that exits, or is never ready, stops the start with a clear error, exit 125, nothing left", async () => {
  const dir = userTempDir("bbl-tpl-");
  try {
    const fixture = Deno.readTextFileSync(FIXTURE);
    const helper = 'run: [/bin/sh, -c, "echo started > /tmp/helper-ready; exec sleep 1000"]';
    assert.ok(fixture.includes(helper));
    for (
      const [run, timeout, message] of [
        ['run: [/bin/sh, -c, "exit 3"]', "", /^bbl: helper \/bin\/sh exited before it was ready\n$/],
        ["run: [sleep, '100']", "\n          timeout: 1", /^bbl: helper sleep was not ready after 1 s \(ENOENT\)\n$/],
      ] as const
    ) {
      const file = `${dir}/helper.yaml`;
      writeAsUser(
        file,
        fixture.replace(helper, run).replace(
          "wait: { path: /tmp/helper-ready }",
          `wait: { path: /tmp/helper-ready }${timeout}`,
        ),
      );
      const before = [...Deno.readDirSync(instanceBase)].length;
      const r = await bbl(["--template", file, "--", "echo", "SHOULD-NOT-RUN"]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "");
      assert.equal([...Deno.readDirSync(instanceBase)].length, before, "the instance directory is removed");
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bbl explain --steps prints the compiled program: each layer's setup, its clone, its init", async () => {
  const r = await bbl(["explain", "--steps", "--", "true"]);
  assert.equal(r.code, 0, r.stderr);
  const steps = r.stdout.slice(r.stdout.indexOf("\nprogram")).split("\n").filter((l) => /^ +\d+ {2}/.test(l));
  assert.ok(steps.length > 100, `${steps.length} steps`);
  for (
    const want of [
      /pivot_root\("\.", "\."\) {2}# layer2: /,
      /pivot_root\("\.", "\."\) {2}# layer3: /,
      /sethostname\("bbl", 3\)/,
    ]
  ) {
    assert.ok(steps.some((l) => want.test(l)), String(want));
  }
  // two inits (layer1+2 and layer2h+3) and the app's execve, tried along PATH
  assert.equal(steps.filter((l) => l.includes('execveat(-1, "", ["bbl-init"')).length, 2);
  assert.ok(steps.some((l) => /execve\("[^"]*\/true"/.test(l)));
});
