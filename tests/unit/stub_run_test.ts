/**
 * The spawn stub's interpreter of each architecture, run for real: natively on this machine's, under
 * qemu-user on the other (reported as ignored where neither is possible). A small harness program
 * (tests/fixtures/stub_harness_*.S) calls the stub on an argument struct and program laid out by
 * spawn.ts for that architecture's system call numbers and open flags; the child reads its start
 * byte from stdin and reports a failing step on stdout, or execs a host shell that prints.
 */
import assert from "node:assert/strict";
import { archRunner, assembleStub, STUB_ARCHES, type StubArch, toolPrefix } from "../../scripts/stub_asm.ts";
import { STUB_BYTES } from "../../src/sys/stub/bytes.ts";
import { spawnImage, type SpawnRequest } from "../../src/sys/spawn.ts";
import { decimalOp, reg, skipIfZeroOp, skipOp, type SpawnOp, storeOp } from "../../src/sys/program.ts";
import { AT_FDCWD, NR, O, O_BY_ARCH } from "../../src/sys/consts.ts";
import { errnoName } from "../../src/sys/errno.ts";

const root = new URL("../..", import.meta.url).pathname;
const CODE = 0x400000n, DATA = 0x10000000n;

/** A static executable: the harness then the stub (read and execute), the struct image (read and write). */
function harnessElf(arch: StubArch, harness: Uint8Array, data: Uint8Array): Uint8Array {
  const code = new Uint8Array([...harness, ...STUB_BYTES[arch]]);
  const EH = 64, PH = 56, head = EH + 3 * PH;
  const dataOff = (head + code.length + 0xfff) & ~0xfff;
  const image = new Uint8Array(dataOff + data.length);
  const v = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, arch === "x86_64" ? 62 : 183, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, CODE + BigInt(head), true);
  v.setBigUint64(32, BigInt(EH), true);
  v.setUint16(52, EH, true);
  v.setUint16(54, PH, true);
  v.setUint16(56, 3, true);
  const segment = (i: number, type: number, flags: number, off: number, addr: bigint, size: number) => {
    const o = EH + PH * i;
    v.setUint32(o, type, true);
    v.setUint32(o + 4, flags, true);
    v.setBigUint64(o + 8, BigInt(off), true);
    v.setBigUint64(o + 16, addr, true);
    v.setBigUint64(o + 24, addr, true);
    v.setBigUint64(o + 32, BigInt(size), true);
    v.setBigUint64(o + 40, BigInt(size), true);
    v.setBigUint64(o + 48, 0x1000n, true);
  };
  segment(0, 1, 5, 0, CODE, head + code.length); // PT_LOAD, read and execute
  segment(1, 1, 6, dataOff, DATA, data.length); // PT_LOAD, read and write
  segment(2, 0x6474e551, 6, 0, 0n, 0); // PT_GNU_STACK, not executable
  image.set(code, head);
  image.set(data, dataOff);
  return image;
}

type Outcome = { output: string } | { step: number; errno: string };

/** Runs `ops` then execs sh -c `script`, on `arch`; what the child printed, or the step it reported. */
async function runOn(
  arch: StubArch,
  prefix: string[],
  harness: Uint8Array,
  ops: SpawnOp[],
  script: string,
): Promise<Outcome> {
  const req: SpawnRequest = {
    flags: 0,
    path: "/bin/sh",
    argv: ["sh", "-c", script],
    env: ["PATH=/usr/bin:/bin"],
    pdeathsig: 0,
    ops,
  };
  // start byte on stdin (0), no write end to close (-1), failures reported on stdout (1)
  const elf = harnessElf(arch, harness, spawnImage(req, { syncR: 0, syncW: -1, errW: 1 }, DATA));
  const dir = Deno.makeTempDirSync({ prefix: "bbl-harness-" });
  try {
    Deno.writeFileSync(`${dir}/harness`, elf, { mode: 0o755 });
    const cmd = [...prefix, `${dir}/harness`];
    const p = new Deno.Command(cmd[0], { args: cmd.slice(1), stdin: "piped", stdout: "piped" }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new Uint8Array([1]));
    await w.close();
    const [out, status] = await Promise.all([new Response(p.stdout).arrayBuffer(), p.status]);
    assert.equal(status.code, 0, "the harness cloned");
    const bytes = new Uint8Array(out);
    const text = new TextDecoder().decode(bytes);
    if (bytes.length === 8 && [...bytes].some((b) => b < 0x20 && b !== 0x0a)) {
      const dv = new DataView(out);
      return { step: dv.getUint32(0, true), errno: errnoName(dv.getInt32(4, true)) };
    }
    return { output: text };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const path = (p: string) => new TextEncoder().encode(p + "\0");

for (const arch of Object.keys(STUB_ARCHES) as StubArch[]) {
  const prefix = archRunner(arch), tools = toolPrefix(arch);
  Deno.test({
    name:
      `stub interpreter (${arch}): registers, decimal, store, skips, the arch's open flags, clone branches, retries`,
    ignore: prefix === null || tools === null,
    fn: async () => {
      const harness = assembleStub(root, arch, tools!, "harness");
      const nr = (name: string) => NR[arch][name];
      const { DIRECTORY } = O_BY_ARCH[arch];
      const run = (ops: SpawnOp[], script: string) => runOn(arch, prefix!, harness, ops, script);

      // a descriptor kept, named in decimal, reopened through /proc/self/fd/N, stored as a number
      const fdPath = path("/proc/self/fd/" + "\0".repeat(24)), stored = new Uint8Array(8);
      const reopen: SpawnOp[] = [
        { what: "open", nr: nr("openat"), args: [AT_FDCWD, path("/dev/null"), O.CLOEXEC], result: reg(3) },
        decimalOp("name", reg(3), fdPath, 14),
        { what: "reopen", nr: nr("openat"), args: [AT_FDCWD, fdPath, O.CLOEXEC], result: reg(4) },
        { what: "at 5", nr: nr("dup3"), args: [reg(4), 5, 0] },
        storeOp("store", reg(3), stored),
        { what: "print it", nr: nr("write"), args: [1, stored, 8] },
        { what: "print its name", nr: nr("write"), args: [1, fdPath, 24] },
      ];
      const r1 = await run(reopen, "echo; readlink /proc/self/fd/5");
      assert.ok("output" in r1, JSON.stringify(r1));
      const fd = new DataView(new TextEncoder().encode(r1.output.slice(0, 8)).buffer).getBigUint64(0, true);
      assert.equal(
        r1.output.slice(8, 32).replace(/\0+$/, ""),
        `/proc/self/fd/${fd}`,
        "the number stored is the one named",
      );
      assert.equal(r1.output.slice(32), "\n/dev/null\n");

      // O_DIRECTORY of this architecture on a file: ENOTDIR, skipped when listed, reported when not
      const notDir = (skip: SpawnOp["onFail"]): SpawnOp => ({
        what: "a file as a directory",
        nr: nr("openat"),
        args: [AT_FDCWD, path("/etc/passwd"), O.CLOEXEC | DIRECTORY],
        ...(skip ? { onFail: skip } : {}),
      });
      const bad: SpawnOp = { what: "bad", nr: nr("dup3"), args: [987654, 5, 0] };
      assert.deepEqual(await run([notDir(undefined)], "true"), { step: 0, errno: "ENOTDIR" });
      assert.deepEqual(await run([notDir({ errno: [2, 20], skip: 1 }), bad], "echo skipped"), { output: "skipped\n" });
      assert.deepEqual(await run([notDir({ errno: 2, skip: 1 }), bad], "true"), { step: 0, errno: "ENOTDIR" });
      assert.deepEqual(await run([skipOp("jump", 1), bad, bad], "true"), { step: 2, errno: "EBADF" });

      // a clone: the child takes its branch and exits; the parent's retried wait sees it gone
      const child = reg(6);
      const cloned: SpawnOp[] = [
        { what: "clone", nr: nr("clone"), args: [17, 0, 0, 0, 0], result: child },
        skipIfZeroOp("branch", child, 1),
        skipOp("parent", 1),
        { what: "child exits", nr: nr("exit_group"), args: [0] },
        {
          what: "wait",
          nr: nr("openat"),
          args: [AT_FDCWD, path("/nonexistent"), 0],
          onFail: { tries: 500, whileAlive: child },
        },
      ];
      assert.deepEqual(await run(cloned, "true"), { step: 4, errno: "ECHILD" });
      // out of tries with nothing to watch: the last errno
      const tries: SpawnOp = {
        what: "wait",
        nr: nr("openat"),
        args: [AT_FDCWD, path("/nonexistent"), 0],
        onFail: { tries: 2, whileAlive: reg(9) },
      };
      assert.deepEqual(await run([tries], "true"), { step: 0, errno: "ENOENT" });
    },
  });
}
