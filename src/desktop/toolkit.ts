/**
 * Which GUI toolkit a program is built on, where a display mode depends on it: GTK 4 needs XInput2,
 * which the X SECURITY extension withholds from untrusted clients, so it aborts on `gui: x11` with an
 * untrusted cookie ("XInput2 support not found on display") and draws under Xephyr and Wayland. A
 * program is taken for GTK 4 when its ELF dynamic section needs libgtk-4 (read, never run); an
 * AppImage when its image holds libgtk-4 (src/appimage/browser.ts looks).
 */
import type { ReadAt } from "../sys/files.ts";

export const GTK4_LIBRARY = /^libgtk-4\.so(\.\d+)*$/;

const PT_LOAD = 1, PT_DYNAMIC = 2;
const DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5;

/** The DT_NEEDED libraries of an ELF file (both classes and byte orders); null if it is not a dynamic ELF file. */
export function neededLibraries(read: ReadAt): string[] | null {
  const head = read(0, 64);
  if (head.length < 52 || new TextDecoder("latin1").decode(head.subarray(0, 4)) !== "\x7fELF") return null;
  const is64 = head[4] === 2, le = head[5] === 1;
  const hv = new DataView(head.buffer, head.byteOffset, head.length);
  const word = (v: DataView, off: number) => is64 ? Number(v.getBigUint64(off, le)) : v.getUint32(off, le);
  const phoff = word(hv, is64 ? 32 : 28);
  const [phentsize, phnum] = (is64 ? [54, 56] : [42, 44]).map((o) => hv.getUint16(o, le));
  const phdrs = read(phoff, phentsize * phnum);
  if (phdrs.length < phentsize * phnum) return null;
  const pv = new DataView(phdrs.buffer, phdrs.byteOffset, phdrs.length);
  const loads: { offset: number; vaddr: number; filesz: number }[] = [];
  let dynamic: { offset: number; size: number } | null = null;
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    const type = pv.getUint32(at, le);
    const offset = word(pv, at + (is64 ? 8 : 4)), vaddr = word(pv, at + (is64 ? 16 : 8));
    const filesz = word(pv, at + (is64 ? 32 : 16));
    if (type === PT_LOAD) loads.push({ offset, vaddr, filesz });
    if (type === PT_DYNAMIC) dynamic = { offset, size: filesz };
  }
  if (dynamic === null) return null;
  const dyn = read(dynamic.offset, dynamic.size);
  const dv = new DataView(dyn.buffer, dyn.byteOffset, dyn.length);
  const entry = is64 ? 16 : 8;
  const needed: number[] = [];
  let strtab: number | null = null;
  for (let at = 0; at + entry <= dyn.length; at += entry) {
    const tag = word(dv, at), val = word(dv, at + entry / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(val);
    if (tag === DT_STRTAB) strtab = val;
  }
  // DT_STRTAB is an address: the file offset is where the segment holding it is loaded from.
  const seg = loads.find((l) => strtab !== null && strtab >= l.vaddr && strtab < l.vaddr + l.filesz);
  if (strtab === null || !seg) return null;
  const base = seg.offset + (strtab - seg.vaddr);
  return needed.map((n) => {
    const bytes = read(base + n, 256);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
  });
}

/** Whether a program file links GTK 4 (unreadable or not ELF: no). */
export function linksGtk4(needed: string[] | null): boolean {
  return (needed ?? []).some((l) => GTK4_LIBRARY.test(l));
}
