/**
 * Configuration and per-app state, end to end as the unprivileged test user: homes that keep nothing,
 * persist or overlay; the current-directory mode; never-access paths; symlinks planted by the app;
 * clean-up; where configuration comes from; and bad input that must stop before anything exists.
 */
import assert from "node:assert/strict";
import {
  bbl,
  descendantsOf,
  exists,
  inPty,
  instanceBase,
  ls,
  readRest,
  sandboxSh,
  startBbl,
  userTempDir,
  waitFor,
  withUserDirs,
  writeAsUser,
} from "../helpers.ts";

const state = (home: string, name = "") => `${home}/.local/state/bbl${name ? `/${name}` : ""}`;
const withHome = (fn: (home: string) => Promise<void>) => withUserDirs(["bbl-home-"], fn);

Deno.test("tmpfs home (the default): the app's files are gone after it, and nothing is left", async () => {
  await withHome(async (home) => {
    const r = await sandboxSh("echo x > ~/made && cat ~/made && echo ok", { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "x\nok\n");
    assert.deepEqual(ls(home), []);
  });
});

Deno.test("persist: the home survives runs and a SIGKILLed bbl; a second run at once is refused", async () => {
  await withHome(async (home) => {
    const flags = ["--home", "persist", "--name", "keep"];
    assert.equal((await sandboxSh("echo one > ~/f", { home, flags })).code, 0);
    const st = Deno.statSync(state(home, "keep"));
    assert.equal(st.mode! & 0o777, 0o700);
    assert.deepEqual(ls(state(home, "keep")), ["home", "lock", "record.json"]);
    const rec = JSON.parse(Deno.readTextFileSync(`${state(home, "keep")}/record.json`));
    assert.equal(rec.home, "persist");
    assert.ok(rec.created && rec.last_used);

    const running = await startBbl(
      [...flags, "--", "/bin/sh", "-c", "echo two > ~/g; sync; echo ready; sleep 60"],
      home,
    );
    const second = await sandboxSh("echo should-not-run", { home, flags });
    assert.equal(second.code, 125);
    assert.match(second.stderr, /sandbox 'keep' is already running/);
    assert.equal(second.stdout, "");
    const sandbox = descendantsOf(running.child.pid);
    running.child.kill("SIGKILL");
    await running.child.status;
    await readRest(running.reader);
    assert.ok(await waitFor(() => sandbox.every((p) => !exists(`/proc/${p}`))), "the sandbox ended with bbl");

    const r = await sandboxSh("cat ~/f ~/g", { home, flags });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "one\ntwo\n");
  });
});

Deno.test("overlay: the real home shows, changes stay in the sandbox, diff lists them, discard drops them", async () => {
  await withHome(async (home) => {
    writeAsUser(`${home}/docs/a`, "original\n");
    writeAsUser(`${home}/docs/b`, "to delete\n");
    writeAsUser(`${home}/.ssh/id`, "KEY\n", 0o600);
    const flags = ["--home", "overlay", "--name", "ov"];
    const r = await sandboxSh(
      "cat ~/docs/a; cat ~/.ssh/id 2>/dev/null || echo no-key; ls ~/.local/state/bbl 2>/dev/null || echo no-state;" +
        "echo edited > ~/docs/a && rm ~/docs/b && echo c > ~/c && mkdir ~/d && echo e > ~/d/e && echo done",
      { home, flags },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "original\nno-key\nno-state\ndone\n");
    assert.equal(Deno.readTextFileSync(`${home}/docs/a`), "original\n");
    assert.ok(exists(`${home}/docs/b`));
    assert.ok(!exists(`${home}/c`) && !exists(`${home}/d`));

    const diff = await bbl(["diff", "ov"], { home });
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal(diff.stdout, `A ${home}/c\nA ${home}/d/\nA ${home}/d/e\nM ${home}/docs/a\nD ${home}/docs/b\n`);

    const again = await sandboxSh("cat ~/docs/a ~/c; test -e ~/docs/b || echo b-gone", { home, flags });
    assert.equal(again.stdout, "edited\nc\nb-gone\n");

    const discard = await bbl(["discard", "ov", "--yes"], { home });
    assert.equal(discard.code, 0, discard.stderr);
    assert.equal((await bbl(["diff", "ov"], { home })).stdout, "");
    const fresh = await sandboxSh("cat ~/docs/a ~/docs/b; test -e ~/c || echo no-c", { home, flags });
    assert.equal(fresh.stdout, "original\nto delete\nno-c\n");
  });
});

Deno.test("--cwd: changes in the current directory land on the host, and nothing else does", async () => {
  await withHome(async (home) => {
    const work = userTempDir("bbl-work-");
    try {
      writeAsUser(`${work}/input`, "in\n");
      const r = await bbl(
        ["--cwd", "--", "/bin/sh", "-c", "pwd; cat input; echo out > output; echo h > ~/h; echo t > /tmp/t; ls /"],
        { home, cwd: work },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split("\n").slice(0, 2).join("\n"), `${work}\nin`);
      assert.equal(Deno.readTextFileSync(`${work}/output`), "out\n");
      assert.deepEqual(ls(work), ["input", "output"]);
      assert.deepEqual(ls(home), []);
      // Without --cwd the directory is not there at all.
      const plain = await bbl(["--", "/bin/sh", "-c", "cat input 2>/dev/null || echo absent"], { home, cwd: work });
      assert.equal(plain.stdout, "absent\n");
    } finally {
      Deno.removeSync(work, { recursive: true });
    }
  });
});

Deno.test("never_access from the configuration: unreadable even under a bound parent", async () => {
  await withHome(async (home) => {
    writeAsUser(`${home}/proj/ok`, "fine\n");
    writeAsUser(`${home}/proj/secret/key`, "KEY\n");
    writeAsUser(`${home}/proj/token-1`, "T1\n");
    writeAsUser(
      `${home}/.config/bbl/default.yaml`,
      "never_access: [~/proj/secret, '~/proj/token-[0-9]+']\n" +
        "mounts:\n  - { kind: robind, src: ~/proj, same: true }\n  - { kind: robind, src: ~/.config, same: true }\n",
    );
    const r = await sandboxSh(
      "cat ~/proj/ok; for p in ~/proj/secret/key ~/proj/token-1 ~/.config/bbl/default.yaml; do " +
        "cat $p 2>/dev/null && echo LEAK $p; done; ls ~/proj/secret 2>/dev/null && echo LEAK-LS; echo end",
      { home },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "fine\nend\n");
  });
});

Deno.test("symlinks the app planted in its persistent home never lead bbl outside it", async () => {
  await withHome(async (home) => {
    writeAsUser(`${home}/data/d`, "data\n");
    writeAsUser(`${home}/.ssh/id`, "KEY\n", 0o600);
    const flags = ["--home", "persist", "--name", "poison"];
    // Run 1: the app replaces parts of its home with symlinks to your keys and to /.
    const plant = await sandboxSh(`ln -s ${home}/.ssh ~/.config && ln -s / ~/.cache && echo planted`, { home, flags });
    assert.equal(plant.stdout, "planted\n", plant.stderr);
    // Inside, the links resolve in the sandbox's own view: your keys are not there.
    const look = await sandboxSh("cat ~/.config/id 2>/dev/null || echo no-key", { home, flags });
    assert.equal(look.stdout, "no-key\n");
    // Run 2: a mount whose destination goes through a planted link is refused, and nothing is created.
    for (const dest of ["~/.config/app", "~/.cache/app"]) {
      const r = await sandboxSh("echo SHOULD-NOT-RUN", {
        home,
        flags: [...flags, "--ro-bind", `${home}/data:${dest}`],
      });
      assert.equal(r.code, 125, r.stdout);
      assert.match(r.stderr, /symlink/);
      assert.equal(r.stdout, "");
    }
    assert.deepEqual(ls(`${home}/.ssh`), ["id"]);
    assert.ok(!exists("/app"));
  });
});

Deno.test("two sandboxes sharing a --home DIR: symlinks swapped in by one never make the other create or truncate outside", () =>
  withUserDirs(["bbl-shared-", "bbl-canary-"], async (shared, canary) => {
    writeAsUser(`${canary}/x`, "keep me\n");
    // A swaps ~/sub between a directory and a symlink to the canary, as bbl sees the host building the app's root
    // (/zrootfs), as fast as it can.
    const swap = `echo ready; while :; do rm -rf ~/sub; mkdir ~/sub; rm -rf ~/sub; ln -s /zrootfs${canary} ~/sub; done`;
    const a = await startBbl(["--name", "swapper", "--home", shared, "--", "/bin/sh", "-c", swap], shared);
    try {
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        // B mounts under ~/sub: its mount point is created, through whatever ~/sub is at that moment
        const r = await bbl(
          ["--name", "victim", "--home", shared, "--ro-bind", "/etc/hostname:~/sub/x", "--", "true"],
          {
            home: shared,
          },
        );
        const key = r.code === 0
          ? "ran"
          : r.stderr.match(/symlink|not a directory|ENOENT|EEXIST/)?.[0] ?? r.stderr.trim();
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        assert.deepEqual(ls(canary), ["x"], `start ${i} created something outside: ${r.stderr}`);
        assert.equal(Deno.readTextFileSync(`${canary}/x`), "keep me\n", `start ${i} truncated a file outside`);
      }
      // every start either ran or stopped with a clear reason: nothing else happened
      for (const k of outcomes.keys()) {
        assert.match(k, /^(ran|symlink|not a directory|ENOENT|EEXIST)$/, `${[...outcomes]}`);
      }
    } finally {
      a.child.kill("SIGTERM");
      await a.child.status;
      await a.reader.cancel();
    }
  }));

Deno.test("clean asks before removing, refuses without a terminal, and --yes removes", async () => {
  await withHome(async (home) => {
    for (const name of ["one", "two"]) {
      assert.equal((await sandboxSh("echo x > ~/x", { home, flags: ["--home", "persist", "--name", name] })).code, 0);
    }
    const list = await bbl(["list"], { home });
    assert.match(list.stdout, /^NAME +HOME +SIZE +LAST USED\none +persist +\S+ +\d{4}-\d\d-\d\d .*\ntwo +persist/);

    const noTty = await bbl(["clean", "one"], { home });
    assert.equal(noTty.code, 125);
    assert.match(noTty.stderr, /add --yes/);
    const no = await inPty(["clean", "one"], ["WAIT:[y/N]", "n\r"], home);
    assert.equal(no.code, 1);
    assert.deepEqual(ls(state(home)), ["one", "two"]);
    const yes = await inPty(["clean", "one"], ["WAIT:[y/N]", "y\r"], home);
    assert.equal(yes.code, 0, yes.screen);
    assert.deepEqual(ls(state(home)), ["two"]);
    assert.equal((await bbl(["clean", "--all", "--yes"], { home })).code, 0);
    assert.deepEqual(ls(state(home)), []);
    assert.equal((await bbl(["clean", "nothere", "--yes"], { home })).code, 125);
  });
});

Deno.test("configuration sources merge in order; config show names each value's source", async () => {
  await withHome(async (home) => {
    const app = userTempDir("bbl-app-");
    try {
      writeAsUser(
        `${home}/.config/bbl/default.yaml`,
        "home: persist\nhostname: from-default\nenv: { set: { A: d } }\n",
      );
      writeAsUser(`${home}/.config/bbl/tool.yaml`, "hostname: from-name\nenv: { set: { B: n } }\n");
      writeAsUser(
        `${app}/bbl.yaml`,
        "name: tool\nmounts: [{ kind: robind, src: ., same: true }]\nenv: { set: { C: dir, B: dir } }\n",
      );
      writeAsUser(`${app}/tool.bbl.yaml`, "env: { set: { D: named-dir } }\n");
      writeAsUser(`${app}/extra.yaml`, "env: { set: { E: explicit, D: explicit } }\n");
      writeAsUser(`${app}/prog`, '#!/bin/sh\necho "$(hostname) $A $B $C $D $E $F"; echo $HOME > ~/ran\n', 0o755);
      const approved = await bbl(["config", "trust", `${app}/bbl.yaml`, `${app}/tool.bbl.yaml`], { home });
      assert.equal(approved.code, 0, approved.stderr);
      const r = await bbl(["--config", `${app}/extra.yaml`, "--setenv", "F=flag", "--", `${app}/prog`], { home });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "from-name d dir dir explicit explicit flag\n");
      assert.ok(exists(`${state(home, "tool")}/home/ran`), "home: persist from default.yaml, name from bbl.yaml");
      const flagged = await bbl(["--hostname", "flagged", "--", `${app}/prog`], { home });
      assert.match(flagged.stdout, /^flagged /);

      const show = await bbl(["config", "show", "tool"], { home });
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, new RegExp(`^home: "persist" {2}# ${home}/.config/bbl/default.yaml$`, "m"));
      assert.match(show.stdout, new RegExp(`^hostname: "from-name" {2}# ${home}/.config/bbl/tool.yaml$`, "m"));
      assert.match(show.stdout, /^net: "none" {2}# defaults$/m);
      assert.match(show.stdout, /^ {2}- "~\/.ssh" {2}# defaults$/m);
    } finally {
      Deno.removeSync(app, { recursive: true });
    }
  });
});

Deno.test("bad configuration and flags stop before anything is created, with one clear message", async () => {
  await withHome(async (home) => {
    const cfg = `${home}/.config/bbl/default.yaml`;
    const cases: [string | null, string[], RegExp][] = [
      ["hom: persist\n", [], /default.yaml:1:1: hom: unknown key \(did you mean 'home'\?\)/],
      ["cwd: 3\n", [], /default.yaml:1:6: cwd: expected true or false, got a number/],
      ["home: [\n", [], /default.yaml:\d+:\d+: /],
      ["mounts: [{ kind: bind, src: ~/nothere, same: true }]\n", [], /mounts\[0\].src: .*nothere does not exist/],
      ["mounts: [{ kind: bind, src: /usr, dest: /proc/usr }]\n", [], /inside \/proc/],
      ["mounts: [{ kind: bind, src: /usr, dest: usr }]\n", [], /'usr' is not an absolute path/],
      [null, ["--name", "../x"], /--name: invalid sandbox name '..\/x'/],
      [null, ["--share-net", "--net", "none"], /--share-net conflicts with --net none/],
      [null, ["--home", "persit"], /did you mean 'persist'/],
      [null, ["--bind", "/nonexistent-dir"], /does not exist/],
    ];
    const before = ls(instanceBase);
    for (const [text, flags, msg] of cases) {
      writeAsUser(cfg, text ?? "");
      // With a persistent home, a run that got as far as starting would have created its state.
      const r = await sandboxSh("echo SHOULD-NOT-RUN", { home, flags: ["--home", "persist", ...flags] });
      assert.equal(r.code, 125, `${text ?? flags}: ${r.stderr}`);
      assert.match(r.stderr, msg, `${text ?? flags}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.ok(!exists(state(home)), `${text ?? flags}: state created`);
    }
    assert.deepEqual(ls(instanceBase), before);
  });
});

Deno.test("a configuration file that other users can change is refused", async () => {
  await withHome(async (home) => {
    const cfg = `${home}/.config/bbl/default.yaml`;
    writeAsUser(cfg, "hostname: changed\n", 0o666);
    const r = await sandboxSh("hostname", { home });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /refusing the configuration file .*default.yaml: other users can write .* \(mode 0666\)/);
    if (Deno.uid() === 0) {
      // Owned by someone else (only root can arrange that here).
      Deno.chmodSync(cfg, 0o644);
      Deno.chownSync(cfg, 65534, 65534);
      const other = await sandboxSh("hostname", { home });
      assert.equal(other.code, 125);
      assert.match(other.stderr, /belongs to another user/);
    }
  });
});

Deno.test("net, dns, machine id, os-release, /opt, hardware, limits and seccomp from the configuration", async () => {
  await withHome(async (home) => {
    const hostResolv = Deno.readTextFileSync("/etc/resolv.conf");
    const shared = await sandboxSh("cat /etc/resolv.conf", { home, flags: ["--net", "host"] });
    assert.equal(shared.stdout, hostResolv);
    const dns = await sandboxSh("cat /etc/resolv.conf", {
      home,
      flags: ["--dns", "192.0.2.53", "--dns", "2001:db8::1"],
    });
    assert.equal(dns.stdout, "nameserver 192.0.2.53\nnameserver 2001:db8::1\n");
    assert.equal(Deno.readTextFileSync("/etc/resolv.conf"), hostResolv);
    writeAsUser(
      `${home}/.config/bbl/default.yaml`,
      "machine_id: zero\nmask_os_release: true\nallow_opt: true\n",
    );
    const r = await sandboxSh("cat /etc/machine-id; grep ^ID= /etc/os-release; ls /opt | head -1", { home });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    if (exists("/etc/machine-id")) assert.equal(lines.shift(), "0".repeat(32));
    assert.equal(lines.shift(), "ID=linux");
    const opt = ls("/opt");
    if (opt.length > 0) assert.equal(lines.shift(), opt[0]);
    const plain = await sandboxSh("test -e /opt && echo opt || echo no-opt; ls /sys | wc -l");
    assert.equal(plain.stdout, "no-opt\n0\n");
    writeAsUser(`${home}/.config/bbl/default.yaml`, "see_real_hw: true\nlimits: { nofile: 64 }\nseccomp: off\n");
    const hw = await sandboxSh(
      "test -d /sys/class && echo sys; touch /sys/x 2>/dev/null || echo ro; ulimit -n; grep ^Seccomp: /proc/self/status",
      { home },
    );
    assert.equal(hw.code, 0, hw.stderr);
    assert.equal(hw.stdout, "sys\nro\n64\nSeccomp:\t0\n");
  });
});

Deno.test("/etc/hostname and /etc/hosts name the sandbox (the host's entries hidden), or the host's when asked", () =>
  withHome(async (home) => {
    const hostName = Deno.readTextFileSync("/proc/sys/kernel/hostname").trim();
    const hostHosts = exists("/etc/hosts") ? Deno.readTextFileSync("/etc/hosts") : "";
    const show = "uname -n; cat /etc/hostname; cat /etc/hosts";
    const own = await sandboxSh(show, { home, flags: ["--hostname", "cad"] });
    assert.equal(own.code, 0, own.stderr);
    const [uname, file, ...hosts] = own.stdout.trim().split("\n");
    assert.equal(uname, "cad");
    if (exists("/etc/hostname")) assert.equal(file, "cad");
    if (exists("/etc/hosts")) {
      assert.ok(hosts.some((l) => /^127\.0\.1\.1\s+cad$/.test(l)), own.stdout);
      assert.ok(!hosts.some((l) => l.split(/\s+/).slice(1).includes(hostName)), `the host's name shows: ${own.stdout}`);
    }
    const dflt = await sandboxSh("cat /etc/hostname", { home });
    if (exists("/etc/hostname")) assert.equal(dflt.stdout, "bbl\n");
    writeAsUser(`${home}/.config/bbl/default.yaml`, "etc_hosts: host\n");
    const asHost = await sandboxSh("cat /etc/hosts", { home });
    assert.equal(asHost.code, 0, asHost.stderr);
    assert.equal(asHost.stdout, hostHosts);
    assert.equal(Deno.readTextFileSync("/proc/sys/kernel/hostname").trim(), hostName, "the host keeps its name");
  }));

Deno.test("a configuration file next to the app is read, never written, by the sandbox", async () => {
  await withHome(async (home) => {
    const app = userTempDir("bbl-app-");
    try {
      writeAsUser(`${app}/bbl.yaml`, "hostname: mine\n");
      assert.equal((await bbl(["config", "trust", `${app}/bbl.yaml`], { home })).code, 0);
      writeAsUser(`${app}/run.sh`, '#!/bin/sh\nhostname; echo "hostname: pwned" > bbl.yaml || echo refused\n', 0o755);
      const w = await bbl(["--cwd", "--", `${app}/run.sh`], { home, cwd: app });
      assert.equal(w.stdout, "mine\nrefused\n", w.stderr);
      assert.equal(Deno.readTextFileSync(`${app}/bbl.yaml`), "hostname: mine\n");
    } finally {
      Deno.removeSync(app, { recursive: true });
    }
  });
});

Deno.test("a configuration file next to a program is used only once approved, and again after a change", async () => {
  await withHome(async (home) => {
    const app = userTempDir("bbl-app-");
    try {
      writeAsUser(`${app}/prog`, "#!/bin/sh\nhostname\n", 0o755);
      writeAsUser(`${app}/bbl.yaml`, "hostname: approved\nmounts: [{ kind: robind, src: ., same: true }]\n");
      const first = await bbl(["--", `${app}/prog`], { home });
      assert.equal(first.code, 125);
      assert.match(first.stderr, /bbl.yaml is new, or changed since you approved it: .* `bbl config trust .*bbl.yaml`/);
      assert.equal(first.stdout, "");
      assert.equal((await bbl(["config", "trust", `${app}/bbl.yaml`], { home })).code, 0);
      const ok = await bbl(["--", `${app}/prog`], { home });
      assert.equal(ok.stdout, "approved\n", ok.stderr);
      // Rewritten (as a sandbox with write access there could): refused until approved again.
      writeAsUser(
        `${app}/bbl.yaml`,
        'hostname: rewritten\nmounts: [{ kind: robind, src: ., same: true }, { kind: bind, src: "~", same: true }]\n',
      );
      const changed = await bbl(["--", `${app}/prog`], { home });
      assert.equal(changed.code, 125);
      assert.match(changed.stderr, /changed since you approved it/);
      // On a terminal, bbl shows the file and asks.
      const asked = await inPty(["--", `${app}/prog`], ["WAIT:[y/N]", "y\r", "WAIT:rewritten"], home);
      assert.match(asked.screen, /\| hostname: rewritten/);
      assert.equal(asked.code, 0, asked.screen);
      assert.equal((await bbl(["--", `${app}/prog`], { home })).stdout, "rewritten\n", "remembered");
      // Approvals live in a never-access path: a sandbox cannot read or forge them.
      const inside = await bbl(
        ["--home", "overlay", "--", "/bin/sh", "-c", "ls ~/.config/bbl/approved 2>&1 | head -1"],
        {
          home,
        },
      );
      assert.match(inside.stdout, /Permission denied/);
    } finally {
      Deno.removeSync(app, { recursive: true });
    }
  });
});
