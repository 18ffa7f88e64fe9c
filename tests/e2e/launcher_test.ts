/**
 * The launcher's hot path: a run with the embedded template and no configuration file loads no npm
 * package (Deno's debug log names every npm package folder it loads from); --help and a config file do.
 */
import assert from "node:assert/strict";
import { bblArgv, runArgv, userEnv, withUserDirs, writeAsUser } from "../helpers.ts";

async function npmPackagesLoaded(args: string[], home: string): Promise<string[]> {
  const out = await runArgv(bblArgv(args, userEnv(home), "--log-level=debug"));
  const log = out.stderr;
  assert.equal(out.code, 0, log.slice(-2000));
  return [...new Set([...log.matchAll(/Resolved package folder of (\S+)@/g)].map((m) => m[1]))].sort();
}

Deno.test("a run with the embedded template and no configuration file loads no npm package", () =>
  withUserDirs(["bbl-home-"], async (home) => {
    assert.deepEqual(await npmPackagesLoaded(["--", "/bin/true"], home), []);
    assert.deepEqual(await npmPackagesLoaded(["--hostname", "x", "--ro-bind", "/etc/passwd", "true"], home), []);
    // the check sees them when they are loaded
    assert.deepEqual(await npmPackagesLoaded(["--help"], home), ["commander", "yaml"]);
    writeAsUser(`${home}/.config/bbl/default.yaml`, "hostname: cfg\n");
    assert.deepEqual(await npmPackagesLoaded(["--", "/bin/true"], home), ["yaml"]);
  }));
