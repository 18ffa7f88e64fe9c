/** File facts. */

/** lstat(2): the entry itself, or null when there is none (other failures are errors). */
export function lstatOrNull(p: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** A regular file (following symlinks) with an execute bit: what execve or a PATH lookup would run. */
export function isExecutableFile(p: string): boolean {
  try {
    const st = Deno.statSync(p);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Uint8Array;

/** `fn` given random access to an open file and its size; the file is closed after. */
export function withFile<T>(f: Deno.FsFile, fn: (read: ReadAt, size: number) => T): T {
  try {
    const size = f.statSync().size;
    const read: ReadAt = (offset, length) => {
      if (offset >= size || length <= 0) return new Uint8Array(0);
      const buf = new Uint8Array(Math.min(length, size - offset));
      f.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < buf.length) {
        const n = f.readSync(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buf.subarray(0, got);
    };
    return fn(read, size);
  } finally {
    f.close();
  }
}
