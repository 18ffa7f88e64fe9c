/**
 * The BPF the compiler emits, run on a small classic-BPF interpreter (just the opcodes it uses) over
 * synthetic seccomp_data, so every rule's verdict is checked without a kernel.
 */
import assert from "node:assert/strict";
import { compile, encode, type Insn, RET_ALLOW } from "../../src/seccomp/bpf.ts";
import { CLONE_NEW_MASK, DEFAULT_POLICY, NESTED_SANDBOX, policyWith } from "../../src/seccomp/policy.ts";
import { AUDIT_ARCH, SYSCALLS } from "../../src/seccomp/syscalls.ts";
import { loadYaml } from "../../src/yaml.ts";
import { parsePolicy } from "../../src/seccomp/file.ts";
import { UsageError } from "../../src/errors.ts";
import { CLONE } from "../../src/sys/consts.ts";

await loadYaml(); // policy files are YAML

type Arch = "x86_64" | "aarch64";

function run(prog: Insn[], data: { nr: number; arch: number; args?: number[] }): number {
  const word = (off: number) => {
    if (off === 0) return data.nr >>> 0;
    if (off === 4) return data.arch >>> 0;
    const i = (off - 16) / 8;
    return (data.args?.[i] ?? 0) >>> 0; // low 32 bits of args[i]
  };
  let a = 0;
  for (let pc = 0; pc < prog.length;) {
    const { code, jt, jf, k } = prog[pc];
    switch (code) {
      case 0x20:
        a = word(k);
        pc++;
        break;
      case 0x15:
        pc += 1 + (a === k ? jt : jf);
        break;
      case 0x35:
        pc += 1 + (a >= k ? jt : jf);
        break;
      case 0x45:
        pc += 1 + ((a & k) !== 0 ? jt : jf);
        break;
      case 0x05:
        pc += 1 + k;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`opcode ${code}`);
    }
  }
  throw new Error("fell off the program");
}

const ERRNO = (e: number) => 0x00050000 | e;

for (const arch of ["x86_64", "aarch64"] as Arch[]) {
  const prog = compile(DEFAULT_POLICY, arch);
  const call = (name: string, args: number[] = []) =>
    run(prog, { nr: SYSCALLS[arch][name], arch: AUDIT_ARCH[arch], args });

  Deno.test(`seccomp ${arch}: denied calls get EPERM, the new mount API ENOSYS, others pass`, () => {
    for (
      const name of [
        "ptrace",
        "keyctl",
        "bpf",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "unshare",
        "setns",
        "io_uring_setup",
        "userfaultfd",
        "perf_event_open",
        "kexec_load",
        "init_module",
      ]
    ) {
      assert.equal(call(name), ERRNO(1), name);
    }
    for (
      const name of ["clone3", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"]
    ) {
      assert.equal(call(name), ERRNO(38), name);
    }
    assert.equal(run(prog, { nr: 0, arch: AUDIT_ARCH[arch] }), RET_ALLOW); // read / io_setup
    assert.equal(run(prog, { nr: 63, arch: AUDIT_ARCH[arch] }), RET_ALLOW);
  });

  Deno.test(`seccomp ${arch}: argument rules (clone flags, socket families, TIOCSTI, personality)`, () => {
    assert.equal(call("clone", [17 /* SIGCHLD: fork */]), RET_ALLOW);
    assert.equal(call("clone", [0x3d0f00 /* threads */]), RET_ALLOW);
    for (const f of [CLONE.NEWUSER, CLONE.NEWNS, CLONE.NEWPID, CLONE.NEWNET]) {
      assert.equal(call("clone", [f | 17]), ERRNO(1));
    }
    assert.equal(CLONE_NEW_MASK & 0xff, 0, "no exit-signal bits in the mask");
    for (const fam of [1, 2, 10, 16]) assert.equal(call("socket", [fam]), RET_ALLOW, `family ${fam}`);
    for (const fam of [17, /* AF_PACKET */ 40, /* AF_VSOCK */ 38 /* AF_ALG */]) {
      assert.equal(call("socket", [fam]), ERRNO(1));
    }
    assert.equal(call("ioctl", [0, 0x5412]), ERRNO(1)); // TIOCSTI
    assert.equal(call("ioctl", [0, 0x541c]), ERRNO(1)); // TIOCLINUX
    assert.equal(call("ioctl", [0, 0x5413]), RET_ALLOW); // TIOCGWINSZ
    assert.equal(call("personality", [0]), RET_ALLOW);
    assert.equal(call("personality", [0xffffffff]), RET_ALLOW);
    assert.equal(call("personality", [0x0400000 /* READ_IMPLIES_EXEC */]), ERRNO(1));
  });

  Deno.test(`seccomp ${arch}: other ABIs are refused`, () => {
    assert.equal(run(prog, { nr: 26, /* i386 ptrace */ arch: AUDIT_ARCH.i386 }), ERRNO(38));
    if (arch === "x86_64") assert.equal(run(prog, { nr: 0x40000000 | 101, arch: AUDIT_ARCH.x86_64 }), ERRNO(38));
  });
}

Deno.test("seccomp allowances lift exactly their rules", () => {
  const prog = compile(policyWith(["ptrace", "userns"]), "x86_64");
  const call = (name: string, args: number[] = []) =>
    run(prog, { nr: SYSCALLS.x86_64[name], arch: AUDIT_ARCH.x86_64, args });
  assert.equal(call("ptrace"), RET_ALLOW);
  assert.equal(call("unshare"), RET_ALLOW);
  assert.equal(call("clone", [CLONE.NEWUSER | 17]), RET_ALLOW);
  assert.equal(call("mount"), ERRNO(1));
  assert.equal(call("bpf"), ERRNO(1));
});

Deno.test("seccomp program encodes as struct sock_filter", () => {
  const bytes = encode([{ code: 0x06, jt: 1, jf: 2, k: RET_ALLOW }]);
  assert.deepEqual([...bytes], [0x06, 0, 1, 2, 0x00, 0x00, 0xff, 0x7f]);
});

Deno.test("policy files: parsed, and every mistake refused with its place", () => {
  const p = parsePolicy(
    "rules:\n  - { syscall: ptrace, errno: EACCES }\n  - { syscall: socket, errno: EPERM, when: { arg: 0, op: not-in, values: [1, 2] } }\n",
    "p.yaml",
  );
  assert.deepEqual(p.rules, [
    { syscall: "ptrace", action: { errno: 13 } },
    { syscall: "socket", action: { errno: 1 }, when: { arg: 0, op: "not-in", values: [1, 2] } },
  ]);
  const bad = (yaml: string, msg: RegExp) =>
    assert.throws(
      () => parsePolicy(yaml, "p.yaml"),
      (e: unknown) => e instanceof UsageError && msg.test(e.message),
      msg.source,
    );
  bad(
    "rules:\n  - { syscall: ptrac, errno: EPERM }\n",
    /p\.yaml: rules\[0\]\.syscall: unknown system call 'ptrac' \(did you mean 'ptrace'\?\)/,
  );
  bad("rules:\n  - { syscall: ptrace, errno: EPRM }\n", /rules\[0\]\.errno: expected an errno name/);
  bad("rules:\n  - { syscall: ptrace, errno: EPERM, when: { arg: 7, op: in, values: [1] } }\n", /rules\[0\]\.when/);
  bad("nope: 1\n", /expected a mapping with a list 'rules'/);
});

Deno.test("nested sandbox: exactly unshare, clone's namespace flags and chroot are lifted; setns and mount stay", () => {
  const lifted = DEFAULT_POLICY.rules.filter(NESTED_SANDBOX).map((r) => r.syscall).sort();
  assert.deepEqual(lifted, ["chroot", "clone", "unshare"]);
  const kept = DEFAULT_POLICY.rules.filter((r) => !NESTED_SANDBOX(r)).map((r) => r.syscall);
  for (const s of ["setns", "mount", "pivot_root", "clone3", "ptrace", "keyctl"]) assert.ok(kept.includes(s), s);
});
