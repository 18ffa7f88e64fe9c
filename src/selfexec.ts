/**
 * Where bbl itself is: from source, the Deno binary and the checkout; compiled, the bbl binary. For
 * the directory beside bbl (configurations, apps) and for launchers bbl writes (desktop entries).
 */

/** Where bbl is on the host (gathered once by the launcher). */
export interface SelfFacts {
  exe: string;
  /** The source directory when running from source; null when compiled. */
  srcDir: string | null;
}

export function selfFacts(): SelfFacts {
  if (Deno.build.standalone) return { exe: Deno.execPath(), srcDir: null };
  return { exe: Deno.execPath(), srcDir: new URL(".", import.meta.url).pathname.replace(/\/$/, "") };
}

/** The directory of the bbl binary (from source: the checkout), where configs and apps may sit beside it. */
export function bblDir(f: SelfFacts): string {
  return f.srcDir === null ? f.exe.replace(/\/[^/]*$/, "") || "/" : f.srcDir.replace(/\/src$/, "");
}

/**
 * V8's flags for every run of bbl (deno.json's bbl and compile tasks carry them too): compile each
 * function when its module is, so that V8's code cache, which Deno keeps per module, holds them all
 * and a start compiles nothing; no V8 worker threads, which a short run does not need; and a young
 * generation (8 MiB) that a start fills without a collection. Together about 12 ms of a 60 ms start.
 */
export const V8_FLAGS = "--v8-flags=--no-lazy,--single-threaded,--min-semi-space-size=8";

/**
 * The command that runs bbl from the checkout at `root` with the Deno binary `deno` (the tests and
 * the benchmark run it so, as bbl's own launchers do); `flags` are Deno's own (logging, --cached-only).
 */
export function sourceArgv(deno: string, root: string, flags: string[] = []): string[] {
  return [
    deno,
    "run",
    "--allow-all",
    "--frozen",
    ...flags,
    V8_FLAGS,
    "--config",
    `${root}/deno.json`,
    `${root}/src/main.ts`,
  ];
}

/** The command that runs bbl itself again (for launchers bbl writes, such as desktop entries). */
export function selfArgv(f: SelfFacts): string[] {
  return f.srcDir === null ? [f.exe] : sourceArgv(f.exe, bblDir(f), ["--quiet"]);
}
