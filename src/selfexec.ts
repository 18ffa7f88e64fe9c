/**
 * How bbl starts its own layer runner inside new namespaces.
 *
 * Compiled (`deno compile`): the runner is the bbl binary itself with a hidden first argument. From
 * source: the same Deno binary running src/layer/main.ts directly, with no config or lock file (the
 * runner imports only local modules), sharing the launcher's module cache.
 *
 * Reachability: a layer's runner is exec'd by its parent. The parent sees the host's files at the
 * prefix its own new root gave them (`host_at`, /zrootfs in the default tree), so the planner prefixes
 * every host path of the command with that view. The runner is exec'd before its own layer pivots, so
 * nothing has to stay reachable inside the root it then builds.
 */
import type { RunnerCommand } from "./plan/types.ts";

/** Hidden first arguments of a compiled bbl, and the source entry each selects. */
export const ENTRIES = {
  layer: { arg: "__layer", source: "./layer/main.ts" },
  probe: { arg: "__probe", source: "./layer/probe.ts" },
} as const;
export type Entry = keyof typeof ENTRIES;

/** Where the runner is on the host (gathered once by the launcher). */
export interface RunnerFacts {
  exe: string;
  /** The source directory when running from source; null when compiled. */
  srcDir: string | null;
  /** Deno's module cache (from source only). */
  denoDir: string | null;
}

export function runnerFacts(env: Record<string, string>): RunnerFacts {
  if (Deno.build.standalone) return { exe: Deno.execPath(), srcDir: null, denoDir: null };
  const home = env.HOME ?? "/";
  const denoDir = env.DENO_DIR || `${env.XDG_CACHE_HOME || `${home}/.cache`}/deno`;
  return { exe: Deno.execPath(), srcDir: new URL(".", import.meta.url).pathname.replace(/\/$/, ""), denoDir };
}

/** The command that starts `entry`, for a parent that sees the host's root at `prefix`. Pure. */
export function runnerCommand(
  f: RunnerFacts,
  prefix: string,
  entry: Entry = "layer",
  args: string[] = [],
): RunnerCommand {
  const exe = prefix + f.exe;
  if (f.srcDir === null) return { path: exe, argv: [exe, ENTRIES[entry].arg, ...args], env: [] };
  const main = `${prefix}${f.srcDir}/${ENTRIES[entry].source.slice(2)}`;
  return {
    path: exe,
    argv: [exe, "run", "--allow-all", "--no-config", "--no-lock", "--quiet", main, ...args],
    env: [`DENO_DIR=${prefix}${f.denoDir}`, "DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1"],
  };
}

/** The directory of the bbl binary (from source: the checkout), where configs and apps may sit beside it. */
export function bblDir(f: RunnerFacts): string {
  return f.srcDir === null ? f.exe.replace(/\/[^/]*$/, "") || "/" : f.srcDir.replace(/\/src$/, "");
}

/** The command that runs bbl itself again (for launchers bbl writes, such as desktop entries). */
export function selfArgv(f: RunnerFacts): string[] {
  if (f.srcDir === null) return [f.exe];
  const root = bblDir(f);
  return [f.exe, "run", "--allow-all", "--frozen", "--quiet", "--config", `${root}/deno.json`, `${root}/src/main.ts`];
}
