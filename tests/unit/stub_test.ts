/** The committed stub bytes are exactly what the assembly sources assemble to. */
import assert from "node:assert/strict";
import { assembleStub, STUB_ARCHES, type StubArch, toolPrefix } from "../../scripts/stub_asm.ts";
import { INIT_BYTES, STUB_BYTES } from "../../src/sys/stub/bytes.ts";
import { initElf } from "../../src/sys/init_elf.ts";

const root = new URL("../..", import.meta.url).pathname;

for (const arch of Object.keys(STUB_ARCHES) as StubArch[]) {
  const prefix = toolPrefix(arch);
  Deno.test({
    name: `stub bytes for ${arch} match ${STUB_ARCHES[arch].src}`,
    // Without an assembler for this architecture there is nothing to compare: reported as ignored.
    ignore: prefix === null,
    fn: () => {
      assert.deepEqual([...assembleStub(root, arch, prefix!)], [...STUB_BYTES[arch]]);
    },
  });
  Deno.test({
    name: `init bytes for ${arch} match ${STUB_ARCHES[arch].init}`,
    ignore: prefix === null,
    fn: () => {
      assert.deepEqual([...assembleStub(root, arch, prefix!, "init")], [...INIT_BYTES[arch]]);
    },
  });
}

Deno.test("the init's ELF image: a static executable whose entry is the init's first instruction", () => {
  for (const [arch, machine] of [["x86_64", 62], ["aarch64", 183]] as const) {
    const elf = initElf(arch);
    const v = new DataView(elf.buffer);
    assert.deepEqual([...elf.subarray(0, 7)], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    assert.equal(v.getUint16(16, true), 2, "ET_EXEC");
    assert.equal(v.getUint16(18, true), machine);
    const phoff = Number(v.getBigUint64(32, true)), phnum = v.getUint16(56, true);
    const segments = Array.from({ length: phnum }, (_, i) => phoff + 56 * i);
    const load = segments.find((o) => v.getUint32(o, true) === 1)!;
    const base = v.getBigUint64(load + 16, true);
    assert.equal(Number(v.getBigUint64(load + 32, true)), elf.length, "the whole file is loaded");
    assert.equal(v.getUint32(load + 4, true), 5, "read and execute, not writable");
    const entry = Number(v.getBigUint64(24, true) - base);
    assert.deepEqual([...elf.subarray(entry)], [...INIT_BYTES[arch]]);
    const stack = segments.find((o) => v.getUint32(o, true) === 0x6474e551)!;
    assert.equal(v.getUint32(stack + 4, true), 6, "a stack that is not executable");
  }
});

Deno.test("a stub exists for the machine running the tests", () => {
  assert.ok(STUB_BYTES[Deno.build.arch]?.length > 100);
});
