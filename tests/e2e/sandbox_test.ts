/** End-to-end: real one-layer sandboxes, run as an unprivileged user (see tests/helpers.ts). */
import assert from "node:assert/strict";
import {
  bbl,
  comm,
  descendantsOf,
  instanceBase,
  ls,
  readRest,
  sandboxSh,
  startBbl,
  user,
  userTempDir,
  waitFor,
  writeAsUser,
} from "../helpers.ts";

const status = (s: string, field: string) => s.match(new RegExp(`^${field}:\\s*(\\S+)`, "m"))?.[1];

Deno.test("ids inside are the invoking user's, mapped to the layer's root", async () => {
  const r = await sandboxSh("id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map");
  assert.equal(r.code, 0, r.stderr);
  const [uid, gid, uidMap, gidMap] = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
  assert.equal(uid, String(user.uid));
  assert.equal(gid, String(user.gid));
  assert.equal(uidMap, `${user.uid} 0 1`);
  assert.equal(gidMap, `${user.gid} 0 1`);
});

Deno.test("every namespace is the app's own: user, pid, mnt, ipc, uts, cgroup, time, net", async () => {
  const kinds = ["user", "pid", "mnt", "ipc", "uts", "cgroup", "time", "net"];
  const r = await sandboxSh(kinds.map((k) => `readlink /proc/self/ns/${k}`).join("; "));
  assert.equal(r.code, 0, r.stderr);
  const inside = r.stdout.trim().split("\n");
  kinds.forEach((k, i) => {
    assert.match(inside[i], new RegExp(`^${k}:\\[\\d+\\]$`));
    assert.notEqual(inside[i], Deno.readLinkSync(`/proc/self/ns/${k}`), `${k} namespace is the host's`);
  });
  // --share-net keeps exactly the network namespace
  const shared = await sandboxSh("readlink /proc/self/ns/net", { flags: ["--share-net"] });
  assert.equal(shared.stdout.trim(), Deno.readLinkSync("/proc/self/ns/net"));
});

Deno.test("--uid 0 gives root inside, still without capabilities", async () => {
  const r = await sandboxSh("id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status", {
    flags: ["--uid", "0", "--gid", "0"],
  });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0], "0");
  assert.equal(status(r.stdout, "CapEff"), "0000000000000000");
  assert.equal(status(r.stdout, "CapBnd"), "0000000000000000");
  assert.equal(status(r.stdout, "NoNewPrivs"), "1");
});

Deno.test("every capability set is empty and no_new_privs is set", async () => {
  const r = await sandboxSh("cat /proc/self/status");
  assert.equal(r.code, 0, r.stderr);
  for (const f of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
    assert.equal(status(r.stdout, f), "0000000000000000", f);
  }
  assert.equal(status(r.stdout, "NoNewPrivs"), "1");
});

Deno.test("/proc lists only the sandbox's processes", async () => {
  const r = await sandboxSh("for p in /proc/[0-9]*; do echo ${p#/proc/} $(cat $p/comm); done");
  assert.equal(r.code, 0, r.stderr);
  const procs = r.stdout.trim().split("\n").map((l) => l.split(" "));
  const pids = procs.map(([p]) => Number(p));
  assert.ok(pids.includes(1), "the sandbox's init is pid 1");
  assert.ok(Math.max(...pids) < 100, `pids are the sandbox's own: ${pids}`);
  // init, the shell, and the cat of the last iteration at most
  assert.ok(procs.length <= 3, r.stdout);
});

Deno.test("host files are invisible: the user's home, /root, other homes", async () => {
  const home = userTempDir("bbl-home-");
  try {
    writeAsUser(`${home}/secret.txt`, "TOPSECRET");
    const r = await sandboxSh(
      "ls -A ~; cat ~/secret.txt; ls /root; ls /home; cat /etc/shadow; echo done",
      { home },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("TOPSECRET"));
    assert.ok(!r.stdout.includes("secret.txt"), r.stdout);
    assert.match(r.stderr, /secret\.txt: No such file/);
    assert.match(r.stderr, /\/root.*No such file/);
    assert.match(r.stderr, /shadow: Permission denied/);
    assert.match(r.stdout, /done/);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("writes to /usr, /etc, / and /dev fail with EROFS; /tmp and home are writable", async () => {
  const r = await sandboxSh(
    "for p in /usr/x /etc/x /x /dev/x; do touch $p 2>&1; done; echo a > /tmp/f && cat /tmp/f; echo b > ~/f && cat ~/f",
  );
  assert.equal(r.code, 0, r.stderr);
  for (const p of ["/usr/x", "/etc/x", "/x", "/dev/x"]) {
    assert.match(r.stdout, new RegExp(`'${p}': Read-only file system`), p);
  }
  assert.match(r.stdout, /^a\nb$/m);
});

Deno.test("/tmp and home are private: nothing written inside reaches the host", async () => {
  const marker = `bbl-marker-${crypto.randomUUID()}`;
  const home = userTempDir("bbl-home-");
  try {
    const r = await sandboxSh(`touch /tmp/${marker} ~/${marker} && ls /tmp ~`, { home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(marker));
    assert.throws(() => Deno.statSync(`/tmp/${marker}`));
    assert.deepEqual([...Deno.readDirSync(home)], []);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("/dev holds only the minimal set and is not world-writable", async () => {
  const r = await sandboxSh(
    "ls -A /dev; stat -c %a /dev; echo x > /dev/null && echo null-ok; test -e /sys || echo no-sys",
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.deepEqual(
    lines.slice(0, -3).sort(),
    [
      "fd",
      "full",
      "mqueue",
      "null",
      "ptmx",
      "pts",
      "random",
      "shm",
      "stderr",
      "stdin",
      "stdout",
      "tty",
      "urandom",
      "zero",
    ],
  );
  assert.equal(lines.at(-3), "755");
  assert.equal(lines.at(-2), "null-ok");
  assert.equal(lines.at(-1), "no-sys");
});

Deno.test("network: only loopback, and it is up; --share-net shows the host's interfaces", async () => {
  const r = await sandboxSh(
    "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate 2>/dev/null; grep -c . /proc/net/if_inet6 || true",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n").slice(0, 1), ["lo"]);
  const host = Deno.readTextFileSync("/proc/net/dev").split("\n").slice(2).filter(Boolean).length;
  const shared = await sandboxSh("tail -n +3 /proc/net/dev | wc -l", { flags: ["--share-net"] });
  assert.equal(Number(shared.stdout.trim()), host);
});

Deno.test("loopback works inside (a listener and a client on 127.0.0.1)", async () => {
  const r = await sandboxSh(
    `python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.send(b"ping"); print(a.recv(4).decode())'`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "ping");
});

Deno.test("hostname is the sandbox's, not the host's", async () => {
  const r = await sandboxSh("cat /proc/sys/kernel/hostname");
  assert.equal(r.stdout.trim(), "bbl");
  const named = await sandboxSh("cat /proc/sys/kernel/hostname", { flags: ["--hostname", "box1"] });
  assert.equal(named.stdout.trim(), "box1");
});

Deno.test("exit codes: the app's code, 128+signal, 127 not found, 126 not executable", async () => {
  assert.equal((await sandboxSh("exit 7")).code, 7);
  assert.equal((await sandboxSh("kill -9 $$")).code, 137);
  const nf = await bbl(["--", "no-such-command-xyz"]);
  assert.equal(nf.code, 127);
  assert.match(nf.stderr, /^bbl: no-such-command-xyz: command not found in the sandbox/);
  const abs = await bbl(["--", "/no/such/file"]);
  assert.equal(abs.code, 127);
  assert.match(abs.stderr, /^bbl: \/no\/such\/file: cannot execute in the sandbox: ENOENT/);
  const noexec = await bbl(["--", "/etc/passwd"]);
  assert.equal(noexec.code, 126);
  assert.match(noexec.stderr, /cannot execute in the sandbox: EACCES/);
});

Deno.test("a setup step that fails names its layer, the step and the errno: exit 125, nothing left", async () => {
  const before = ls(instanceBase).length;
  // /usr is already bound read-only when the mount point for the file would be made in it
  const r = await bbl(["--ro-bind", "/etc/hostname:/usr/bbl-new-file", "--", "true"]);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, "bbl: layer3: creating the mount point /usr/bbl-new-file: EROFS\n");
  assert.equal(ls(instanceBase).length, before, "the instance directory is gone");
});

Deno.test("an option-looking program name is a program, not an option", async () => {
  const r = await bbl(["--", "-x"]);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /^bbl: -x: command not found in the sandbox/);
  const sub = await bbl(["--", "doctor"]);
  assert.equal(sub.code, 127);
  assert.match(sub.stderr, /doctor: command not found in the sandbox/);
});

Deno.test("bbl doctor mounts an overlayfs and a FUSE filesystem for real in a user namespace, leaving nothing", async () => {
  const before = [...Deno.readDirSync("/tmp")].filter((e) => e.name.startsWith("bbl-probe-")).length;
  const r = await bbl(["doctor"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok {6}unprivileged user namespaces$/m);
  assert.match(r.stdout, /^ok {6}overlayfs in a user namespace$/m);
  assert.match(r.stdout, /^ok {6}FUSE mounts in a user namespace$/m);
  assert.match(r.stdout, /bbl can run sandboxes here\n$/);
  assert.equal([...Deno.readDirSync("/tmp")].filter((e) => e.name.startsWith("bbl-probe-")).length, before);
});

Deno.test("bad usage: one line, exit 125, no stack trace, nothing created", async () => {
  for (
    const [args, msg] of [
      [["--bogus"], /unknown option '--bogus'/],
      [["--uid", "abc", "--", "true"], /--uid abc: expected a number/],
      [["--setenv", "NOEQUALS", "--", "true"], /--setenv NOEQUALS: expected NAME=VALUE/],
      [["--setenv", "A=1", "--keep-env", "A", "--", "true"], /conflicts/],
      [["--name", "../evil", "--", "true"], /invalid sandbox name/],
    ] as const
  ) {
    const r = await bbl([...args]);
    assert.equal(r.code, 125, `${args}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!/\bat .*\.ts:\d+/.test(r.stderr), "no stack trace");
  }
});

Deno.test("environment: an allowlist, never the host's secrets", async () => {
  const r = await sandboxSh("env", {
    env: {
      SSH_AUTH_SOCK: "/tmp/agent.sock",
      GITHUB_TOKEN: "ghp_secret",
      AWS_SECRET_ACCESS_KEY: "aws_secret",
      DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1/bus",
      TERM: "xterm-test",
      LC_TIME: "C",
      KEEPME: "kept",
    },
    flags: ["--setenv", "FOO=bar baz", "--keep-env", "KEEPME"],
  });
  assert.equal(r.code, 0, r.stderr);
  const env = Object.fromEntries(
    r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  for (
    const secret of ["SSH_AUTH_SOCK", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DBUS_SESSION_BUS_ADDRESS", "DENO_DIR"]
  ) {
    assert.ok(!(secret in env), secret);
  }
  assert.ok(!r.stdout.includes("secret"));
  assert.equal(env.TERM, "xterm-test");
  assert.equal(env.LC_TIME, "C");
  assert.equal(env.FOO, "bar baz");
  assert.equal(env.KEEPME, "kept");
  assert.equal(env.USER, user.name);
  assert.equal(env.XDG_RUNTIME_DIR, `/run/user/${user.uid}`);
  const allowed = new Set([
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "LANG",
    "LC_TIME",
    "XDG_RUNTIME_DIR",
    "FOO",
    "KEEPME",
    "PWD",
    "SHLVL",
    "_",
  ]);
  for (const k of Object.keys(env)) assert.ok(allowed.has(k), `unexpected variable ${k}`);
});

Deno.test("stdin, stdout and stderr pass through", async () => {
  const r = await bbl(["--", "/bin/sh", "-c", "tr a-z A-Z; echo err >&2"], { stdin: "hello\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "HELLO\n");
  assert.equal(r.stderr, "err\n");
});

Deno.test("only stdio reaches the app: no other inherited descriptors", async () => {
  const r = await sandboxSh("ls /proc/self/fd");
  assert.equal(r.code, 0, r.stderr);
  // 0, 1, 2 and the descriptor ls opened for the listing
  assert.deepEqual(r.stdout.trim().split("\n").map(Number).filter((fd) => fd > 3), []);
});

Deno.test("instance directories live in a private (0700) base and are removed after exit", async () => {
  const r = await sandboxSh("sleep 0.3");
  assert.equal(r.code, 0, r.stderr);
  const st = Deno.statSync(instanceBase);
  assert.equal(st.mode! & 0o777, 0o700);
  assert.equal(st.uid, user.uid);
  assert.deepEqual([...Deno.readDirSync(instanceBase)].filter((e) => e.name.startsWith("sh-")), []);
});

Deno.test("SIGTERM to bbl is forwarded to the app, and bbl exits with its code", async () => {
  const home = userTempDir("bbl-home-");
  const { child, reader } = await startBbl(
    ["--", "/bin/sh", "-c", 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.05; done'],
    home,
  );
  child.kill("SIGTERM");
  const rest = await readRest(reader);
  const st = await child.status;
  Deno.removeSync(home, { recursive: true });
  assert.match(rest, /got-term/);
  assert.equal(st.code, 3);
});

Deno.test("SIGKILL of bbl kills every sandbox process; the next run removes what it left", async () => {
  const marker = `bblkill${Date.now()}`;
  const home = userTempDir("bbl-home-");
  const { child, reader } = await startBbl(
    ["--name", marker, "--", "/bin/sh", "-c", "sleep 1000 & sleep 999 & echo ready; wait"],
    home,
  );
  // Below the launcher, the whole sandbox: its inits, the shell and both sleeps.
  const tree = () => descendantsOf(child.pid);
  assert.ok(await waitFor(() => tree().filter((p) => comm(p) === "sleep").length === 2), `two sleeps: ${tree()}`);
  const sandbox = tree();
  const alive = () =>
    sandbox.filter((p) => {
      try {
        Deno.statSync(`/proc/${p}`);
        return true;
      } catch {
        return false;
      }
    });
  const dirs = () => [...Deno.readDirSync(instanceBase)].filter((e) => e.name.startsWith(marker)).map((e) => e.name);
  assert.equal(dirs().length, 1);
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  assert.ok(await waitFor(() => alive().length === 0), `left running: ${alive()}`);
  assert.equal(dirs().length, 1, "the killed launcher could not clean up");
  const next = await sandboxSh("true", { home });
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(dirs(), [], "the next run removed the stale directory");
  Deno.removeSync(home, { recursive: true });
});

Deno.test("two sandboxes at once do not see each other and both clean up", async () => {
  const [a, b] = await Promise.all([
    sandboxSh("sleep 0.5; ls /proc | grep -c '^[0-9]'", { flags: ["--name", "twin"] }),
    sandboxSh("sleep 0.5; ls /proc | grep -c '^[0-9]'", { flags: ["--name", "twin"] }),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.ok(Number(a.stdout) <= 4 && Number(b.stdout) <= 4, `${a.stdout} ${b.stdout}`);
  assert.deepEqual([...Deno.readDirSync(instanceBase)].filter((e) => e.name.startsWith("twin-")), []);
});

Deno.test("the app cannot mount, or regain capabilities through a new user namespace", async () => {
  const r = await sandboxSh(
    `python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno(), flush=True)
pid = os.fork()
if pid == 0:
    r = libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER|CLONE_NEWNS
    if r == 0:
        print("mount-in-new-ns", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno(), flush=True)
        print("setuid-caps", open("/proc/self/status").read().split("CapEff:")[1].split()[0], flush=True)
    else:
        print("unshare-refused", ctypes.get_errno(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)'`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^mount -1 1$/m); // EPERM
  assert.match(r.stdout, /^unshare-refused 1$/m); // EPERM: the seccomp filter (tests/security covers it without)
  // Without the nested-userns lock (issue 6) unshare may succeed; a mount made there is private to
  // that new namespace and leaves the sandbox's own mounts as they were.
  const m = r.stdout.match(/^mount-in-new-ns (\S+) /m);
  if (m) assert.match(r.stdout, /^setuid-caps/m);
  const after = await sandboxSh("grep -c ' /tmp ' /proc/self/mounts");
  assert.equal(after.stdout.trim(), "1");
});
