/**
 * From the merged configuration to RunOptions: every path pattern expanded against the host, every
 * source checked, relative paths taken from the directory of the file that gave them. Anything wrong
 * is a UsageError naming the source and key, raised before anything is created.
 */
import { type Merged, type Origin, type Sourced, valueOf } from "./merge.ts";
import { isHomePath, NESTED_SANDBOX_DEFAULT } from "./schema.ts";
import { expandPath, isPattern, matchEnvNames, type PathContext, readDirNames } from "./paths.ts";
import type { AppImageRequest, ExtraMount, HomeSetting, RunOptions } from "../plan/options.ts";
import { pathIn } from "../plan/config_steps.ts";
import { type AppImageInfo, inspectAppImage } from "../appimage/format.ts";
import { defaultName } from "./load.ts";
import { type DesktopHost, resolveDesktop } from "./desktop.ts";
import { findTool } from "../host.ts";
import { displaysInUse } from "../desktop/display.ts";
import { documentPortal } from "../desktop/portal.ts";
import { instanceBase } from "../instance.ts";
import { libc } from "../sys/libc.ts";
import { exists, isExecutableFile, withFile } from "../sys/files.ts";
import { linksGtk4, neededLibraries } from "../desktop/toolkit.ts";
import { UsageError } from "../errors.ts";
import { NESTED_SANDBOX, type Policy, policyWith } from "../seccomp/policy.ts";
import { parsePolicy } from "../seccomp/file.ts";
import { stateBase } from "../state/store.ts";
import { findProgram, namedFiles } from "./program.ts";
import { DEFAULT_PATH } from "../plan/env.ts";

/** `f` computed once per argument. */
function memo<T>(f: (p: string) => T): (p: string) => T {
  const seen = new Map<string, T>();
  return (p) => {
    if (!seen.has(p)) seen.set(p, f(p));
    return seen.get(p)!;
  };
}

/** What resolving looks at on the host. Injected for tests. */
export interface HostView extends DesktopHost {
  cwd: string;
  /** The resolved path, or null when it does not exist. */
  realPath: (p: string) => string | null;
  isDir: (p: string) => boolean;
  isExecutable: (p: string) => boolean;
  readFile: (p: string) => string;
  appImage: (p: string) => AppImageInfo;
}

/** The host as resolving sees it; each AppImage's header is read once however often it is asked for. */
export const hostView = (env: Record<string, string>, home: string, cwd: string): HostView => ({
  env,
  home,
  cwd,
  readDir: readDirNames,
  realPath: (p) => {
    if (!exists(p)) return null;
    try {
      return Deno.realPathSync(p);
    } catch {
      return null;
    }
  },
  isDir: (p) => {
    if (!exists(p)) return false;
    try {
      return Deno.statSync(p).isDirectory;
    } catch {
      return false;
    }
  },
  isExecutable: isExecutableFile,
  readFile: (p) => Deno.readTextFileSync(p),
  appImage: memo(inspectAppImage),
  exists,
  tool: findTool,
  displaysInUse: () => displaysInUse(instanceBase(env, libc.getuid())),
  documentPortal: () => documentPortal(env, findTool("gdbus")),
  libraries: (p) => {
    try {
      return withFile(Deno.openSync(p, { read: true }), neededLibraries);
    } catch {
      return null;
    }
  },
});

/** Destinations bbl owns or builds itself. */
const RESERVED_DESTS = ["/proc", "/dev", "/sbxdir"];

function where(s: Sourced<unknown>, key: string): string {
  return `${s.from.label}: ${key}`;
}

function ctxOf(from: Origin, h: HostView, key: string): PathContext {
  return { env: h.env, home: h.home, dir: from.dir, where: `${from.label}: ${key}` };
}

function checkDest(dest: string, label: string): string {
  if (!dest.startsWith("/")) throw new UsageError(`${label}: '${dest}' is not an absolute path`);
  const clean = dest.replace(/\/+$/, "") || "/";
  if (clean.split("/").includes("..") || clean.split("/").includes(".")) {
    throw new UsageError(`${label}: '${dest}' must not contain . or .. components`);
  }
  if (clean === "/") throw new UsageError(`${label}: cannot replace the sandbox's root`);
  const reserved = RESERVED_DESTS.find((r) => pathIn(clean, r));
  if (reserved) throw new UsageError(`${label}: ${clean} is inside ${reserved}, which bbl builds itself`);
  return clean;
}

/** One AppImage, read on the host now: a bad file stops the run before anything exists. */
export function appImageRequest(name: string, given: string, h: HostView): AppImageRequest {
  const path = h.realPath(given);
  if (path === null) throw new UsageError(`${given}: ENOENT (no such file)`);
  return { name, path, argv0: given.split("/").pop()!, ...h.appImage(path) };
}

function resolveAppImages(m: Merged, h: HostView, first: AppImageRequest[]): AppImageRequest[] {
  const out = [...first];
  m.mounts.forEach((s, i) => {
    const e = s.value, key = `mounts[${i}]`;
    if (e.kind !== "appimage") return;
    const ctx = ctxOf(s.from, h, `${key}.src`);
    if (isPattern(e.src, ctx)) throw new UsageError(`${where(s, `${key}.src`)}: an AppImage cannot be a pattern`);
    const file = expandPath(e.src, ctx, h.readDir)[0];
    if (h.realPath(file) === null && e.optional) return;
    const name = e.name ?? defaultName([file]);
    if (out.some((a) => a.name === name)) {
      throw new UsageError(`${where(s, key)}: a second AppImage named '${name}' (give it another name:)`);
    }
    try {
      out.push(appImageRequest(name, file, h));
    } catch (err) {
      throw new UsageError(`${where(s, key)}: ${(err as Error).message}`);
    }
  });
  return out;
}

function resolveMounts(m: Merged, h: HostView): ExtraMount[] {
  const out: ExtraMount[] = [];
  m.mounts.forEach((s, i) => {
    const e = s.value, key = `mounts[${i}]`;
    if (e.kind === "appimage") return;
    const ctx = ctxOf(s.from, h, `${key}.src`);
    const pattern = isPattern(e.src, ctx);
    const srcs = expandPath(e.src, ctx, h.readDir).filter((p) => !pattern || h.realPath(p) !== null);
    if (pattern && srcs.length > 1 && !e.same) {
      throw new UsageError(`${where(s, key)}: '${e.src}' matches ${srcs.length} paths: use same: true, not one dest`);
    }
    if (srcs.length === 0 || h.realPath(srcs[0]) === null) {
      if (e.optional) return;
      throw new UsageError(
        `${where(s, `${key}.src`)}: ${pattern ? `nothing matches '${e.src}'` : `${srcs[0]} does not exist`}` +
          " (add optional: true to skip it when missing)",
      );
    }
    const destLabel = where(s, `${key}.dest`);
    if (!e.same && !/^(\/|~|\$\{)/.test(e.dest!)) {
      throw new UsageError(`${destLabel}: '${e.dest}' is not an absolute path`);
    }
    if (!e.same && e.dest!.split("/").some((c) => c === "." || c === "..")) {
      throw new UsageError(`${destLabel}: '${e.dest}' must not contain . or .. components`);
    }
    for (const src of srcs) {
      // Inside, a path means what it means on the host: the same home, the same variables.
      const dest = e.same ? src : expandPath(e.dest!, ctxOf(s.from, h, `${key}.dest`), h.readDir)[0];
      // Bound by its resolved path: a symlink to a never-access path leads to the mask, not around it.
      out.push({
        kind: e.kind,
        src: h.realPath(src)!,
        dest: checkDest(dest, destLabel),
        optional: e.optional ?? false,
      });
    }
  });
  return out;
}

/**
 * The configuration files in force, where the app could otherwise write them (under --cwd, a read-write
 * mount or a home directory), are bound read-only over themselves: a sandbox never rewrites the rules
 * of its next run. (A file it adds next to a program is used only once you approve it: approval.ts.)
 */
function protectConfigs(m: Merged, mounts: ExtraMount[], cwd: string | null, home: HomeSetting, h: HostView) {
  const writable = [
    ...mounts.filter((x) => x.kind === "bind"),
    ...(cwd ? [{ src: cwd, dest: cwd }] : []),
    ...(home.mode === "dir" ? [{ src: home.path, dest: h.home }] : []),
  ];
  const files = m.sources.filter((s) => s.label.startsWith("/")).map((s) => h.realPath(s.label))
    .filter((f): f is string => f !== null);
  const protect: ExtraMount[] = files.flatMap((f) =>
    writable.filter((w) => pathIn(f, w.src)).map((w) => ({
      kind: "robind" as const,
      src: f,
      dest: w.dest + f.slice(w.src.length),
      optional: false,
    }))
  );
  return [...mounts, ...protect];
}

function resolveHome(m: Merged, h: HostView): HomeSetting {
  const value = valueOf(m, "home");
  if (!isHomePath(value)) return { mode: value as "tmpfs" | "persist" | "overlay" };
  const s = m.scalars.home!; // a directory comes from a source, never the defaults
  const ctx = ctxOf(s.from, h, "home");
  if (isPattern(value, ctx)) throw new UsageError(`${where(s, "home")}: a home directory cannot be a pattern`);
  const p = expandPath(value, ctx, h.readDir)[0];
  const real = h.realPath(p);
  if (real === null || !h.isDir(real)) throw new UsageError(`${where(s, "home")}: ${p} is not an existing directory`);
  return { mode: "dir", path: real };
}

function resolveSeccomp(m: Merged, h: HostView): Policy | null {
  const s = m.scalars.seccomp;
  const allow = m.seccomp_allow.map((a) => a.value);
  const value = valueOf(m, "seccomp");
  if (value !== "default" && allow.length > 0) {
    throw new UsageError(
      `${m.seccomp_allow[0].from.label}: seccomp_allow goes with the default policy, not seccomp: ${value} (${
        s!.from.label
      })${allow.includes("userns") ? "; for an app's own sandbox use nested_sandbox (--nested-sandbox)" : ""}`,
    );
  }
  if (value === "default") {
    const p = policyWith(allow);
    return valueOf(m, "nested_sandbox") ? { rules: p.rules.filter((r) => !NESTED_SANDBOX(r)) } : p;
  }
  if (value === "off") return null;
  const file = expandPath(value, ctxOf(s!.from, h, "seccomp"), h.readDir)[0];
  let text: string;
  try {
    text = h.readFile(file);
  } catch (e) {
    throw new UsageError(`${where(s!, "seccomp")}: ${file}: ${(e as Error).message}`);
  }
  return parsePolicy(text, file);
}

const nestedCount = (v: boolean | number) => v === true ? NESTED_SANDBOX_DEFAULT : v === false ? 0 : v;

export interface Ids {
  uid?: number;
  gid?: number;
}

/**
 * `appimage`: the AppImage given on the command line (named like the sandbox), if any; `imageGtk4`:
 * its image holds GTK 4 (src/appimage/browser.ts).
 */
export function resolveConfig(
  name: string,
  m: Merged,
  command: string[],
  ids: Ids,
  h: HostView,
  appimage?: string,
  imageGtk4 = false,
): RunOptions {
  const sc = m.scalars;
  const home = resolveHome(m, h);
  const base = stateBase(h.env, h.home);
  const neverAccess = new Set<string>();
  for (const s of m.never_access) {
    for (const p of expandPath(s.value, ctxOf(s.from, h, "never_access"), h.readDir)) {
      const real = h.realPath(p);
      if (real !== null) neverAccess.add(real);
    }
  }
  // Every sandbox's state is hidden from all of them (the planner shows a persistent home its own),
  // whether it exists yet or not: the launcher may create it after planning.
  const stateRoot = h.realPath(base) ?? base;
  neverAccess.add(stateRoot);
  const cwd = valueOf(m, "cwd");
  if (cwd) {
    const label = `${sc.cwd!.from.label}: cwd`;
    const real = h.realPath(h.cwd) ?? h.cwd;
    if (real === "/") throw new UsageError(`${label}: the current directory is /, which cannot be bound`);
    checkDest(real, label);
    const hidden = [...neverAccess].find((n) => pathIn(real, n));
    if (hidden) throw new UsageError(`${label}: ${real} is a never-access path (${hidden})`);
  }
  const limits: Record<string, number> = {};
  let tmpfsSize: string | undefined;
  for (const [k, s] of Object.entries(m.limits)) {
    if (k === "tmpfs") tmpfsSize = String(s.value);
    else limits[k] = s.value as number;
  }
  const hostNames = Object.keys(h.env);
  const setenv = Object.fromEntries(Object.entries(m.env_set).map(([k, s]) => [k, s.value]));
  // An AppImage's command is bbl's own run script; an empty command is your shell.
  const named = appimage === undefined && command.length > 0;
  const path = setenv.PATH ?? h.env.PATH ?? DEFAULT_PATH;
  const program = named ? findProgram(command[0], path, valueOf(m, "program_dir"), [...neverAccess], h) : null;
  return {
    command,
    program,
    namedFiles: named ? namedFiles(command.slice(1), h) : [],
    name,
    uid: ids.uid,
    gid: ids.gid,
    home,
    stateBase: stateRoot,
    stateDir: home.mode === "persist" || home.mode === "overlay" ? `${stateRoot}/${name}` : null,
    cwd,
    mounts: protectConfigs(m, resolveMounts(m, h), cwd ? h.cwd : null, home, h),
    desktop: resolveDesktop(m, h, name, {
      appimage: appimage !== undefined,
      label: (appimage ?? command[0] ?? name).split("/").pop()!,
      gtk4: () => appimage !== undefined ? imageGtk4 : program !== null && linksGtk4(h.libraries(program.path)),
    }),
    appimages: resolveAppImages(m, h, appimage === undefined ? [] : [appImageRequest(name, appimage, h)]),
    neverAccess: [...neverAccess],
    net: valueOf(m, "net"),
    dns: sc.dns?.value ?? [],
    ...(sc.hostname ? { hostname: sc.hostname.value } : {}),
    machineId: valueOf(m, "machine_id"),
    etcHosts: valueOf(m, "etc_hosts"),
    maskOsRelease: valueOf(m, "mask_os_release"),
    allowOpt: valueOf(m, "allow_opt"),
    seeRealHw: valueOf(m, "see_real_hw"),
    setenv,
    keepenv: [...new Set(m.env_keep.flatMap((s) => matchEnvNames(s.value, hostNames)))],
    unsetenv: m.env_unset.map((s) => s.value),
    seccomp: resolveSeccomp(m, h),
    seccompAllow: m.seccomp_allow.map((s) => s.value),
    nestedSandbox: nestedCount(valueOf(m, "nested_sandbox")),
    limits,
    ...(tmpfsSize ? { tmpfsSize } : {}),
  };
}
