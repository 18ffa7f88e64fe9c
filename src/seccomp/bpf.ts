/**
 * Compiles a seccomp Policy into a classic BPF program for SECCOMP_SET_MODE_FILTER, for one
 * architecture. Layout:
 *
 *   load arch; not the native arch (i386 via int 0x80 on x86_64, or anything else) -> ENOSYS
 *   load nr; x86_64: nr with the x32 bit -> ENOSYS
 *   per named system call: nr == N -> its rules, in order; each rule loads its argument (low 32 bits)
 *   and tests its condition, returning the rule's errno when it holds
 *   otherwise ALLOW
 *
 * Jumps in classic BPF are forward only with 8-bit offsets, so each system call's block is emitted
 * as "jeq N, 0, skip" over its own rules, which keeps every jump short.
 */
import type { Policy, Rule } from "./policy.ts";
import { AUDIT_ARCH, SYSCALLS, X32_SYSCALL_BIT } from "./syscalls.ts";

// BPF opcodes (linux/bpf_common.h)
const LD_W_ABS = 0x20, JMP_JEQ_K = 0x15, JMP_JGE_K = 0x35, JMP_JSET_K = 0x45, RET_K = 0x06;
export const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const OFF_NR = 0, OFF_ARCH = 4, OFF_ARGS = 16;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const ins = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, jt, jf, k: k >>> 0 });
const ret = (k: number) => ins(RET_K, k);
const errno = (e: number) => ret(RET_ERRNO | (e & 0xffff));

/** Instructions that return `rule`'s errno when its condition holds, else fall through. */
function ruleBlock(rule: Rule): Insn[] {
  const action = errno(rule.action.errno);
  const c = rule.when;
  if (!c) return [action];
  const load = ins(LD_W_ABS, OFF_ARGS + 8 * c.arg); // low 32 bits (little-endian)
  switch (c.op) {
    case "any-bit":
      return [load, ins(JMP_JSET_K, c.values[0], 0, 1), action];
    case "in": {
      // jeq v_i -> the action at the end; otherwise fall through past it
      const n = c.values.length;
      return [load, ...c.values.map((v, i) => ins(JMP_JEQ_K, v, n - i, 0)), ins(0x05, /* JA */ 1), action];
    }
    case "not-in": {
      // jeq v_i -> past the action; no match -> the action
      const n = c.values.length;
      return [load, ...c.values.map((v, i) => ins(JMP_JEQ_K, v, n - i, 0)), action];
    }
  }
}

export function compile(policy: Policy, arch: "x86_64" | "aarch64"): Insn[] {
  const table = SYSCALLS[arch];
  const out: Insn[] = [
    ins(LD_W_ABS, OFF_ARCH),
    ins(JMP_JEQ_K, AUDIT_ARCH[arch], 1, 0),
    errno(38), // ENOSYS: another ABI (i386 int 0x80 on x86_64)
    ins(LD_W_ABS, OFF_NR),
  ];
  if (arch === "x86_64") out.push(ins(JMP_JGE_K, X32_SYSCALL_BIT, 0, 1), errno(38));
  const bySyscall = new Map<string, Rule[]>();
  for (const r of policy.rules) {
    if (!(r.syscall in table)) continue; // not on this architecture
    bySyscall.set(r.syscall, [...(bySyscall.get(r.syscall) ?? []), r]);
  }
  for (const [name, rules] of bySyscall) {
    // Rules that load an argument clobber the accumulator: reload nr after the block.
    const body = [...rules.flatMap(ruleBlock), ret(RET_ALLOW)];
    if (body.length > 255) throw new Error(`seccomp: too many rules for ${name}`);
    out.push(ins(JMP_JEQ_K, table[name], 0, body.length), ...body);
  }
  out.push(ret(RET_ALLOW));
  return out;
}

/** struct sock_filter[] as bytes (u16 code, u8 jt, u8 jf, u32 k; little-endian). */
export function encode(prog: Insn[]): Uint8Array {
  const buf = new Uint8Array(8 * prog.length);
  const dv = new DataView(buf.buffer);
  prog.forEach((p, i) => {
    dv.setUint16(8 * i, p.code, true);
    dv.setUint8(8 * i + 2, p.jt);
    dv.setUint8(8 * i + 3, p.jf);
    dv.setUint32(8 * i + 4, p.k, true);
  });
  return buf;
}
