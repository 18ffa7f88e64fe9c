/** Escape attempts with shell tools, against the default sandbox, as an unprivileged user. */
import assert from "node:assert/strict";
import {
  bblArgv,
  comm,
  descendantsOf,
  exists,
  REPO,
  runArgv,
  sandboxSh,
  startBbl,
  user,
  userEnv,
  userTempDir,
  waitFor,
} from "../helpers.ts";

Deno.test("every sandbox process: no capabilities, no_new_privs (the inits included)", async () => {
  const r = await sandboxSh(
    "for s in /proc/[0-9]*/status; do echo $(grep -E '^(Name|CapEff|CapBnd|CapPrm|NoNewPrivs)' $s | cut -f2); done",
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.ok(lines.length >= 2, r.stdout);
  for (const l of lines) {
    const [name, prm, eff, bnd, nnp] = l.split(" ");
    assert.deepEqual(
      [prm, eff, bnd, nnp],
      ["0000000000000000", "0000000000000000", "0000000000000000", "1"],
      `${name}: ${l}`,
    );
  }
});

Deno.test("while the app runs: every thread below bbl has no capability and no_new_privs; no Deno runtime; the launcher holds no descriptor into the sandbox", async () => {
  const home = userTempDir("bbl-home-");
  const { child, reader } = await startBbl(["--", "/bin/sh", "-c", "echo ready; exec sleep 1000"], home);
  try {
    assert.ok(await waitFor(() => descendantsOf(child.pid).some((p) => comm(p) === "sleep")));
    // once the inits have handed over to the native init
    assert.ok(await waitFor(() => descendantsOf(child.pid).every((p) => comm(p) !== "deno"), 5000));
    const procs = descendantsOf(child.pid);
    assert.equal(procs.length, 3, `${procs.map(comm)}`);
    for (const pid of procs) {
      for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
        const status = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/status`);
        const f = (k: string) => status.match(new RegExp(`^${k}:\\s*(\\S+)`, "m"))?.[1];
        const label = `${comm(pid)} ${pid} thread ${t.name}`;
        for (const k of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
          assert.equal(f(k), "0000000000000000", `${label} ${k}`);
        }
        assert.equal(f("NoNewPrivs"), "1", label);
      }
      // no process below the launcher is a Deno runtime (the launcher is the only one): each is one thread
      assert.match(Deno.readTextFileSync(`/proc/${pid}/status`), /^Threads:\s*1$/m, `${comm(pid)} ${pid}`);
    }
    // The launcher holds no descriptor into the sandbox's trees: no directory, no mount, nothing of the
    // host view or of the instance but its lock (its other files are Deno's cache, pipes and sockets).
    const fds = [...Deno.readDirSync(`/proc/${child.pid}/fd`)].map((e) => e.name);
    assert.ok(fds.length > 3, "the launcher's descriptors are read");
    for (const fd of fds) {
      let link: string, dir: boolean;
      try {
        link = Deno.readLinkSync(`/proc/${child.pid}/fd/${fd}`);
        dir = Deno.statSync(`/proc/${child.pid}/fd/${fd}`).isDirectory;
      } catch {
        continue; // closed while listing
      }
      assert.ok(!dir, `fd ${fd}: a directory (${link})`);
      assert.doesNotMatch(link, /^anon_inode:\[?(fsmount|fscontext|mount)/, `fd ${fd}: ${link}`);
      assert.doesNotMatch(link, /\/zrootfs|^\/proc\/|\/layer\d/, `fd ${fd}: ${link}`);
      if (/\/tmp\/bbl-\d+\//.test(link)) assert.match(link, /\/lock$/, `fd ${fd}: only the instance's lock`);
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel();
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test({
  name: "the resident inits hold only the sandbox's stdio and their signalfd (nothing of the Deno cache or the trees)",
  // they are not dumpable: only root can list their descriptors
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const home = userTempDir("bbl-home-");
    const { child, reader } = await startBbl(["--", "/bin/sh", "-c", "echo ready; exec sleep 1000"], home);
    try {
      const inits = () => descendantsOf(child.pid).filter((p) => comm(p) === "bbl-init");
      assert.ok(await waitFor(() => inits().length === 2, 5000), `${descendantsOf(child.pid).map(comm)}`);
      for (const pid of inits()) {
        const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => e.name).sort();
        assert.deepEqual(fds, ["0", "1", "2", "3"], `${pid}`);
        assert.equal(Deno.readLinkSync(`/proc/${pid}/fd/3`), "anon_inode:[signalfd]");
        assert.match(Deno.readLinkSync(`/proc/${pid}/exe`), /^\/memfd:bbl-init/);
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
      Deno.removeSync(home, { recursive: true });
    }
  },
});

Deno.test("the app's pid 1 shows nothing of the trusted side: /proc/1/{cmdline,mountinfo,mounts,net/*}", async () => {
  // At once (while pid 1 may still be running its compiled setup), then once the native init runs.
  const r = await sandboxSh(
    "tr '\\0' ' ' < /proc/1/cmdline; echo; while [ \"$(cat /proc/1/comm)\" != bbl-init ]; do sleep 0.01; done; " +
      "tr '\\0' ' ' < /proc/1/cmdline; echo; for f in mountinfo mounts net/unix net/tcp net/tcp6 net/dev; do " +
      'cmp -s /proc/1/$f /proc/self/$f && echo "$f same" || echo "$f differs"; done; grep -c zrootfs /proc/1/mountinfo',
  );
  assert.equal(r.code === 0 || r.code === 1, true, r.stderr); // grep -c exits 1 when it counts none
  const [early, cmdline, ...rest] = r.stdout.split("\n");
  assert.ok(!early.includes("/"), `no host path in pid 1's command line, even before it hands over: ${early}`);
  assert.match(cmdline, /^bbl-init \d+ \d+ $/);
  assert.deepEqual(rest.filter(Boolean), [
    "mountinfo same",
    "mounts same",
    "net/unix same",
    "net/tcp same",
    "net/tcp6 same",
    "net/dev same",
    "0",
  ]);
});

Deno.test("bbl is unreachable: /proc/1/exe, /proc/1/root, and no host path to Deno or the checkout", async () => {
  const runner = Deno.execPath();
  const r = await sandboxSh(
    `readlink /proc/1/exe; cat /proc/1/exe > /dev/null; ls /proc/1/root/; ls /proc/1/cwd/; test -e ${runner} || echo no-runner; test -e ${REPO} || echo no-repo; ls /zrootfs; echo end`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "no-runner\nno-repo\nend\n");
  for (const p of ["/proc/1/exe", "/proc/1/root/", "/proc/1/cwd/"]) {
    assert.match(r.stderr, new RegExp(`${p}.*Permission denied`), p);
  }
  assert.match(r.stderr, /\/zrootfs.*No such file/);
});

/** add_key(2) and keyctl(2) for python's ctypes, on this machine's architecture. */
const KEY_NR = Deno.build.arch === "aarch64" ? { add: 217, ctl: 219 } : { add: 248, ctl: 250 };

Deno.test("kernel keys: the launching session's keys are neither listed nor readable inside", async () => {
  const name = `bbl-test-key-${Date.now()}`;
  const home = userTempDir("bbl-home-");
  // Inside: what /proc/keys lists, and a read of the host key by its id (KEYCTL_READ = 11).
  const inside = (id: string) =>
    `cat /proc/keys; echo listed=$(cat /proc/keys 2>/dev/null | grep -c ${name}); python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); b = ctypes.create_string_buffer(64); print("read", l.syscall(${KEY_NR.ctl}, 11, ${id}, b, 64), ctypes.get_errno())'`;
  // Outside: the test user adds a key to its session keyring, checks it can read it back, and execs bbl.
  const launch = `import ctypes, os, sys
l = ctypes.CDLL(None, use_errno=True)
kid = l.syscall(${KEY_NR.add}, b"user", b"${name}", b"secret", 6, -3)
b = ctypes.create_string_buffer(64)
assert kid > 0 and l.syscall(${KEY_NR.ctl}, 11, kid, b, 64) == 6, "the host session holds the key"
argv = [a.replace("@ID@", str(kid)) for a in sys.argv[1:]]
os.execvp(argv[0], argv)`;
  try {
    for (const flags of [[], ["--seccomp", "off"]]) {
      const argv = bblArgv([...flags, "--", "/bin/sh", "-c", inside("@ID@")], userEnv(home));
      const drop = argv.indexOf("env");
      const out = await runArgv([...argv.slice(0, drop), "python3", "-c", launch, ...argv.slice(drop)]);
      const text = out.stdout;
      assert.equal(out.code, 0, out.stderr);
      assert.match(text, /^listed=0$/m, `${flags}: ${text}`);
      assert.equal(
        text.split("\n").filter((l) => l && !l.startsWith("listed=") && !l.startsWith("read ")).length,
        0,
        text,
      );
      // -1 with EPERM (the filter denies keyctl) or EACCES (not possessed: it is not in our session)
      assert.match(text, flags.length ? /^read -1 13$/m : /^read -1 1$/m, `${flags}: ${text}`);
    }
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("the app's pid 1 leads a session of its own: /proc/1/autogroup renices that, not the user's session", {
  ignore: !exists("/proc/self/autogroup"), // a kernel without CONFIG_SCHED_AUTOGROUP has no autogroups
}, async () => {
  const host = () => Deno.readTextFileSync("/proc/self/autogroup").trim(); // "/autogroup-N nice K"
  const before = host();
  const r = await sandboxSh("cat /proc/1/autogroup; echo 19 > /proc/1/autogroup; cat /proc/1/autogroup");
  assert.equal(r.code, 0, r.stderr);
  const [inside, after] = r.stdout.trim().split("\n");
  assert.notEqual(
    inside.split(" ")[0],
    before.split(" ")[0],
    `pid 1 is in the launching session's autogroup: ${inside}`,
  );
  assert.match(after, / nice 19$/, "the write reached the sandbox's own autogroup");
  assert.equal(host(), before, "the launching session's autogroup is untouched");
});

Deno.test("an inherited host directory descriptor does not reach the app", async () => {
  const home = userTempDir("bbl-home-");
  try {
    // bbl started with fd 7 open on the host's / (as a careless parent might leave it)
    const argv = bblArgv(
      ["--", "/bin/sh", "-c", "ls /proc/self/fd; ls /proc/self/fd/7/ 2>&1 | head -1"],
      userEnv(home),
    );
    const out = await runArgv(["bash", "-c", 'exec 7</ && exec "$@"', "bash", ...argv]);
    const text = out.stdout;
    assert.equal(out.code, 0, out.stderr);
    assert.ok(!/^7$/m.test(text), text);
    assert.match(text, /No such file or directory/);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("no device nodes beyond the minimal set; mknod and setuid binaries give nothing", async () => {
  const r = await sandboxSh(
    "for d in sda vda mem kmem kmsg fuse port; do test -e /dev/$d && echo has-$d; done; mknod /tmp/n c 1 3; su -c true root </dev/null; grep -c nosuid /proc/self/mountinfo; grep -v nosuid /proc/self/mountinfo | wc -l; id -u",
  );
  assert.ok(!r.stdout.includes("has-"), r.stdout);
  assert.match(r.stderr, /mknod.*Operation not permitted/);
  const [nosuid, without, uid] = r.stdout.trim().split("\n").slice(-3);
  assert.ok(Number(nosuid) > 5, r.stdout);
  // every mount is nosuid, so a setuid binary runs with the caller's ids
  assert.equal(without, "0", r.stdout);
  assert.equal(uid, String(user.uid));
});

Deno.test("host pids are invisible and cannot be signalled", async () => {
  const host = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const r = await sandboxSh(
      `ls /proc/${host.pid} 2>&1 | head -1; kill -0 ${host.pid} && echo signalled; kill -0 1 && echo init-ok; echo end`,
    );
    assert.match(r.stdout, /No such file/);
    assert.ok(!r.stdout.includes("signalled"));
    assert.match(r.stdout, /end/);
  } finally {
    host.kill("SIGKILL");
    await host.status;
  }
});

Deno.test("the app cannot leave: a double fork with setsid dies with the sandbox", async () => {
  const ts = Date.now();
  const marker = `bblorphan${ts}`;
  // The marker is assembled at run time and searched as "[b]blorphan...", so only the orphan's own
  // command line contains it (not the script's, not grep's).
  const count = `grep -l "[b]blorphan${ts}" /proc/[0-9]*/cmdline 2>/dev/null | wc -l`;
  const r = await sandboxSh(
    `m=bblorph; (setsid sh -c 'sleep 300; :' "\${m}an${ts}" &); sleep 0.3; echo running $(${count})`,
  );
  assert.equal(r.code, 0, r.stderr);
  // inside: the orphan (its sh, re-parented to the sandbox's init) was running when the app exited
  const inside = Number(r.stdout.match(/^running (\d+)$/m)?.[1]);
  assert.ok(inside >= 1, r.stdout);
  // outside: nothing of it survives the sandbox
  const left = () =>
    [...Deno.readDirSync("/proc")].filter((e) => {
      try {
        return /^\d+$/.test(e.name) && Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(marker);
      } catch {
        return false;
      }
    });
  assert.deepEqual(left(), []);
});

Deno.test("resource limits: a fork bomb under --limit nproc stays inside; bbl survives and cleans up", async () => {
  const r = await sandboxSh("grep -E '^Max processes' /proc/self/limits; b() { b | b & }; b; sleep 1; echo survived", {
    flags: ["--limit", "nproc=200"],
  });
  assert.match(r.stdout, /^Max processes\s+200\s+200/m);
  assert.match(r.stdout, /survived/);
  assert.equal(r.code, 0);
});

Deno.test("tmpfs sizes are bounded: filling /tmp stops at its size", async () => {
  const r = await sandboxSh(
    "df -k /tmp | tail -1; dd if=/dev/zero of=/tmp/fill bs=1M 2>&1 | grep -o 'No space left on device'; du -sk /tmp/fill",
  );
  assert.equal(r.code, 0, r.stderr);
  const sizeK = Number(r.stdout.trim().split("\n")[0].split(/\s+/)[1]);
  assert.equal(sizeK, 1024 * 1024); // the default template's 1g
  assert.match(r.stdout, /No space left on device/);
  const used = Number(r.stdout.trim().split("\n").at(-1)!.split(/\s+/)[0]);
  assert.ok(used <= sizeK, `${used} > ${sizeK}`);
});

Deno.test("no host network: a host loopback listener and host abstract sockets are unreachable", async () => {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const abstract = `bbl-test-${Date.now()}`;
  const py = new Deno.Command("python3", {
    args: [
      "-c",
      `import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind("\\0${abstract}")\ns.listen(1)\ntime.sleep(20)`,
    ],
  }).spawn();
  try {
    await new Promise((res) => setTimeout(res, 200));
    const script = `import socket
for name, fam, addr in (("tcp", socket.AF_INET, ("127.0.0.1", ${port})), ("abstract", socket.AF_UNIX, "\\0${abstract}")):
    s = socket.socket(fam)
    try:
        s.connect(addr); print(name, "connected")
    except OSError as e:
        print(name, e.errno)`;
    const r = await sandboxSh(`python3 -c '${script}'`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tcp 111$/m); // ECONNREFUSED: the sandbox's own loopback has no listener
    assert.match(r.stdout, /^abstract 111$/m); // abstract sockets belong to the network namespace
    const shared = await sandboxSh(`python3 -c '${script}'`, { flags: ["--share-net"] });
    assert.match(shared.stdout, /^tcp connected$/m, "the test itself can tell the difference");
  } finally {
    server.close();
    py.kill();
    await py.status;
  }
});

Deno.test("SysV IPC and /dev/shm are not shared with the host", async () => {
  const key = `bbl-shm-${Date.now()}`;
  Deno.writeTextFileSync(`/dev/shm/${key}`, "host");
  const ipc = new Deno.Command("ipcmk", { args: ["-M", "4096"], stdout: "piped" }).outputSync();
  const id = new TextDecoder().decode(ipc.stdout).match(/(\d+)/)?.[1];
  try {
    assert.ok(ipc.success && id, "the host has a SysV segment for the test");
    const r = await sandboxSh(`ls /dev/shm; ipcs -m | grep -c '^0x' || true`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(key), r.stdout);
    assert.equal(r.stdout.trim().split("\n").at(-1), "0");
  } finally {
    Deno.removeSync(`/dev/shm/${key}`);
    new Deno.Command("ipcrm", { args: ["-m", id!] }).outputSync();
  }
});

Deno.test("--limit as and tmpfs: memory and every tmpfs are bounded as asked", async () => {
  const r = await sandboxSh(
    "python3 -c 'b = bytearray(300 * 1024 * 1024)' 2>&1 | tail -1; " +
      "df -k /tmp ~ /dev/shm /sbxdir/temp /run /run/user/$(id -u) /dev | tail -n +2 | tr -s ' ' | cut -d' ' -f2,6",
    { flags: ["--limit", "as=209715200", "--limit", "tmpfs=8m"] },
  );
  assert.match(r.stdout, /MemoryError/); // 300 MiB does not fit a 200 MiB address space
  const mounts = r.stdout.trim().split("\n").slice(-7);
  assert.equal(mounts.length, 7, r.stdout);
  for (const m of mounts) assert.match(m, /^8192 \//, `every tmpfs follows --limit tmpfs: ${mounts.join(", ")}`);
});

Deno.test("the host's session sockets are not reachable (DBus, ssh-agent style unix sockets)", async () => {
  const dir = userTempDir("bbl-sock-");
  try {
    const sock = `${dir}/agent.sock`;
    const listener = Deno.listen({ transport: "unix", path: sock });
    if (Deno.uid() === 0) Deno.chownSync(sock, user.uid, user.gid);
    const r = await sandboxSh(
      `test -e ${sock} && echo visible; ls ${dir} 2>&1 | head -1; echo "vars=[$SSH_AUTH_SOCK$DBUS_SESSION_BUS_ADDRESS]"`,
      {
        env: { SSH_AUTH_SOCK: sock, DBUS_SESSION_BUS_ADDRESS: `unix:path=${sock}` },
      },
    );
    listener.close();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("visible"));
    assert.match(r.stdout, /No such file or directory/);
    assert.match(r.stdout, /^vars=\[\]$/m, "the variables do not reach the app either");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
