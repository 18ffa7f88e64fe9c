/**
 * Reading an ELF file's headers, of both classes (32/64-bit) and both byte orders: the AppImage
 * reader finds where the image starts after them, the toolkit check the libraries a program needs.
 */
import type { ReadAt } from "./files.ts";

export interface ElfLayout {
  is64: boolean;
  /** Little-endian. */
  le: boolean;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
}

/** A word of the file's class and byte order at `off` in `v`. */
export const elfWord = (l: ElfLayout, v: DataView, off: number) =>
  l.is64 ? Number(v.getBigUint64(off, l.le)) : v.getUint32(off, l.le);

/** The ELF header's table fields; null unless `head` is a whole header of a known class and byte order. */
export function elfLayout(head: Uint8Array): ElfLayout | null {
  if (head.length < 6 || new TextDecoder("latin1").decode(head.subarray(0, 4)) !== "\x7fELF") return null;
  const cls = head[4], data = head[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return null;
  const is64 = cls === 2, le = data === 1;
  if (head.length < (is64 ? 64 : 52)) return null;
  const v = new DataView(head.buffer, head.byteOffset, head.length);
  const half = (off: number) => v.getUint16(off, le);
  const [phentsize, phnum, shentsize, shnum] = (is64 ? [54, 56, 58, 60] : [42, 44, 46, 48]).map(half);
  const l = { is64, le, phoff: 0, phentsize, phnum, shoff: 0, shentsize, shnum };
  return { ...l, phoff: elfWord(l, v, is64 ? 32 : 28), shoff: elfWord(l, v, is64 ? 40 : 32) };
}

export interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** The program headers; null when the file ends before they do. */
export function programHeaders(read: ReadAt, l: ElfLayout): ProgramHeader[] | null {
  const bytes = read(l.phoff, l.phentsize * l.phnum);
  if (bytes.length < l.phentsize * l.phnum) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: l.phnum }, (_, i) => {
    const at = i * l.phentsize;
    return {
      type: v.getUint32(at, l.le),
      offset: elfWord(l, v, at + (l.is64 ? 8 : 4)),
      vaddr: elfWord(l, v, at + (l.is64 ? 16 : 8)),
      filesz: elfWord(l, v, at + (l.is64 ? 32 : 16)),
    };
  });
}
