/**
 * How bbl starts its own layer runner inside new namespaces.
 *
 * Compiled (`deno compile`): the runner is the bbl binary itself with the hidden first argument
 * `__layer`. From source: the same Deno binary running src/layer/main.ts directly, with no config or
 * lock file, since the runner imports only local modules.
 *
 * Why exec by path is enough: a layer's runner is exec'd by its parent before that layer builds its
 * new root, so the host path of the binary (and of the sources) is still reachable at exec time.
 */
/** Hidden first arguments of a compiled bbl, and the source entry each selects. */
export const ENTRIES = {
  layer: { arg: "__layer", source: "./layer/main.ts" },
  probe: { arg: "__probe", source: "./layer/probe.ts" },
} as const;
export type Entry = keyof typeof ENTRIES;

export interface RunnerCommand {
  path: string;
  argv: string[];
  /** Variables the runner itself needs (never passed on to the app). */
  env: string[];
}

export function runnerCommand(
  hostEnv: Record<string, string>,
  entry: Entry = "layer",
  args: string[] = [],
): RunnerCommand {
  const exe = Deno.execPath();
  if (Deno.build.standalone) return { path: exe, argv: [exe, ENTRIES[entry].arg, ...args], env: [] };
  const main = new URL(ENTRIES[entry].source, import.meta.url).pathname;
  // Deno finds its module cache through these; the runner shares the launcher's cache.
  const keep = ["HOME", "DENO_DIR", "XDG_CACHE_HOME"].filter((k) => k in hostEnv).map((k) => `${k}=${hostEnv[k]}`);
  return {
    path: exe,
    argv: [exe, "run", "--allow-all", "--no-config", "--no-lock", "--quiet", main, ...args],
    env: [...keep, "DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1"],
  };
}
