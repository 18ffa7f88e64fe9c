/**
 * The program a run names, found on the host: given by path (relative or absolute), or a name found
 * in the host's PATH. The planner shows it inside when the sandbox would not (src/plan/visible.ts).
 * Also the host files the command's arguments name, for the hint after a run that could not see them.
 */
import type { NamedFile, ProgramOnHost } from "../plan/options.ts";
import { pathIn } from "../plan/config_steps.ts";
import { UsageError } from "../errors.ts";

/** What finding a program looks at on the host. Injected for tests. */
export interface ProgramHost {
  cwd: string;
  /** The resolved path, or null when it does not exist. */
  realPath: (p: string) => string | null;
  /** An existing regular file with an execute bit (after symlinks). */
  isExecutable: (p: string) => boolean;
}

/** Paths inside that bbl builds itself: a program there is never a host file to show. */
const BUILT_INSIDE = ["/proc", "/dev", "/sbxdir"];

/** `p` made absolute against `cwd` and cleaned of `.`, `..` and repeated slashes (no symlinks followed). */
export function absolute(p: string, cwd: string): string {
  const parts: string[] = [];
  for (const c of (p.startsWith("/") ? p : `${cwd}/${p}`).split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") parts.pop();
    else parts.push(c);
  }
  return "/" + parts.join("/");
}

/**
 * The program `cmd` names on the host, or null (not found there, or bbl's own paths). A name without a
 * slash is looked up in `path` (the PATH the app gets), like execvp. With `dir`, the program's whole
 * (resolved) directory is shown and the program run from there.
 */
export function findProgram(
  cmd: string,
  path: string,
  dir: boolean,
  neverAccess: string[],
  h: ProgramHost,
): ProgramOnHost | null {
  const candidates = cmd.includes("/")
    ? [absolute(cmd, h.cwd)]
    : path.split(":").map((d) => absolute(`${d || "."}/${cmd}`, h.cwd));
  const given = candidates.find((c) => h.isExecutable(c));
  if (given === undefined || BUILT_INSIDE.some((b) => pathIn(given, b))) return null;
  const file = h.realPath(given)!;
  for (const p of [given, file]) {
    const hidden = neverAccess.find((n) => pathIn(p, n));
    if (hidden) throw new UsageError(`${cmd}: ${p} is under the never-access path ${hidden}; bbl does not show it`);
  }
  if (!dir) return { path: given, src: file, dest: given };
  const parent = file.replace(/\/[^/]+$/, "") || "/";
  if (parent === "/") throw new UsageError(`${cmd}: program_dir would show the whole of /; bind what it needs`);
  return { path: file, src: parent, dest: parent };
}

/**
 * The existing host paths the arguments name (each argument, and each word of one with spaces, as in
 * `sh -c './setup.sh --fast'`), relative ones taken from the current directory.
 */
export function namedFiles(args: string[], h: ProgramHost): NamedFile[] {
  const out: NamedFile[] = [];
  for (const arg of args) {
    const words = arg.trim().split(/\s+/);
    for (const word of words.length > 1 ? [arg, ...words] : [arg]) {
      if (word === "" || word.length > 4096 || word.startsWith("-")) continue;
      const path = absolute(word, h.cwd);
      if (h.realPath(path) !== null) out.push({ word, path, whole: word === arg });
    }
  }
  return out;
}
