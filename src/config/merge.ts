/**
 * Merging configuration sources, lowest priority first, keeping where every value came from (for
 * `bbl config show` and for relative paths, which are relative to their own file's directory).
 *
 * Single values: the last source that sets one wins. Lists (mounts, never_access, env.keep, env.unset,
 * seccomp_allow, dbus_talk/own/see) accumulate, so a later file can add a never-access path but never remove a default
 * one. Mappings (env.set, limits) merge key by key. A later env.set/env.keep of a name drops an earlier
 * env.unset of it, and the other way round.
 */
import { type Config, type MountEntry, SINGLE_KEYS, type SingleKey } from "./schema.ts";
import { DEFAULT_CONFIG } from "./defaults.ts";

export interface Origin {
  /** A file path, "defaults" or "command line". */
  label: string;
  /** The base of relative paths in it. */
  dir: string;
}

export interface Sourced<T> {
  value: T;
  from: Origin;
}

export interface ConfigLayer {
  from: Origin;
  config: Config;
}

export interface Merged {
  scalars: { [K in SingleKey]?: Sourced<NonNullable<Config[K]>> };
  mounts: Sourced<MountEntry>[];
  never_access: Sourced<string>[];
  env_set: Record<string, Sourced<string>>;
  env_keep: Sourced<string>[];
  env_unset: Sourced<string>[];
  seccomp_allow: Sourced<string>[];
  dbus_talk: Sourced<string>[];
  dbus_own: Sourced<string>[];
  dbus_see: Sourced<string>[];
  limits: Record<string, Sourced<number | string>>;
  /** Every source, in priority order (lowest first). */
  sources: Origin[];
}

function addUnique(list: Sourced<string>[], value: string, from: Origin): void {
  if (!list.some((s) => s.value === value)) list.push({ value, from });
}

/** A single value as merged, else the embedded default (a merge need not start from the defaults). */
export function valueOf<K extends SingleKey & keyof typeof DEFAULT_CONFIG>(m: Merged, k: K): NonNullable<Config[K]> {
  return (m.scalars[k]?.value ?? DEFAULT_CONFIG[k]) as NonNullable<Config[K]>;
}

export function mergeConfigs(layers: ConfigLayer[]): Merged {
  const m: Merged = {
    scalars: {},
    mounts: [],
    never_access: [],
    env_set: {},
    env_keep: [],
    env_unset: [],
    seccomp_allow: [],
    dbus_talk: [],
    dbus_own: [],
    dbus_see: [],
    limits: {},
    sources: layers.map((l) => l.from),
  };
  for (const { from, config: c } of layers) {
    for (const k of SINGLE_KEYS) {
      // deno-lint-ignore no-explicit-any
      if (c[k] !== undefined) (m.scalars as any)[k] = { value: c[k], from };
    }
    for (const e of c.mounts ?? []) m.mounts.push({ value: e, from });
    for (const p of c.never_access ?? []) addUnique(m.never_access, p, from);
    for (const a of c.seccomp_allow ?? []) addUnique(m.seccomp_allow, a, from);
    for (const k of ["dbus_talk", "dbus_own", "dbus_see"] as const) {
      for (const n of c[k] ?? []) addUnique(m[k], n, from);
    }
    const drop = (list: Sourced<string>[], name: string) => list.filter((s) => s.value !== name);
    for (const [k, v] of Object.entries(c.env?.set ?? {})) {
      m.env_set[k] = { value: v, from };
      m.env_unset = drop(m.env_unset, k);
    }
    for (const k of c.env?.keep ?? []) {
      addUnique(m.env_keep, k, from);
      m.env_unset = drop(m.env_unset, k);
    }
    for (const k of c.env?.unset ?? []) {
      delete m.env_set[k];
      m.env_keep = drop(m.env_keep, k);
      addUnique(m.env_unset, k, from);
    }
    for (const [k, v] of Object.entries(c.limits ?? {})) m.limits[k] = { value: v, from };
  }
  return m;
}

/** The merged configuration as YAML, each value followed by the source it came from. */
export function formatMerged(m: Merged, name: string): string {
  const out: string[] = [
    `# The configuration of sandbox '${name}', merged from (later wins):`,
    ...m.sources.map((s, i) => `#   ${i + 1}. ${s.label}`),
  ];
  const v = (x: unknown) => JSON.stringify(x);
  const from = (o: Origin) => `  # ${o.label}`;
  for (const k of SINGLE_KEYS) {
    const s = m.scalars[k];
    if (s) out.push(`${k}: ${v(s.value)}${from(s.from)}`);
  }
  const list = (key: string, items: Sourced<unknown>[], indent = "") => {
    if (items.length === 0) return;
    out.push(`${indent}${key}:`);
    for (const i of items) out.push(`${indent}  - ${v(i.value)}${from(i.from)}`);
  };
  list("mounts", m.mounts);
  list("never_access", m.never_access);
  if (Object.keys(m.env_set).length + m.env_keep.length + m.env_unset.length > 0) {
    out.push("env:");
    if (Object.keys(m.env_set).length > 0) {
      out.push("  set:");
      for (const [k, s] of Object.entries(m.env_set)) out.push(`    ${k}: ${v(s.value)}${from(s.from)}`);
    }
    list("keep", m.env_keep, "  ");
    list("unset", m.env_unset, "  ");
  }
  list("seccomp_allow", m.seccomp_allow);
  list("dbus_talk", m.dbus_talk);
  list("dbus_own", m.dbus_own);
  list("dbus_see", m.dbus_see);
  if (Object.keys(m.limits).length > 0) {
    out.push("limits:");
    for (const [k, s] of Object.entries(m.limits)) out.push(`  ${k}: ${v(s.value)}${from(s.from)}`);
  }
  return out.join("\n") + "\n";
}
