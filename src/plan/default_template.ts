/** The embedded default template (templates/ is included in the compiled binary by `deno task compile`). */
export const DEFAULT_TEMPLATE_URL = new URL("../../templates/default.yaml", import.meta.url);

export function readDefaultTemplate(): string {
  return Deno.readTextFileSync(DEFAULT_TEMPLATE_URL);
}
