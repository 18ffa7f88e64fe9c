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
