/**
 * Programs for the spawn stub's interpreter (src/sys/stub/*.S): what a new process does between its
 * clone and its execve, as data. A step is a system call whose arguments may name registers (the
 * descriptor an earlier step opened, the pid of a child it cloned) and whose failure has a policy
 * (report, ignore, skip what depends on it, retry while a process lives), or one of four pseudo-steps
 * (write a number in decimal, skip ahead, skip ahead when zero, store a number). Steps only jump
 * forward.
 *
 * `runProgram` is the same interpreter in TypeScript, over any kernel: tests run the planner's real
 * programs on a recording one, and compare it with the stub on this process's own.
 */
import { nr as sysNr } from "./consts.ts";

/** A register of the interpreter (0-31): a step's result kept for later steps. */
export interface Reg {
  readonly reg: number;
}

export const REGISTERS = 32;

export function reg(n: number): Reg {
  if (!Number.isInteger(n) || n < 0 || n >= REGISTERS) throw new Error(`no register ${n}`);
  return { reg: n };
}

/**
 * Integers; bytes, copied next to the program and passed by address (the same Uint8Array is the same
 * memory in every step that names it); a string list; a BPF program, passed as the address of its
 * struct sock_fprog; or a register.
 */
export type Arg = number | bigint | Uint8Array | BufferAt | StringList | { filter: Uint8Array } | Reg;

/** A NULL-terminated array of pointers to NUL-terminated strings (execve's argv and envp). */
export interface StringList {
  strings: (string | Uint8Array)[];
}

/**
 * What a failure means: "report" (the default: the process reports the step and its errno, then
 * exits), "ignore", skip `skip` steps when the errno is `errno` (or one of them; all below 64: an
 * optional source that is absent, a command not in this directory of PATH),
 * or retry up to `tries` more times `PAUSE_MS` apart while the process in `whileAlive` has not exited
 * (a readiness wait: ECHILD is reported when it exits, the last errno when the tries run out).
 */
export type OnFail =
  | "report"
  | "ignore"
  | { errno: number | number[]; skip: number }
  | { tries: number; whileAlive: Reg };

/** One system call the process makes, or a pseudo-step. */
export interface SpawnOp {
  /** What this step means, for error messages ("dropping the capability bounding set"). */
  what: string;
  /** A system call number, or one of PSEUDO. */
  nr: number;
  args: Arg[];
  /** The register that keeps the result. */
  result?: Reg;
  onFail?: OnFail;
  /** Pseudo-steps skip and skip-if-zero: how many steps they jump over. */
  skip?: number;
  /**
   * An execve of the app: its failure is the app's (126, or 127 when not found), not bbl's. "search":
   * the last of the tries along the sandbox's PATH.
   */
  app?: "path" | "search";
  /** A readiness wait for a helper: its failure is said as "not ready after N s" or "exited". */
  readiness?: { helper: string; timeout: number };
}

/** Pseudo-steps (never system call numbers). */
export const PSEUDO = { decimal: -1, skip: -2, skipIfZero: -3, store: -4 } as const;

export const PAUSE_MS = 20;

/** Writes the value of `r` in decimal into `buf` from `offset` (NUL-terminated). */
export function decimalOp(what: string, r: Reg, buf: Uint8Array, offset: number): SpawnOp {
  if (buf.length < offset + 21) throw new Error(`${what}: no room for a number`);
  return { what, nr: PSEUDO.decimal, args: [r, { at: buf, offset }] };
}

/** Stores the value of `r` as 8 bytes (little-endian) at the start of `buf`. */
export function storeOp(what: string, r: Reg, buf: Uint8Array): SpawnOp {
  if (buf.length < 8) throw new Error(`${what}: no room for a value`);
  return { what, nr: PSEUDO.store, args: [r, buf] };
}

/** Jumps over the next `n` steps. */
export function skipOp(what: string, n: number): SpawnOp {
  return { what, nr: PSEUDO.skip, args: [], skip: n };
}

/** Jumps over the next `n` steps when `r` is 0 (after a clone: in the child). */
export function skipIfZeroOp(what: string, r: Reg, n: number): SpawnOp {
  return { what, nr: PSEUDO.skipIfZero, args: [r], skip: n };
}

/** A buffer argument that starts `offset` bytes into `at` (for decimalOp). */
export interface BufferAt {
  at: Uint8Array;
  offset: number;
}

export function isReg(a: unknown): a is Reg {
  return typeof a === "object" && a !== null && "reg" in a;
}

export function isBufferAt(a: unknown): a is BufferAt {
  return typeof a === "object" && a !== null && "at" in a;
}

/** An argument as the kernel gets it in the TypeScript interpreter: a register's value, or as given. */
export type KernelArg = bigint | Uint8Array | BufferAt | StringList | { filter: Uint8Array };

/** A system call: the result, or -errno. */
export type Kernel = (nr: number, args: KernelArg[]) => bigint;

/** How a program ended in the TypeScript interpreter. */
export type Outcome =
  | { ok: true; regs: bigint[] }
  | { ok: false; step: number; errno: number; regs: bigint[] };

const ECHILD = 10;

/** Steps after whose success the program has ended: an exec or an exit. */
const ENDS = ["execve", "execveat", "exit_group"].map(sysNr);

/**
 * Runs `ops` as the stub does, on `kernel`; `sleep` stands for the pause between tries. A clone
 * step returns what `kernel` says: a recording kernel decides which branch (0: the child) is taken.
 */
export function runProgram(ops: SpawnOp[], kernel: Kernel, sleep: () => void = () => {}): Outcome {
  const regs = new Array<bigint>(REGISTERS).fill(0n);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    const args: KernelArg[] = op.args.map((a) =>
      isReg(a) ? regs[a.reg] : typeof a === "number" ? BigInt(a) : a as KernelArg
    );
    if (op.nr === PSEUDO.decimal) {
      const { at, offset } = args[1] as BufferAt;
      const text = new TextEncoder().encode(`${BigInt.asUintN(64, args[0] as bigint)}\0`);
      at.set(text, offset);
      continue;
    }
    if (op.nr === PSEUDO.store) {
      new DataView((args[1] as Uint8Array).buffer, (args[1] as Uint8Array).byteOffset).setBigUint64(
        0,
        BigInt.asUintN(64, args[0] as bigint),
        true,
      );
      continue;
    }
    if (op.nr === PSEUDO.skip || (op.nr === PSEUDO.skipIfZero && args[0] === 0n)) {
      i += op.skip ?? 0;
      continue;
    }
    if (op.nr === PSEUDO.skipIfZero) continue;
    const onFail = op.onFail ?? "report";
    let tries = typeof onFail === "object" && "tries" in onFail ? onFail.tries : 0;
    for (;;) {
      const r = kernel(op.nr, args);
      if (r >= 0n || r < -4095n) {
        if (op.result) regs[op.result.reg] = r;
        // This process is no longer the program's: it runs another, or is gone.
        if (ENDS.includes(op.nr)) return { ok: true, regs };
        break;
      }
      const errno = Number(-r);
      if (onFail === "ignore") break;
      if (typeof onFail === "object" && "errno" in onFail && [onFail.errno].flat().includes(errno)) {
        i += onFail.skip;
        break;
      }
      if (typeof onFail === "object" && "tries" in onFail) {
        const waited = kernel(sysNr("wait4"), [regs[onFail.whileAlive.reg], 0n, 1n, /* WNOHANG */ 0n]);
        if (waited > 0n) return { ok: false, step: i, errno: ECHILD, regs };
        if (tries-- > 0) {
          sleep();
          continue;
        }
      }
      return { ok: false, step: i, errno, regs };
    }
  }
  return { ok: true, regs };
}

/**
 * A program as text, one step per line (`bbl explain --steps`): its index, what it means, then the
 * call, registers as rN, where its result goes and what its failure does.
 */
export function formatProgram(ops: SpawnOp[], names: Record<number, string>): string[] {
  const arg = (a: Arg): string => {
    if (isReg(a)) return `r${a.reg}`;
    if (typeof a === "number" || typeof a === "bigint") return String(a);
    if (a instanceof Uint8Array) return text(a);
    if (isBufferAt(a)) return `${text(a.at.subarray(0, a.offset))}+${a.offset}`;
    if ("strings" in a) {
      return `[${a.strings.map((s) => typeof s === "string" ? JSON.stringify(s) : text(s)).join(", ")}]`;
    }
    return `<filter of ${a.filter.length / 8} instructions>`;
  };
  const text = (b: Uint8Array): string => {
    const end = b.indexOf(0);
    const s = new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end));
    const printable = [...s].every((c) => c >= " " || c === "\n" || c === "\t");
    const nulTerminated = end >= 0 && b.subarray(end).every((x) => x === 0);
    return printable && (nulTerminated || s.length > 0) ? JSON.stringify(s) : `<${b.length} bytes>`;
  };
  return ops.map((op, i) => {
    const call = op.nr === PSEUDO.decimal
      ? `decimal(${op.args.map(arg).join(", ")})`
      : op.nr === PSEUDO.store
      ? `store(${op.args.map(arg).join(", ")})`
      : op.nr === PSEUDO.skip
      ? `skip ${op.skip}`
      : op.nr === PSEUDO.skipIfZero
      ? `skip ${op.skip} if ${arg(op.args[0])} is 0`
      : `${names[op.nr] ?? op.nr}(${op.args.map(arg).join(", ")})`;
    const f = op.onFail ?? "report";
    const fail = f === "report"
      ? ""
      : f === "ignore"
      ? " [failure ignored]"
      : "errno" in f
      ? ` [errno ${[f.errno].flat().join("/")}: skip ${f.skip}]`
      : ` [retried ${f.tries} times while r${f.whileAlive.reg} lives]`;
    return `${String(i).padStart(4)}  ${call}${op.result ? ` -> r${op.result.reg}` : ""}${fail}  # ${op.what}`;
  });
}
