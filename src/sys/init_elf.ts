/**
 * bbl's native init as an executable: the machine code of src/sys/stub/init_*.S in a minimal static
 * ELF image (one read-and-execute segment and a non-executable stack), which each layer's process
 * execs from a memfd the launcher made, once the process below it exists (src/layer/compile.ts).
 * No file of it exists anywhere.
 */
import { INIT_BYTES } from "./stub/bytes.ts";

const MACHINE: Record<string, number> = { x86_64: 62, aarch64: 183 };
/** Where the segment is mapped; the code needs no relocation, any page-aligned address works. */
const BASE = 0x400000n;
const EHDR = 64, PHDR = 56, HEADERS = EHDR + 2 * PHDR;

export function initElf(arch: string): Uint8Array {
  const code = INIT_BYTES[arch];
  if (!code || MACHINE[arch] === undefined) throw new Error(`bbl has no init for ${arch}`);
  const image = new Uint8Array(HEADERS + code.length);
  const v = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // \x7fELF, 64-bit, little-endian, version 1, System V
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, MACHINE[arch], true);
  v.setUint32(20, 1, true); // EV_CURRENT
  v.setBigUint64(24, BASE + BigInt(HEADERS), true); // entry: the first instruction, after the headers
  v.setBigUint64(32, BigInt(EHDR), true); // program headers right after this one
  v.setUint16(52, EHDR, true);
  v.setUint16(54, PHDR, true);
  v.setUint16(56, 2, true);
  // PT_LOAD: the whole file, read and execute
  v.setUint32(EHDR, 1, true);
  v.setUint32(EHDR + 4, 5, true); // PF_R | PF_X
  v.setBigUint64(EHDR + 16, BASE, true); // vaddr (offset 0)
  v.setBigUint64(EHDR + 24, BASE, true); // paddr
  v.setBigUint64(EHDR + 32, BigInt(image.length), true); // filesz
  v.setBigUint64(EHDR + 40, BigInt(image.length), true); // memsz
  v.setBigUint64(EHDR + 48, 0x1000n, true);
  // PT_GNU_STACK: read and write, not executable
  v.setUint32(EHDR + PHDR, 0x6474e551, true);
  v.setUint32(EHDR + PHDR + 4, 6, true); // PF_R | PF_W
  image.set(code, HEADERS);
  return image;
}
