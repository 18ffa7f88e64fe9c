/**
 * The spawn stub's interpreter (src/sys/stub/*.S) and its TypeScript model (src/sys/program.ts) run
 * the same programs to the same ends: registers, decimal, skips, failure policies, clone branches.
 * As whoever runs the tests; no isolation claims.
 */
import assert from "node:assert/strict";
import { spawn, SpawnError } from "../../src/sys/spawn.ts";
import { libc } from "../../src/sys/libc.ts";
import { exitCodeOf } from "../../src/sys/process.ts";
import { AT_FDCWD, nr, O, syscallNames } from "../../src/sys/consts.ts";
import {
  decimalOp,
  formatProgram,
  type Kernel,
  reg,
  runProgram,
  skipIfZeroOp,
  skipOp,
  type SpawnOp,
} from "../../src/sys/program.ts";
import { realKernel } from "../real_kernel.ts";

const ENOENT = 2, ECHILD = 10;
const path = (p: string) => new TextEncoder().encode(p + "\0");

function wait(pid: number): number {
  const st = new Int32Array(1);
  libc.waitpid(pid, new Uint8Array(st.buffer), 0);
  return exitCodeOf(st[0]);
}

/** Runs `ops` in a stub child that then execs sh -c `script` with stdout in a file; its output. */
function onStub(ops: SpawnOp[], script: string): string {
  const f = Deno.makeTempFileSync();
  const out = libc.open(path(f), O.WRONLY | O.CLOEXEC, 0);
  try {
    const pid = spawn({
      flags: 0,
      path: "/bin/sh",
      argv: ["sh", "-c", script],
      env: ["PATH=/usr/bin:/bin"],
      pdeathsig: 0,
      ops: [{ what: "stdout", nr: nr("dup3"), args: [out, 1, 0] }, ...ops],
    });
    assert.equal(wait(pid), 0);
    return Deno.readTextFileSync(f);
  } finally {
    libc.close(out);
    Deno.removeSync(f);
  }
}

/** Opens /dev/null, writes its number into "/proc/self/fd/N" in `buf`, opens that, puts it at 5. */
function reopenThroughProc(buf: Uint8Array): SpawnOp[] {
  return [
    {
      what: "open /dev/null",
      nr: nr("openat"),
      args: [AT_FDCWD, path("/dev/null"), O.RDONLY | O.CLOEXEC],
      result: reg(3),
    },
    decimalOp("its number", reg(3), buf, 14),
    {
      what: "open it again by /proc/self/fd/N",
      nr: nr("openat"),
      args: [AT_FDCWD, buf, O.RDONLY | O.CLOEXEC],
      result: reg(4),
    },
    { what: "put it at 5", nr: nr("dup3"), args: [reg(4), 5, 0] },
  ];
}

Deno.test("interpreter: a result kept in a register, written in decimal into a path, opened through it", () => {
  const procPath = () => path("/proc/self/fd/" + "\0".repeat(24));
  assert.equal(onStub(reopenThroughProc(procPath()), "readlink /proc/self/fd/5"), "/dev/null\n");
  // The model, on this process's kernel (all but the dup3): the same path is built and opened.
  const buf = procPath();
  const model = runProgram(reopenThroughProc(buf).slice(0, 3), realKernel);
  assert.ok(model.ok);
  assert.equal(new TextDecoder().decode(buf.subarray(0, buf.indexOf(0))), `/proc/self/fd/${model.regs[3]}`);
  assert.equal(Deno.readLinkSync(`/proc/self/fd/${model.regs[4]}`), "/dev/null");
  [model.regs[3], model.regs[4]].forEach((fd) => libc.close(Number(fd)));
});

Deno.test("interpreter: an absent source skips its steps; another errno or a plain failure is reported", () => {
  const absent = (skip: number): SpawnOp => ({
    what: "opening an optional source",
    nr: nr("openat"),
    args: [AT_FDCWD, path("/nonexistent/bbl"), O.RDONLY],
    onFail: { errno: ENOENT, skip },
  });
  const bad: SpawnOp = { what: "a step that fails", nr: nr("dup3"), args: [987654, 5, 0] };
  const marker: SpawnOp = { what: "mark", nr: nr("dup3"), args: [0, 7, 0] };
  assert.equal(onStub([absent(1), bad, marker], "test -e /proc/self/fd/7 && echo ran"), "ran\n");
  assert.equal(onStub([skipOp("jump", 1), bad, marker], "test -e /proc/self/fd/7 && echo ran"), "ran\n");
  // Skipping 0 steps accepts the errno; a failure that is not the one named is reported.
  const other: SpawnOp = { ...absent(1), args: [AT_FDCWD, path("/dev/null/x"), O.RDONLY] }; // ENOTDIR
  // (on this process's kernel too, so no step here may change it: getpid stands for a harmless one)
  const harmless: SpawnOp = { what: "harmless", nr: nr("getpid"), args: [] };
  for (const ops of [[absent(0), bad], [harmless, bad], [other, marker]]) {
    const step = ops[1] === bad ? 1 : 0;
    assert.throws(() => onStub(ops, "true"), (e: unknown) => e instanceof SpawnError && e.step === step + 1);
    const m = runProgram(ops, realKernel);
    assert.deepEqual([m.ok, !m.ok && m.step], [false, step]);
  }
});

/** A kernel where /nonexistent paths are ENOENT, clone returns `clone` and wait4 `waited`; it records. */
function fakeKernel(clone: bigint, waited: bigint, calls: string[]): Kernel {
  const names = new Map(["clone", "exit_group", "openat", "wait4"].map((k) => [nr(k), k]));
  return (n, args) => {
    calls.push(names.get(n) ?? String(n));
    if (n === nr("openat")) {
      return new TextDecoder().decode(args[1] as Uint8Array).startsWith("/nonexistent") ? -2n : 10n;
    }
    return n === nr("clone") ? clone : n === nr("wait4") ? waited : 0n;
  };
}

Deno.test("interpreter: a clone step's child takes the branch skip-if-zero jumps to; a retried step reports its process exiting", () => {
  const child = reg(5);
  const ops: SpawnOp[] = [
    { what: "cloning", nr: nr("clone"), args: [17, 0, 0, 0, 0], result: child },
    skipIfZeroOp("the child's branch", child, 1),
    skipOp("the parent goes on", 1),
    { what: "the child exits", nr: nr("exit_group"), args: [0] },
    {
      what: "waiting for a path that never appears",
      nr: nr("openat"),
      args: [AT_FDCWD, path("/nonexistent/ready"), O.RDONLY],
      onFail: { tries: 500, whileAlive: child },
    },
  ];
  assert.throws(
    () => onStub(ops, "true"),
    (e: unknown) => e instanceof SpawnError && e.step === 5 && e.code === "ECHILD" && /never appears/.test(e.message),
  );
  // In the model: the parent's branch reaches the wait and sees its child gone; the child's exits.
  const parent: string[] = [], inChild: string[] = [];
  const m = runProgram(ops, fakeKernel(1234n, 1234n, parent));
  assert.deepEqual([m.ok, !m.ok && m.step, !m.ok && m.errno], [false, 4, ECHILD]);
  assert.deepEqual(parent, ["clone", "openat", "wait4"]);
  assert.ok(runProgram(ops, fakeKernel(0n, 0n, inChild)).ok);
  assert.deepEqual(inChild, ["clone", "exit_group"]);
});

Deno.test("interpreter: a retried step succeeds once what it waits for exists; out of tries it reports the last errno", () => {
  const dir = Deno.makeTempDirSync();
  const ready = path(`${dir}/ready`);
  const child = reg(6);
  const ts = new BigInt64Array([0n, 100_000_000n]); // 100 ms
  const ops: SpawnOp[] = [
    { what: "cloning", nr: nr("clone"), args: [17, 0, 0, 0, 0], result: child },
    skipIfZeroOp("the child's branch", child, 2),
    {
      what: "waiting for the path",
      nr: nr("openat"),
      args: [AT_FDCWD, ready, O.RDONLY],
      onFail: { tries: 200, whileAlive: child },
    },
    skipOp("the parent goes on", 4),
    { what: "pausing", nr: nr("nanosleep"), args: [new Uint8Array(ts.buffer), 0] },
    { what: "creating it", nr: nr("openat"), args: [AT_FDCWD, ready, O.CREAT | O.WRONLY, 0o600] },
    { what: "pausing", nr: nr("nanosleep"), args: [new Uint8Array(ts.buffer), 0] },
    { what: "the child exits", nr: nr("exit_group"), args: [0] },
  ];
  assert.equal(onStub(ops, "echo waited"), "waited\n");
  const noChild: SpawnOp = {
    what: "waiting with no process to watch",
    nr: nr("openat"),
    args: [AT_FDCWD, path(`${dir}/never`), O.RDONLY],
    onFail: { tries: 3, whileAlive: reg(9) },
  };
  assert.throws(() => onStub([noChild], "true"), (e: unknown) => e instanceof SpawnError && e.code === "ENOENT");
  let sleeps = 0;
  const m = runProgram([noChild], realKernel, () => sleeps++);
  assert.deepEqual([m.ok, !m.ok && m.errno, sleeps], [false, ENOENT, 3]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a program as text: calls by name, registers, results, failure policies, pseudo-steps", () => {
  const buf = path("/proc/self/fd/" + "\0".repeat(24));
  const ops: SpawnOp[] = [
    {
      what: "open",
      nr: nr("openat"),
      args: [AT_FDCWD, path("/x"), 0],
      result: reg(3),
      onFail: { errno: ENOENT, skip: 2 },
    },
    decimalOp("name", reg(3), buf, 14),
    { what: "wait", nr: nr("openat"), args: [AT_FDCWD, buf, 0], onFail: { tries: 5, whileAlive: reg(7) } },
    skipIfZeroOp("branch", reg(7), 1),
    { what: "write", nr: nr("write"), args: [1, new Uint8Array([1, 2, 3]), 3], onFail: "ignore" },
  ];
  assert.deepEqual(formatProgram(ops, syscallNames()), [
    `   0  openat(-100, "/x", 0) -> r3 [errno 2: skip 2]  # open`,
    `   1  decimal(r3, "/proc/self/fd/"+14)  # name`,
    `   2  openat(-100, "/proc/self/fd/", 0) [retried 5 times while r7 lives]  # wait`,
    `   3  skip 1 if r7 is 0  # branch`,
    `   4  write(1, <3 bytes>, 3) [failure ignored]  # write`,
  ]);
});
