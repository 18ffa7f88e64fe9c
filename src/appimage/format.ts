/**
 * Reading an AppImage without running it. A type 2 AppImage is an ELF program (its runtime) with
 * `AI\x02` at offset 8, followed by a filesystem image: it starts where the ELF file ends, which is
 * the end of the section header table (as the runtime computes it), and that must not be inside a
 * segment of the program. The filesystem is recognised by its magic: `hsqs` (squashfs) or `DWARFS`.
 * ELF files of both classes (32/64-bit) and both byte orders are read. Anything else gets an error
 * that says what the file is.
 */
import { UsageError } from "../errors.ts";
import { type ReadAt, withFile } from "../sys/files.ts";
import { elfLayout, programHeaders } from "../sys/elf.ts";

export type FsFormat = "squashfs" | "dwarfs";

/** Each filesystem's magic, at the start of its image. */
export const MAGIC: Record<FsFormat, string> = { squashfs: "hsqs", dwarfs: "DWARFS" };

export interface AppImageInfo {
  /** Where the filesystem starts in the file. */
  offset: number;
  format: FsFormat;
}

const text = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/** What a file that is not an AppImage looks like, for the error message. */
function describe(head: Uint8Array, read: ReadAt): string {
  if (head.length === 0) return "an empty file";
  if (text(head.subarray(0, 2)) === "#!") return "a script";
  if (text(head.subarray(0, 4)) === "PK\x03\x04") return "a ZIP archive";
  if (text(head.subarray(0, 4)) === "hsqs") return "a bare squashfs image (no AppImage runtime before it)";
  if (text(read(0x8001, 5)) === "CD001") return "an ISO 9660 image";
  return "not an ELF program";
}

export function readAppImage(file: string, read: ReadAt, size: number): AppImageInfo {
  const head = read(0, 64);
  const fail = (what: string): never => {
    throw new UsageError(`${file}: ${what}`);
  };
  if (text(head.subarray(0, 4)) !== "\x7fELF") fail(`not an AppImage: ${describe(head, read)}`);
  const cls = head[4], data = head[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) fail("not an AppImage: an ELF file of unknown class");
  const is64 = cls === 2;
  if (head[8] !== 0x41 || head[9] !== 0x49) {
    fail("not an AppImage: an ELF program without the AppImage marker ('AI' at offset 8)");
  }
  if (head[10] === 1) {
    fail("a type 1 AppImage (ISO 9660), which bbl does not support; type 2 AppImages are the current format");
  }
  if (head[10] !== 2) fail(`an AppImage of unknown type ${head[10]}`);
  if (head.length < (is64 ? 64 : 52)) fail("truncated: the ELF header is incomplete");
  const layout = elfLayout(head)!;
  const { shoff, shentsize, shnum } = layout;
  if (shoff === 0 || shnum === 0) fail("not an AppImage: its ELF runtime has no section header table");
  const offset = shoff + shentsize * shnum;
  if (!Number.isSafeInteger(offset) || offset > size) {
    fail(`truncated: the ELF section headers end at ${offset}, beyond the end of the file (${size} bytes)`);
  }
  const segments = programHeaders(read, layout) ??
    fail("truncated: the ELF program headers are incomplete");
  for (const [i, p] of segments.entries()) {
    if (p.offset + p.filesz > offset) {
      fail(
        `not a valid AppImage: segment ${i} of its runtime (ending at ${
          p.offset + p.filesz
        }) overlaps the image at ${offset}`,
      );
    }
  }
  const magic = read(offset, 6);
  for (const format of ["squashfs", "dwarfs"] as const) {
    if (text(magic.subarray(0, MAGIC[format].length)) === MAGIC[format]) return { offset, format };
  }
  if (magic.length === 0) return fail(`truncated: no filesystem image after the runtime (offset ${offset})`);
  const hex = [...magic].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return fail(`no squashfs or DwarFS filesystem at offset ${offset} (found bytes ${hex})`);
}

/** readAppImage on a host file; unreadable files and directories get clear errors. */
export function inspectAppImage(path: string): AppImageInfo {
  let f: Deno.FsFile;
  try {
    if (Deno.statSync(path).isDirectory) throw new UsageError(`${path}: a directory, not an AppImage`);
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const reason = e instanceof Deno.errors.PermissionDenied
      ? "EACCES (you cannot read it)"
      : e instanceof Deno.errors.NotFound
      ? "ENOENT (no such file)"
      : (e as Error).message;
    throw new UsageError(`${path}: ${reason}`);
  }
  return withFile(f, (read, size) => readAppImage(path, read, size));
}
