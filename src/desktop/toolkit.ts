/**
 * Which GUI toolkit a program is built on, where a display mode depends on it: GTK 4 needs XInput2,
 * which the X SECURITY extension withholds from untrusted clients, so it aborts on `gui: x11` with an
 * untrusted cookie ("XInput2 support not found on display") and draws under Xephyr and Wayland. A
 * program is taken for GTK 4 when its ELF dynamic section needs libgtk-4 (read, never run); an
 * AppImage when its image holds libgtk-4 (src/appimage/browser.ts looks).
 */
import type { ReadAt } from "../sys/files.ts";
import { elfLayout, elfWord, programHeaders } from "../sys/elf.ts";

export const GTK4_LIBRARY = /^libgtk-4\.so(\.\d+)*$/;

const PT_LOAD = 1, PT_DYNAMIC = 2;
const DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5;

/** The DT_NEEDED libraries of an ELF file; null if it is not a dynamic ELF file. */
export function neededLibraries(read: ReadAt): string[] | null {
  const l = elfLayout(read(0, 64));
  const segments = l && programHeaders(read, l);
  const dynamic = segments?.find((p) => p.type === PT_DYNAMIC);
  if (!l || !segments || !dynamic) return null;
  const dyn = read(dynamic.offset, dynamic.filesz);
  const dv = new DataView(dyn.buffer, dyn.byteOffset, dyn.length);
  const entry = l.is64 ? 16 : 8;
  const needed: number[] = [];
  let strtab: number | null = null;
  for (let at = 0; at + entry <= dyn.length; at += entry) {
    const tag = elfWord(l, dv, at), val = elfWord(l, dv, at + entry / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(val);
    if (tag === DT_STRTAB) strtab = val;
  }
  // DT_STRTAB is an address: the file offset is where the segment holding it is loaded from.
  const seg = segments.find((p) =>
    p.type === PT_LOAD && strtab !== null && strtab >= p.vaddr && strtab < p.vaddr + p.filesz
  );
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
