/** How any bbl process reports a failure: one line on stderr, an exit code, never a stack trace. */
import { BblError, EXIT } from "./errors.ts";
import { SysError } from "./sys/errno.ts";

export function reportAndExit(e: unknown): never {
  if (e instanceof BblError || e instanceof SysError) {
    console.error(`bbl: ${e.message}`);
    Deno.exit(e instanceof BblError ? e.exit : EXIT.BBL);
  }
  console.error(
    `bbl: internal error: ${e instanceof Error ? (Deno.env.get("BBL_DEBUG") ? e.stack : e.message) : String(e)}`,
  );
  Deno.exit(EXIT.BBL);
}
