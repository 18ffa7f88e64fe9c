/** The spawn stub through its TypeScript wrapper (runs as whoever runs the tests; no isolation claims). */
import assert from "node:assert/strict";
import { spawn, SpawnError } from "../../src/sys/spawn.ts";
import { libc } from "../../src/sys/libc.ts";
import { exitCodeOf } from "../../src/sys/process.ts";
import { CLONE, nr, PR } from "../../src/sys/consts.ts";
import { idMapOps } from "../../src/layer/idmap.ts";
import { reg, skipIfZeroOp } from "../../src/sys/program.ts";

function wait(pid: number): number {
  const st = new Int32Array(1);
  libc.waitpid(pid, new Uint8Array(st.buffer), 0);
  return exitCodeOf(st[0]);
}

function capture(fn: (outFd: number) => number): { code: number; out: string } {
  const f = Deno.makeTempFileSync();
  const fd = libc.open(new TextEncoder().encode(f + "\0"), 1 | 0o2000000, 0);
  try {
    const code = wait(fn(fd));
    return { code, out: Deno.readTextFileSync(f) };
  } finally {
    libc.close(fd);
    Deno.removeSync(f);
  }
}

const dupTo1 = (fd: number) => ({ what: "stdout", nr: nr("dup3"), args: [fd, 1, 0] });

Deno.test("spawn: new user and pid namespaces, maps the child writes itself, status returned", () => {
  const uid = libc.getuid(), gid = libc.getgid();
  const r = capture((fd) =>
    spawn({
      flags: CLONE.NEWUSER | CLONE.NEWPID,
      path: "/bin/sh",
      argv: ["sh", "-c", 'echo "$(id -u) $$ $FOO"; exit 3'],
      env: ["FOO=bar", "PATH=/usr/bin:/bin"],
      pdeathsig: 9,
      ops: [...idMapOps([{ inside: 0, outside: uid, count: 1 }], [{ inside: 0, outside: gid, count: 1 }]), dupTo1(fd)],
    })
  );
  assert.equal(r.code, 3);
  assert.equal(r.out, "0 1 bar\n");
});

Deno.test("spawn: exec failure is reported with its errno, and the child is reaped", () => {
  const e = assert.throws(
    () => spawn({ flags: 0, path: "/nonexistent/x", argv: ["x"], env: [], pdeathsig: 0, ops: [] }),
    (e: unknown) =>
      e instanceof SpawnError && e.isExec && e.code === "ENOENT" &&
      /executing \/nonexistent\/x: ENOENT/.test(e.message),
  );
  void e;
  assert.equal(libc.waitpid(-1, null, 1 /* WNOHANG */), -1, "no child left over");
});

Deno.test("spawn: a failing op is reported by its description; optional ops may fail", () => {
  assert.throws(
    () =>
      spawn({
        flags: 0,
        path: "/bin/true",
        argv: ["true"],
        env: [],
        pdeathsig: 0,
        ops: [
          { what: "an optional bad op", nr: nr("prctl"), args: [PR.CAPBSET_DROP, 9999, 0, 0, 0], onFail: "ignore" },
          { what: "duplicating a bad descriptor", nr: nr("dup3"), args: [987654, 5, 0] },
        ],
      }),
    (e: unknown) =>
      e instanceof SpawnError && !e.isExec && e.step === 1 && e.message === "duplicating a bad descriptor: EBADF",
  );
});

Deno.test("spawn: inspect runs before execve; throwing there kills the child unexec'd", () => {
  const marker = Deno.makeTempFileSync();
  Deno.removeSync(marker);
  let inspected = -1;
  assert.throws(
    () =>
      spawn({
        flags: 0,
        path: "/bin/sh",
        argv: ["sh", "-c", `touch ${marker}`],
        env: [],
        pdeathsig: 0,
        ops: [],
        checkpoint: {
          inspect: (pid) => {
            inspected = pid;
            // the child is held: still the forked copy of this process, not sh
            assert.equal(Deno.readLinkSync(`/proc/${pid}/exe`), Deno.readLinkSync("/proc/self/exe"));
            throw new Error("refused");
          },
        },
      }),
    /refused/,
  );
  assert.ok(inspected > 0);
  assert.throws(() => Deno.statSync(marker), "sh never ran");
  const ok = spawn({
    flags: 0,
    path: "/bin/true",
    argv: ["true"],
    env: [],
    pdeathsig: 0,
    ops: [],
    checkpoint: { inspect: () => {} },
  });
  assert.equal(wait(ok), 0);
});

Deno.test("spawn: a checkpoint placed in a clone's branch holds that process for inspect; refused, it never runs", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const child = reg(5);
    const start = (marker: string, inspect: (pid: number) => void) =>
      spawn({
        flags: 0,
        path: "/bin/sh",
        argv: ["sh", "-c", `touch ${marker}`],
        env: [],
        pdeathsig: 0,
        ops: [],
        checkpoint: {
          inspect,
          // the parent waits for its child and exits; the child reaches the checkpoint, then execs sh
          place: (checkpoint) => [
            { what: "cloning", nr: nr("clone"), args: [17, 0, 0, 0, 0], result: child },
            skipIfZeroOp("the child's branch", child, 2),
            { what: "waiting", nr: nr("wait4"), args: [child, 0, 0, 0] },
            { what: "exiting", nr: nr("exit_group"), args: [0] },
            ...checkpoint,
          ],
        },
      });
    let held = -1;
    const only = (pid: number) => Number(Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim());
    assert.throws(() =>
      start(`${dir}/refused`, (pid) => {
        held = only(pid);
        assert.equal(Deno.readLinkSync(`/proc/${held}/exe`), Deno.readLinkSync("/proc/self/exe"), "not sh yet");
        throw new Error("refused");
      }), /refused/);
    assert.ok(held > 0);
    assert.throws(() => Deno.statSync(`${dir}/refused`), "sh never ran");
    const ok = start(`${dir}/ran`, (pid) => void only(pid));
    assert.equal(wait(ok), 0);
    // its parent waited for it before exiting: sh has run
    assert.ok(Deno.statSync(`${dir}/ran`).isFile);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
