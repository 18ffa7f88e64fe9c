/**
 * bbl's entry point. The hidden first arguments `__layer`/`__probe` select the layer runner or a doctor probe (how a compiled bbl
 * re-executes itself in each layer; see src/selfexec.ts); anything else is the command line.
 */
import { ENTRIES } from "./selfexec.ts";
import { reportAndExit } from "./report.ts";

if (Deno.args[0] === ENTRIES.layer.arg) {
  await import("./layer/main.ts");
} else if (Deno.args[0] === ENTRIES.probe.arg) {
  await import("./layer/probe.ts");
} else {
  const { cli } = await import("./cli/main.ts");
  cli(Deno.args).then((code) => Deno.exit(code), reportAndExit);
}
