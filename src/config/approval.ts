/**
 * Configuration files found next to programs (and next to bbl) are used only once you have approved
 * them, and again after any change: a sandbox given write access to such a directory (--cwd in your
 * downloads, say) could otherwise write the rules of the next run there. An approval is a copy of the
 * approved text in $XDG_CONFIG_HOME/bbl/approved, a never-access path: no sandbox can forge one.
 */
import { UsageError } from "../errors.ts";

const dir = (configHome: string) => `${configHome}/bbl/approved`;
const copyOf = (configHome: string, path: string) => `${dir(configHome)}/${encodeURIComponent(path)}`;

export function isApproved(configHome: string, path: string, text: string): boolean {
  try {
    return Deno.readTextFileSync(copyOf(configHome, path)) === text;
  } catch {
    return false;
  }
}

export function approve(configHome: string, path: string, text: string): void {
  Deno.mkdirSync(dir(configHome), { recursive: true, mode: 0o700 });
  Deno.writeTextFileSync(copyOf(configHome, path), text, { mode: 0o600 });
}

/** Asks you about a file (on a terminal) and says whether you agreed; null without a terminal. */
export type Asker = (path: string, text: string) => boolean | null;

/** Approved, or approved now by `ask`; otherwise a UsageError saying how to approve it. */
export function requireApproval(configHome: string, path: string, text: string, ask: Asker): void {
  if (isApproved(configHome, path, text)) return;
  const answer = ask(path, text);
  if (answer) return approve(configHome, path, text);
  throw new UsageError(
    `${path} is new, or changed since you approved it: read it, then approve it with ` +
      `\`bbl config trust ${path}\`${answer === null ? "" : " (you answered no)"}`,
  );
}
