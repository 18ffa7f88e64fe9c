/** The committed stub bytes are exactly what the assembly sources assemble to. */
import assert from "node:assert/strict";
import { assembleStub, STUB_ARCHES, type StubArch, toolPrefix } from "../../scripts/stub_asm.ts";
import { STUB_BYTES } from "../../src/sys/stub/bytes.ts";

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
}

Deno.test("a stub exists for the machine running the tests", () => {
  assert.ok(STUB_BYTES[Deno.build.arch]?.length > 100);
});
