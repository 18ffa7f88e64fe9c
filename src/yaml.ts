/**
 * YAML files checked by bbl (layer templates, configuration, seccomp policies): parsing with
 * positions, so every error names the file, line and column of the offending key or value, and "did
 * you mean" suggestions.
 *
 * The parser is an npm package whose loading costs a start tens of milliseconds, so it is loaded only
 * by runs that read such a file (`loadYaml` first; the embedded template comes precompiled).
 */
import type { Document, LineCounter } from "yaml";
import { UsageError } from "./errors.ts";

let yamlModule: typeof import("yaml") | null = null;

/** Loads the YAML parser; call it before reading any YAML file. */
export async function loadYaml(): Promise<void> {
  yamlModule ??= await import("yaml");
}

/** The parser, loaded by `loadYaml`. */
export function yaml(): typeof import("yaml") {
  if (yamlModule === null) throw new Error("the YAML parser is used before loadYaml()");
  return yamlModule;
}

/** Keys and indices from the document's root to a node. */
export type YamlPath = (string | number)[];

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** " (did you mean 'x'?)" for the closest candidate within a couple of edits, else "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best = "", bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean '${best}'?)` : "";
}

export function typeName(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v === "object" ? "a mapping" : `a ${typeof v}`;
}

/** A parsed file and a way to fail at a position in it. */
export class YamlFile {
  constructor(readonly file: string, private doc: Document, private lines: LineCounter) {}

  /** "file:line:col: label: message", locating `path` (a key with atKey, else its value) in the YAML. */
  fail(path: YamlPath, label: string, message: string, atKey = false): never {
    let node: unknown = this.doc.contents;
    let offset = 0;
    const { isMap, isSeq } = yaml();
    for (const [i, k] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === k);
        if (!pair) break;
        const last = i === path.length - 1;
        const target = last && atKey ? pair.key : pair.value ?? pair.key;
        offset = (target as { range?: number[] })?.range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof k === "number" && node.items[k]) {
        node = node.items[k];
        offset = (node as { range?: number[] }).range?.[0] ?? offset;
      } else break;
    }
    const pos = this.lines.linePos(offset);
    throw new UsageError(`${this.file}:${pos.line}:${pos.col}: ${label}: ${message}`);
  }
}

/** Parses YAML text; syntax errors and duplicate keys fail with their position. */
export function parseYaml(text: string, file: string): { data: unknown; yaml: YamlFile } {
  const lines = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lines.linePos(e.pos[0]);
    throw new UsageError(`${file}:${pos.line}:${pos.col}: ${e.message.split("\n")[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  return { data, yaml: new YamlFile(file, doc, lines) };
}
