/** Questions to you, on the terminal only. */

/** Asks on stderr and reads an answer from the terminal; null when stdin is not a terminal. */
export function askYesNo(question: string): boolean | null {
  if (!Deno.stdin.isTerminal()) return null;
  Deno.stderr.writeSync(new TextEncoder().encode(`${question} [y/N] `));
  const buf = new Uint8Array(64);
  const n = Deno.stdin.readSync(buf) ?? 0;
  return /^y(es)?$/i.test(new TextDecoder().decode(buf.subarray(0, n)).trim());
}
