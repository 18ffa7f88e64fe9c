/**
 * Assembles the machine-code sources with GNU binutils (shared by gen-stub.ts and the stub tests),
 * and finds how to run a program of either architecture here.
 */

export const STUB_ARCHES = {
  x86_64: {
    src: "src/sys/stub/x86_64.S",
    init: "src/sys/stub/init_x86_64.S",
    harness: "tests/fixtures/stub_harness_x86_64.S",
    prefix: "",
  },
  aarch64: {
    src: "src/sys/stub/aarch64.S",
    init: "src/sys/stub/init_aarch64.S",
    harness: "tests/fixtures/stub_harness_aarch64.S",
    prefix: "aarch64-linux-gnu-",
  },
} as const;
export type StubArch = keyof typeof STUB_ARCHES;
/**
 * The routines: the spawn stub (called through FFI), the init (a program of its own), and the tests'
 * harness that calls the stub as a program of its own (to run it under qemu-user).
 */
export type Routine = "src" | "init" | "harness";

/** The binutils prefix that assembles `arch` on this machine, or null when none is installed. */
export function toolPrefix(arch: StubArch): string | null {
  const native = Deno.build.arch === arch;
  const candidates = native ? ["", STUB_ARCHES[arch].prefix] : [STUB_ARCHES[arch].prefix];
  for (const p of candidates) {
    if (p === "" && !native) continue;
    try {
      const r = new Deno.Command(`${p}as`, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (r.success) return p;
    } catch { /* not installed */ }
  }
  return null;
}

const QEMU: Record<StubArch, string> = { x86_64: "qemu-x86_64", aarch64: "qemu-aarch64" };

/**
 * The command prefix that runs a program of `arch` here: none natively, qemu-user for the other
 * architecture where it is installed, or null (the tests that need it are then reported as ignored).
 */
export function archRunner(arch: StubArch): string[] | null {
  if (arch === Deno.build.arch) return [];
  try {
    new Deno.Command(QEMU[arch], { args: ["--version"], stdout: "null" }).outputSync();
    return [QEMU[arch]];
  } catch {
    return null;
  }
}

function run(cmd: string, args: string[]): string {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return new TextDecoder().decode(r.stdout);
}

/** Assembles one routine to its raw .text bytes; refuses code that would need relocation. */
export function assembleStub(root: string, arch: StubArch, prefix: string, routine: Routine = "src"): Uint8Array {
  const dir = Deno.makeTempDirSync({ prefix: "bbl-stub-" });
  try {
    const obj = `${dir}/stub.o`, bin = `${dir}/stub.bin`;
    run(`${prefix}as`, ["-o", obj, `${root}/${STUB_ARCHES[arch][routine]}`]);
    const relocs = run(`${prefix}objdump`, ["-r", obj]);
    if (/R_(X86_64|AARCH64)_/.test(relocs)) {
      throw new Error(`${arch} stub is not position-independent:\n${relocs}`);
    }
    run(`${prefix}objcopy`, ["-O", "binary", "-j", ".text", obj, bin]);
    return Deno.readFileSync(bin);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
