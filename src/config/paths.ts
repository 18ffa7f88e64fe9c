/**
 * Path patterns, as written in `mounts`, `never_access` and `home`:
 *
 *   ~/Music                           ~ is your home
 *   ${XDG_RUNTIME_DIR}/pipewire-0     ${VAR} is the variable's value, taken literally
 *   data/in                           relative to the directory of the file that says it
 *   ${XDG_RUNTIME_DIR}/wayland-[0-9]+$
 *                                     a component with a regular-expression character ([ ] ( ) * + ? { } | ^ $ \)
 *                                     is a pattern matched against the whole name of each entry there:
 *                                     wayland-0 matches, wayland-0.lock does not
 *   ~/.config/(foo|bar)               one or more matches, each its own path
 *
 * `.` is literal in a plain component and "any character" in a pattern component (write `\.`); `$$` is
 * a literal `$`. A pattern that matches nothing gives no paths; a plain path is returned as is.
 */
import { UsageError } from "../errors.ts";

const META = /[[\]()*+?{}|^$\\]/;

export interface PathContext {
  env: Record<string, string>;
  home: string;
  /** Base of relative paths: the directory of the file the pattern came from. */
  dir: string;
  /** Names the value in messages ("~/.config/bbl/x.yaml: mounts[2].src"). */
  where: string;
}

/** Reads a directory's entry names, or null when it cannot be read. Injected for tests. */
export type ReadDir = (dir: string) => string[] | null;

export const readDirNames: ReadDir = (dir) => {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return null;
  }
};

interface Char {
  c: string;
  /** From a variable's value or `$$`: never a pattern character. */
  literal: boolean;
}

function expandVars(raw: string, ctx: PathContext): Char[] {
  const out: Char[] = [];
  let s = raw;
  if (s === "~" || s.startsWith("~/")) {
    out.push(...[...ctx.home].map((c) => ({ c, literal: true })));
    s = s.slice(1);
  }
  for (let i = 0; i < s.length;) {
    if (s.startsWith("$$", i)) {
      out.push({ c: "$", literal: true });
      i += 2;
      continue;
    }
    const m = s.slice(i).match(/^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/);
    if (m) {
      const value = m[1] === "HOME" ? ctx.home : ctx.env[m[1]];
      if (value === undefined || value === "") throw new UsageError(`${ctx.where}: \${${m[1]}} is not set`);
      out.push(...[...value].map((c) => ({ c, literal: true })));
      i += m[0].length;
      continue;
    }
    out.push({ c: s[i], literal: false });
    i++;
  }
  return out;
}

type Component = { text: string } | { re: RegExp; source: string };

function components(chars: Char[], ctx: PathContext): Component[] {
  const parts: Char[][] = [[]];
  for (const ch of chars) {
    if (ch.c === "/") parts.push([]);
    else parts[parts.length - 1].push(ch);
  }
  const absolute = chars.length > 0 && chars[0].c === "/";
  const out: Component[] = absolute ? [] : components([...ctx.dir].map((c) => ({ c, literal: true })), ctx);
  for (const part of parts) {
    if (part.length === 0) continue;
    const text = part.map((x) => x.c).join("");
    if (part.some((x) => !x.literal && META.test(x.c))) {
      // Anchors are implied (the whole name must match): a leading ^ or trailing $ adds nothing.
      const body = part.filter((x, i) =>
        x.literal || !((i === 0 && x.c === "^") || (i === part.length - 1 && x.c === "$"))
      );
      const source = body.map((x) => x.literal ? x.c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : x.c).join("");
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${source})$`);
      } catch (e) {
        throw new UsageError(`${ctx.where}: '${text}' is not a valid pattern: ${(e as Error).message}`);
      }
      out.push({ re, source: text });
    } else if (text === "..") {
      if (out.length > 0 && "text" in out[out.length - 1]) out.pop();
    } else if (text !== ".") {
      out.push({ text });
    }
  }
  return out;
}

/** True when `raw` has pattern components (may match several paths, or none). */
export function isPattern(raw: string, ctx: PathContext): boolean {
  return components(expandVars(raw, ctx), ctx).some((c) => "re" in c);
}

/** The absolute paths `raw` names: one for a plain path, every existing match for a pattern. */
export function expandPath(raw: string, ctx: PathContext, readDir: ReadDir = readDirNames): string[] {
  let found = [""];
  for (const comp of components(expandVars(raw, ctx), ctx)) {
    if ("text" in comp) {
      found = found.map((p) => `${p}/${comp.text}`);
      continue;
    }
    found = found.flatMap((p) =>
      (readDir(p || "/") ?? []).filter((n) => comp.re.test(n)).sort().map((n) => `${p}/${n}`)
    );
  }
  return found.map((p) => p || "/");
}

/** Host variable names `pattern` keeps: itself, or every name it matches in full when it is a pattern. */
export function matchEnvNames(pattern: string, names: string[]): string[] {
  if (!META.test(pattern) && !pattern.includes(".")) return names.includes(pattern) ? [pattern] : [];
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    throw new UsageError(`env.keep: '${pattern}' is not a valid pattern: ${(e as Error).message}`);
  }
  return names.filter((n) => re.test(n)).sort();
}
