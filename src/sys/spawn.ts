/**
 * Starting a process in new namespaces through the machine-code stub (src/sys/stub/*.S).
 *
 * Sequence, as seen from here:
 *   1. build the argument struct in an mmap'd arena (never V8 memory: the child only has what fork copies);
 *   2. call the stub: it blocks signals, clones with the namespace flags, returns the pid;
 *   3. write the sync byte: the child runs its program (src/sys/program.ts: among its steps, in a new
 *      user namespace, writing its own id maps) and execs; meanwhile `started()`, and a checkpoint;
 *   4. read the CLOEXEC error pipe: EOF means exec succeeded, 8 bytes name the failed step and errno.
 */
import { Arena, mapCode } from "./arena.ts";
import { check, libc } from "./libc.ts";
import { SysError } from "./errno.ts";
import { nr, O } from "./consts.ts";
import { STUB_BYTES } from "./stub/bytes.ts";
import {
  type Arg,
  isBufferAt,
  isReg,
  PAUSE_MS,
  reg,
  REGISTERS,
  skipIfZeroOp,
  skipOp,
  type SpawnOp,
  storeOp,
} from "./program.ts";

export type { SpawnOp } from "./program.ts";

export interface SpawnRequest {
  /** CLONE_NEW* flags. */
  flags: number;
  /** What the child execs after its steps; "" for a program whose every branch ends in a step of its own. */
  path: string;
  argv: string[];
  env: string[];
  /** Signal the child gets when the calling thread dies (PR_SET_PDEATHSIG); 0 for none. */
  pdeathsig: number;
  ops: SpawnOp[];
  /**
   * Runs once the child runs its program, while its steps run and before a checkpoint lets it go on:
   * what the caller sets up for it meanwhile (on the other CPU, the kernel builds the child's namespaces).
   */
  started?: (pid: number) => void;
  /**
   * A checkpoint before the execve, where the child is held on a pipe while `inspect` checks what its
   * steps did (from /proc/PID/status); throwing there means it never runs. `pid`: the child;
   * `innerPid`: the held process's pid in its own pid namespace. `place`: for a program whose held
   * process execs from a branch of its own (a compiled app), the program with the checkpoint's steps
   * placed there (`ops` is then not used); without it they end `ops`.
   */
  checkpoint?: {
    inspect: (pid: number, innerPid: number) => void;
    place?: (steps: SpawnOp[]) => SpawnOp[];
  };
}

/** The child could not exec: which step failed and with what errno. */
export class SpawnError extends SysError {
  constructor(what: string, errno: number, readonly step: number, readonly isExec: boolean, readonly op?: SpawnOp) {
    super(what, errno, isExec ? "execve" : "spawn step");
  }
}

/**
 * The arena's size: 200 times the default tree's program (76 KB). Pages are allocated when first
 * written, in bbl and in its clone, so only what a program takes costs memory.
 */
const ARENA_SIZE = 16 << 20;

const STRUCT_SIZE = 496;
const OP_SIZE = 96;

const STUB_SIGNATURE = { parameters: ["pointer"], result: "i64" } as const;
let stubFn: Deno.UnsafeFnPointer<typeof STUB_SIGNATURE> | null = null;

function stub() {
  if (stubFn === null) {
    const code = STUB_BYTES[Deno.build.arch];
    if (!code) throw new Error(`bbl has no spawn stub for ${Deno.build.arch}`);
    const page = mapCode(code, "loading the spawn routine");
    stubFn = new Deno.UnsafeFnPointer(page as Deno.PointerObject<typeof STUB_SIGNATURE>, STUB_SIGNATURE);
  }
  return stubFn;
}

function pipe(what: string): [number, number] {
  const fds = new Int32Array(2);
  check(libc.pipe2(new Uint8Array(fds.buffer), O.CLOEXEC), what, "pipe2");
  return [fds[0], fds[1]];
}

/** The pid a checkpoint reports (as its own pid namespace numbers it), or null at EOF. */
function readPid(fd: number): number | null {
  const buf = new Uint8Array(8);
  if (Number(libc.read(fd, buf, 8n)) !== 8) return null;
  return Number(new DataView(buf.buffer).getBigUint64(0, true));
}

function reap(pid: number): void {
  libc.waitpid(pid, null, 0);
}

/** Runs `fn` for a child that has started; if it throws, the child goes no further: killed and reaped. */
function orKill(pid: number, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    libc.kill(pid, 9);
    reap(pid);
    throw e;
  }
}

/** Starts the child and returns its pid once it has exec'd. Throws SpawnError/SysError otherwise. */
export function spawn(req: SpawnRequest): number {
  let arena: Arena | null = null;
  const open = new Set<number>();
  const close = (fd: number) => {
    if (open.delete(fd)) libc.close(fd);
  };
  try {
    const [syncR, syncW] = pipe("creating the start pipe");
    open.add(syncR).add(syncW);
    const [errR, errW] = pipe("creating the error pipe");
    open.add(errR).add(errW);
    let ops = req.ops, readyR = -1, holdW = -1;
    if (req.checkpoint) {
      const [rr, rw] = pipe("creating the checkpoint pipe");
      const [hr, hw] = pipe("creating the checkpoint pipe");
      open.add(rr).add(rw).add(hr).add(hw);
      [readyR, holdW] = [rr, hw];
      const self = reg(REGISTERS - 2), released = reg(REGISTERS - 1), pid = new Uint8Array(8);
      const checkpoint: SpawnOp[] = [
        // Only bbl holds the other ends: its giving up (or dying) reads as EOF here.
        { what: "reaching the checkpoint", nr: nr("close"), args: [hw] },
        { what: "reaching the checkpoint", nr: nr("close"), args: [rr] },
        // its pid as its own pid namespace knows it: bbl finds it by that (NSpid) among several
        { what: "reaching the checkpoint", nr: nr("getpid"), args: [], result: self },
        storeOp("reaching the checkpoint", self, pid),
        { what: "reaching the checkpoint", nr: nr("write"), args: [rw, pid, 8] },
        { what: "waiting at the checkpoint", nr: nr("read"), args: [hr, new Uint8Array(1), 1], result: released },
        // EOF instead of the byte: nobody said go (the check failed, or bbl is gone): never run
        skipIfZeroOp("refused at the checkpoint", released, 1),
        skipOp("released at the checkpoint", 1),
        { what: "refused at the checkpoint", nr: nr("exit_group"), args: [1] },
      ];
      ops = req.checkpoint.place ? req.checkpoint.place(checkpoint) : [...ops, ...checkpoint];
    }
    arena = new Arena(ARENA_SIZE);
    writeArgs(arena, { ...req, ops }, { syncR, syncW, errW });

    const ret = Number(stub().call(arena.base));
    if (ret < 0) throw new SysError(`starting ${req.path}`, -ret, "clone");
    const pid = ret;
    close(syncR);
    close(errW);
    try {
      check(libc.write(syncW, new Uint8Array([1]), 1n), "releasing the new process", "write");
    } catch (e) {
      close(syncW); // the child reads EOF and exits without running anything
      reap(pid);
      throw e;
    }
    close(syncW);
    const started = req.started;
    if (started) orKill(pid, () => started(pid));

    if (req.checkpoint) {
      for (const fd of open) if (fd !== readyR && fd !== holdW && fd !== errR) close(fd);
      const inner = readPid(readyR);
      if (inner !== null) {
        const { inspect } = req.checkpoint;
        orKill(pid, () => inspect(pid, inner));
        check(libc.write(holdW, new Uint8Array([1]), 1n), "releasing the new process", "write");
      }
    }

    const report = new Uint8Array(8);
    let got = 0;
    while (got < 8) {
      const n = Number(libc.read(errR, report.subarray(got), BigInt(8 - got)));
      if (n <= 0) break;
      got += n;
    }
    if (got < 8) return pid; // EOF: the CLOEXEC pipe closed on a successful execve
    const dv = new DataView(report.buffer);
    const step = dv.getUint32(0, true), err = dv.getInt32(4, true);
    reap(pid);
    const isExec = step >= ops.length;
    const what = !isExec ? ops[step].what : req.path ? `executing ${req.path}` : "the program ended without an exec";
    throw new SpawnError(what, err, step, isExec, ops[step]);
  } finally {
    for (const fd of [...open]) close(fd);
    arena?.free(); // the child has its own copy
  }
}

/**
 * The argument struct and program of `req` as bytes to be loaded at address `at` by another process
 * (the tests' harness runs the stub of either architecture on them), with the given descriptors.
 */
export function spawnImage(
  req: SpawnRequest,
  fds: { syncR: number; syncW: number; errW: number },
  at: bigint,
): Uint8Array {
  const arena = new Arena(ARENA_SIZE, at);
  try {
    writeArgs(arena, req, fds);
    return arena.image();
  } finally {
    arena.free();
  }
}

/** Argument bytes copied once each: the same Uint8Array in several steps is one buffer in the child. */
class Buffers {
  private at = new Map<Uint8Array, bigint>();
  constructor(private arena: Arena) {}

  put(bytes: Uint8Array): bigint {
    let addr = this.at.get(bytes);
    if (addr === undefined) this.at.set(bytes, addr = this.arena.put(bytes));
    return addr;
  }
}

function argValue(arena: Arena, buffers: Buffers, a: Arg): bigint | number {
  if (typeof a === "number") return a; // most arguments
  if (isReg(a)) return a.reg;
  if (a instanceof Uint8Array) return buffers.put(a);
  if (isBufferAt(a)) return buffers.put(a.at) + BigInt(a.offset);
  if (typeof a === "object" && "strings" in a) {
    const list = new BigUint64Array([
      ...a.strings.map((x) => typeof x === "string" ? arena.putString(x) : buffers.put(x)),
      0n,
    ]);
    return arena.put(new Uint8Array(list.buffer));
  }
  if (typeof a === "object") {
    const fprog = new DataView(new ArrayBuffer(16)); // struct sock_fprog { u16 len; u64 filter; }
    fprog.setUint16(0, a.filter.length / 8, true);
    fprog.setBigUint64(8, arena.put(a.filter), true);
    return arena.put(new Uint8Array(fprog.buffer));
  }
  return a as bigint;
}

const ON_FAIL = { report: 0, ignore: 1, skip: 2, retry: 3 };

/** Lays out struct spawn_args and the program (see the stub source for both layouts). */
function writeArgs(arena: Arena, req: SpawnRequest, fds: { syncR: number; syncW: number; errW: number }) {
  const v = arena.view;
  const s = arena.alloc(STRUCT_SIZE);
  const ops = arena.alloc(OP_SIZE * req.ops.length);
  const buffers = new Buffers(arena);
  const u64 = (off: number, val: bigint | number) => {
    if (typeof val === "bigint") return v.setBigUint64(off, BigInt.asUintN(64, val), true);
    v.setUint32(off, val >>> 0, true);
    v.setUint32(off + 4, Math.floor(val / 2 ** 32) >>> 0, true); // -1 and other negatives: all ones
  };
  u64(s + 0, req.flags);
  u64(s + 8, arena.putString(req.path));
  u64(s + 16, arena.putStrings(req.argv));
  u64(s + 24, arena.putStrings(req.env));
  u64(s + 32, fds.syncR);
  u64(s + 40, fds.syncW);
  u64(s + 48, fds.errW);
  u64(s + 56, req.pdeathsig);
  u64(s + 64, arena.addr(ops));
  u64(s + 72, req.ops.length);
  u64(s + 88, -1n); // the block-all mask; the old mask, SIG_DFL action, scratch and registers stay zero
  u64(s + 408, PAUSE_MS * 1_000_000); // tv_nsec of the pause (tv_sec 0)
  // Plain loops: a start runs this once, in V8's interpreter, over every step.
  for (let i = 0; i < req.ops.length; i++) {
    const op = req.ops[i], o = ops + OP_SIZE * i;
    u64(o, op.nr);
    if (op.args.length > 6) throw new Error(`${op.what}: more than six arguments`);
    let regs = 0;
    for (let j = 0; j < op.args.length; j++) {
      const a = op.args[j];
      if (isReg(a)) regs |= 1 << j;
      u64(o + 8 + 8 * j, argValue(arena, buffers, a));
    }
    u64(o + 56, regs);
    u64(o + 64, op.result ? op.result.reg : -1);
    const f = op.onFail ?? "report";
    if (typeof f === "string") u64(o + 72, ON_FAIL[f]);
    else if ("errno" in f) {
      u64(o + 72, ON_FAIL.skip);
      u64(
        o + 80,
        [f.errno].flat().reduce((m, e) => {
          if (e >= 64) throw new Error(`${op.what}: errno ${e} cannot be in a set`);
          return m | (1n << BigInt(e));
        }, 0n),
      );
      u64(o + 88, f.skip);
    } else {
      u64(o + 72, ON_FAIL.retry);
      u64(o + 80, f.whileAlive.reg);
      u64(o + 88, f.tries);
    }
    if (op.skip !== undefined) u64(o + 88, op.skip);
  }
}
