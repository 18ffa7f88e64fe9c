/** bbl's entry point: the command line. */
import { reportAndExit } from "./report.ts";

const { cli } = await import("./cli/main.ts");
cli(Deno.args).then((code) => Deno.exit(code), reportAndExit);
