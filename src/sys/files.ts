/** File facts without following symlinks. */

/** lstat(2): the entry itself, or null when there is none (other failures are errors). */
export function lstatOrNull(p: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
