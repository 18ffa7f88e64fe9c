/**
 * The layer template: a YAML tree of layers (templates/default.yaml documents the format). Parsing
 * checks every key and value and the structural rules before anything runs; an error names the file,
 * line and column and the offending key ("layer3.fs[4].kind: unknown kind 'robnd' (did you mean
 * 'robind'?)").
 */
import { didYouMean, parseYaml, typeName, type YamlPath as Path } from "../yaml.ts";
import { FS_KINDS, NAMESPACES } from "./types.ts";
import { UsageError } from "../errors.ts";

export interface TemplateFs {
  kind: string;
  dest?: string;
  src?: string;
  mode?: string | number;
  size?: string | number;
  content?: string;
  target?: string;
  optional?: boolean;
  lower?: string[];
  upper?: string;
  work?: string;
}

export interface TemplateLayer {
  name: string;
  unshare?: string[];
  ids?: "root" | "user" | { uid: number[][]; gid: number[][] };
  drop_caps?: boolean;
  no_new_privs?: boolean;
  hostname?: string;
  host_at?: string;
  mask_never_access?: boolean;
  fs?: TemplateFs[];
  env?: { set?: Record<string, string>; unset?: string[]; keep?: string[] };
  helpers?: { run: string[]; wait?: { path?: string; socket?: string }; timeout?: number }[];
  sublayers?: TemplateLayer[];
  disabled?: boolean;
  app?: boolean;
  /** Its helpers run under the app's seccomp policy (untrusted helpers). */
  seccomp?: boolean;
}

export interface Template {
  file: string;
  root: TemplateLayer;
}

const LAYER_KEYS = [
  "name",
  "unshare",
  "ids",
  "drop_caps",
  "no_new_privs",
  "hostname",
  "host_at",
  "mask_never_access",
  "fs",
  "env",
  "helpers",
  "sublayers",
  "disabled",
  "app",
  "seccomp",
];
const FS_KEYS: Record<string, string[]> = {
  bind: ["src", "dest", "optional"],
  robind: ["src", "dest", "optional"],
  same: ["dest", "optional"],
  rosame: ["dest", "optional"],
  tmpfs: ["dest", "mode", "size"],
  rotmpfs: ["dest", "mode", "size"],
  dir: ["dest", "mode"],
  file: ["dest", "content", "mode"],
  rofile: ["dest", "content", "mode"],
  symlink: ["dest", "target"],
  devpts: ["dest"],
  proc: ["dest"],
  mqueue: ["dest"],
  dev: ["dest", "size"],
  mask: ["dest", "optional"],
  overlay: ["dest", "lower", "upper", "work"],
  "tmp-overlay": ["dest", "lower", "size"],
  "remount-ro": ["dest"],
};
const NAME_RE = /^[A-Za-z0-9_-]+$/;

/** The type every value of an fs step must have, by key. */
const FS_VALUE_TYPES: Record<string, "string" | "string-or-number" | "boolean" | "strings"> = {
  dest: "string",
  src: "string",
  content: "string",
  target: "string",
  upper: "string",
  work: "string",
  mode: "string-or-number",
  size: "string-or-number",
  optional: "boolean",
  lower: "strings",
};

const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");

/** Why `v` is not of type `t`, or null when it is. */
function typeProblem(v: unknown, t: typeof FS_VALUE_TYPES[string]): string | null {
  const ok = t === "string"
    ? typeof v === "string"
    : t === "string-or-number"
    ? typeof v === "string" || typeof v === "number"
    : t === "boolean"
    ? typeof v === "boolean"
    : isStrings(v);
  if (ok) return null;
  const want = { string: "a string", "string-or-number": "a string or a number", boolean: "true or false" }[
    t as string
  ] ?? "a list of strings";
  return `expected ${want}, got ${typeName(v)}`;
}

/** Replaces ${name} with vars[name]; "$$" is a literal "$". Unknown names are errors. */
export function substitute(s: string, vars: Record<string, string>, where: () => string): string {
  return s.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name) => {
    if (m === "$$") return "$";
    if (!(name in vars)) {
      throw new UsageError(`${where()}: unknown variable \${${name}}${didYouMean(name, Object.keys(vars))}`);
    }
    return vars[name];
  });
}

/** Parses and checks a template's YAML text (structure and types; the planner checks the rest). */
export function parseTemplate(text: string, file: string): Template {
  // A layer that contains itself through an alias fails in parseYaml (too many alias expansions).
  const { data, yaml: c } = parseYaml(text, file);
  if (typeof data !== "object" || data === null || Array.isArray(data) || !("layer" in data)) {
    c.fail([], "template", "expected a mapping with the key 'layer'");
  }
  const top = data as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== "layer") c.fail([k], k, `unknown key${didYouMean(k, ["layer"])}`, true);
  // Aliases (*name) could make a layer contain itself; toJS expands them, so a repeated object is a cycle.
  const seen = new Set<unknown>();
  const names = new Map<string, string>();
  const checkLayer = (v: unknown, path: Path, label: string): TemplateLayer => {
    if (seen.has(v)) c.fail(path, label, "cycle: this layer contains itself");
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      c.fail(path, label, `expected a mapping, got ${typeName(v)}`);
    }
    seen.add(v);
    const l = v as Record<string, unknown>;
    if (typeof l.name !== "string" || !NAME_RE.test(l.name)) {
      c.fail([...path, "name"], `${label}.name`, "every layer needs a name of letters, digits, '_' or '-'");
    }
    const name = l.name as string;
    if (names.has(name)) c.fail([...path, "name"], `${name}.name`, `duplicate layer name (also at ${names.get(name)})`);
    names.set(name, label);
    for (const k of Object.keys(l)) {
      if (!LAYER_KEYS.includes(k)) {
        c.fail([...path, k], `${name}.${k}`, `unknown key${didYouMean(k, LAYER_KEYS)}`, true);
      }
    }
    const at = (k: string) => [...path, k];
    const bool = (k: string) => {
      if (k in l && typeof l[k] !== "boolean") {
        c.fail(at(k), `${name}.${k}`, `expected true or false, got ${typeName(l[k])}`);
      }
    };
    ["drop_caps", "no_new_privs", "mask_never_access", "disabled", "app", "seccomp"].forEach(bool);
    for (const k of ["hostname", "host_at"]) {
      if (k in l && typeof l[k] !== "string") c.fail(at(k), `${name}.${k}`, `expected a string, got ${typeName(l[k])}`);
    }
    if ("unshare" in l) {
      if (!Array.isArray(l.unshare)) c.fail(at("unshare"), `${name}.unshare`, "expected a list of namespaces");
      (l.unshare as unknown[]).forEach((ns, i) => {
        if (!NAMESPACES.includes(ns as never)) {
          c.fail(
            [...at("unshare"), i],
            `${name}.unshare[${i}]`,
            `unknown namespace '${ns}'${didYouMean(String(ns), NAMESPACES)}`,
          );
        }
      });
    }
    if ("ids" in l && l.ids !== "root" && l.ids !== "user") {
      const ids = l.ids as Record<string, unknown>;
      const okMap = (m: unknown) =>
        Array.isArray(m) &&
        m.every((r) => Array.isArray(r) && r.length === 3 && r.every((n) => Number.isInteger(n) && n >= 0));
      if (typeof ids !== "object" || ids === null || !okMap(ids.uid) || !okMap(ids.gid)) {
        c.fail(
          at("ids"),
          `${name}.ids`,
          "expected 'root', 'user', or {uid: [[inside, outside, count], ...], gid: [...]}",
        );
      }
    }
    if ("env" in l) {
      const env = l.env as Record<string, unknown>;
      if (typeof env !== "object" || env === null || Array.isArray(env)) {
        c.fail(at("env"), `${name}.env`, "expected a mapping with set/unset/keep");
      }
      for (const k of Object.keys(env)) {
        const ep = [...at("env"), k], el = `${name}.env.${k}`;
        if (!["set", "unset", "keep"].includes(k)) {
          c.fail(ep, el, `unknown key${didYouMean(k, ["set", "unset", "keep"])}`, true);
        }
        if (k === "set") {
          const set = env.set as Record<string, unknown>;
          if (typeof set !== "object" || set === null || Array.isArray(set)) {
            c.fail(ep, el, `expected a mapping of NAME: value, got ${typeName(set)}`);
          }
          for (const [n, v] of Object.entries(set)) {
            if (typeof v !== "string") c.fail([...ep, n], `${el}.${n}`, `expected a string, got ${typeName(v)}`);
          }
        } else if (!isStrings(env[k])) c.fail(ep, el, `expected a list of names, got ${typeName(env[k])}`);
      }
    }
    if ("helpers" in l) {
      if (!Array.isArray(l.helpers)) c.fail(at("helpers"), `${name}.helpers`, "expected a list");
      (l.helpers as Record<string, unknown>[]).forEach((h, i) => {
        const hl = `${name}.helpers[${i}]`;
        if (typeof h !== "object" || h === null || Array.isArray(h)) {
          c.fail([...at("helpers"), i], hl, `expected a mapping, got ${typeName(h)}`);
        }
        if (!Array.isArray(h.run) || h.run.length === 0 || !h.run.every((a) => typeof a === "string")) {
          c.fail([...at("helpers"), i], hl, "each helper needs run: [command, args...]");
        }
        for (const k of Object.keys(h)) {
          if (!["run", "wait", "timeout"].includes(k)) {
            c.fail(
              [...at("helpers"), i, k],
              `${hl}.${k}`,
              `unknown key${didYouMean(k, ["run", "wait", "timeout"])}`,
              true,
            );
          }
        }
        if ("wait" in h) {
          const w = h.wait as Record<string, unknown>, wp = [...at("helpers"), i, "wait"];
          const keys = typeof w === "object" && w !== null && !Array.isArray(w) ? Object.keys(w) : [];
          if (keys.length !== 1 || !["path", "socket"].includes(keys[0])) {
            c.fail(wp, `${hl}.wait`, "expected {path: P} or {socket: S}");
          }
          if (typeof w[keys[0]] !== "string") {
            c.fail([...wp, keys[0]], `${hl}.wait.${keys[0]}`, `expected a string, got ${typeName(w[keys[0]])}`);
          }
        }
        if ("timeout" in h && (typeof h.timeout !== "number" || !(h.timeout > 0))) {
          c.fail([...at("helpers"), i, "timeout"], `${hl}.timeout`, "expected a number of seconds above 0");
        }
      });
    }
    if ("fs" in l) {
      if (!Array.isArray(l.fs)) c.fail(at("fs"), `${name}.fs`, "expected a list of filesystem steps");
      (l.fs as Record<string, unknown>[]).forEach((f, i) => {
        const fl = `${name}.fs[${i}]`, fp = [...at("fs"), i];
        if (typeof f !== "object" || f === null || Array.isArray(f)) {
          c.fail(fp, fl, `expected a mapping, got ${typeName(f)}`);
        }
        const kind = f.kind as string;
        if (!FS_KINDS.includes(kind as never)) {
          c.fail([...fp, "kind"], `${fl}.kind`, `unknown kind '${kind}'${didYouMean(String(kind), FS_KINDS)}`);
        }
        for (const k of Object.keys(f)) {
          if (k !== "kind" && !FS_KEYS[kind].includes(k)) {
            c.fail([...fp, k], `${fl}.${k}`, `'${kind}' takes no '${k}'${didYouMean(k, FS_KEYS[kind])}`, true);
          }
        }
        if (!("dest" in f)) c.fail(fp, fl, "needs a dest (an absolute path)");
        for (const [k, v] of Object.entries(f)) {
          const problem = k === "kind" ? null : typeProblem(v, FS_VALUE_TYPES[k]);
          if (problem) c.fail([...fp, k], `${fl}.${k}`, problem);
        }
        for (const need of FS_KEYS[kind].filter((k) => ["src", "target", "lower", "upper", "work"].includes(k))) {
          if (!(need in f)) c.fail(fp, fl, `'${kind}' needs '${need}'`);
        }
      });
    }
    const subs = l.sublayers ?? [];
    if (!Array.isArray(subs)) c.fail(at("sublayers"), `${name}.sublayers`, "expected a list of layers");
    (subs as unknown[]).forEach((s, i) => checkLayer(s, [...at("sublayers"), i], `${name}.sublayers[${i}]`));
    return l as unknown as TemplateLayer;
  };
  return { file, root: checkLayer(top.layer, ["layer"], "layer") };
}
