/**
 * X authority files for the sandbox, written into the instance directory before the sandbox starts:
 * a fresh *untrusted* cookie from the X SECURITY extension (`xauth generate ... untrusted`: the app
 * cannot read other clients' windows or inject input), the host's cookie when asked (`x11_trusted`),
 * or a random cookie for a nested Xephyr. Entries are rewritten to FamilyWild: inside, the host name
 * differs, and a local entry would not match.
 */
import { BblError } from "../errors.ts";
import { XEPHYR_DISPLAY_FILE } from "./display.ts";

export interface XauthEntry {
  family: number;
  address: Uint8Array;
  number: string;
  name: string;
  data: Uint8Array;
}

const FAMILY_WILD = 0xffff;

/** Parses `xauth nlist` output (hex fields). */
export function parseNlist(text: string): XauthEntry[] {
  const hex = (h: string) => new Uint8Array((h.match(/../g) ?? []).map((b) => parseInt(b, 16)));
  const dec = (h: string) => new TextDecoder().decode(hex(h));
  return text.trim().split("\n").filter(Boolean).map((line) => {
    const f = line.trim().split(/\s+/);
    return { family: parseInt(f[0], 16), address: hex(f[2]), number: dec(f[4]), name: dec(f[6]), data: hex(f[8]) };
  });
}

/** The binary Xauthority format: each entry's fields length-prefixed (16-bit big-endian). */
export function encodeXauth(entries: XauthEntry[]): Uint8Array {
  const out: number[] = [];
  const field = (b: Uint8Array) => out.push(b.length >> 8, b.length & 0xff, ...b);
  const enc = new TextEncoder();
  for (const e of entries) {
    out.push(e.family >> 8, e.family & 0xff);
    field(e.address);
    field(enc.encode(e.number));
    field(enc.encode(e.name));
    field(e.data);
  }
  return new Uint8Array(out);
}

/** The entries for display `n`, made to match any host name. */
export function wildEntries(entries: XauthEntry[], n: number): XauthEntry[] {
  return entries.filter((e) => e.number === String(n)).map((e) => ({
    ...e,
    family: FAMILY_WILD,
    address: new Uint8Array(),
  }));
}

function xauth(args: string[], env: Record<string, string>): string {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("xauth", { args, env, clearEnv: true, stdout: "piped", stderr: "piped" }).outputSync();
  } catch {
    throw new BblError("gui: x11 needs xauth, which is not installed (package xauth)");
  }
  if (!out.success) {
    throw new BblError(`xauth ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim().split("\n")[0]}`);
  }
  return new TextDecoder().decode(out.stdout);
}

export type XauthPlan =
  | { kind: "untrusted" | "trusted"; display: number; file: string }
  | { kind: "random"; display: number; file: string };

/** The user's environment, reduced to what xauth needs to find the user's authority file. */
function xauthEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: env.PATH ?? "/usr/bin:/bin",
    HOME: env.HOME ?? "/",
    ...(env.XAUTHORITY ? { XAUTHORITY: env.XAUTHORITY } : {}),
  };
}

/**
 * Stays a client of the X server on `display` until the returned connection is closed: a server
 * that resets when its last client leaves (Xvfb, xvfb-run, an X without -noreset) would otherwise
 * forget the untrusted cookie generated for the sandbox as soon as xauth disconnects. One idle
 * connection, authenticated with your own cookie, made before the cookie is generated.
 */
export async function holdXServer(display: number, env: Record<string, string>): Promise<Deno.Conn> {
  const own = parseNlist(xauth(["nlist", `:${display}`], xauthEnv(env))).find((e) => e.name === "MIT-MAGIC-COOKIE-1");
  const name = new TextEncoder().encode(own ? own.name : "");
  const data = own ? own.data : new Uint8Array();
  const pad = (n: number) => (4 - (n % 4)) % 4;
  // The connection setup (X11 protocol, chapter 8): little-endian, version 11.0, the authorization.
  const setup = new Uint8Array(12 + name.length + pad(name.length) + data.length + pad(data.length));
  const v = new DataView(setup.buffer);
  setup[0] = 0x6c; // 'l'
  v.setUint16(2, 11, true);
  v.setUint16(6, name.length, true);
  v.setUint16(8, data.length, true);
  setup.set(name, 12);
  setup.set(data, 12 + name.length + pad(name.length));
  const what = `gui: x11: connecting to the X server :${display}`;
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path: `/tmp/.X11-unix/X${display}` });
  } catch (e) {
    throw new BblError(`${what}: ${(e as Error).message}`);
  }
  try {
    await conn.write(setup);
    const reply = new Uint8Array(8);
    const n = await conn.read(reply);
    if (n === null || n < 1 || reply[0] !== 1) throw new BblError(`${what}: the server refused the connection`);
    return conn;
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** Writes the authority file the plan names (mode 0600). `env`: the user's, for reaching the X server. */
export function writeXauth(p: XauthPlan, env: Record<string, string>): void {
  let entries: XauthEntry[];
  if (p.kind === "random") {
    // The display is this sandbox's from now on (other runs of bbl skip it).
    Deno.writeTextFileSync(`${p.file.replace(/\/[^/]+$/, "")}/${XEPHYR_DISPLAY_FILE}`, String(p.display));
    const data = crypto.getRandomValues(new Uint8Array(16));
    entries = [{
      family: FAMILY_WILD,
      address: new Uint8Array(),
      number: String(p.display),
      name: "MIT-MAGIC-COOKIE-1",
      data,
    }];
  } else {
    const clean = xauthEnv(env);
    if (p.kind === "untrusted") {
      const tmp = `${p.file}.gen`;
      xauth(["-q", "-f", tmp, "generate", `:${p.display}`, ".", "untrusted", "timeout", "0"], {
        ...clean,
        DISPLAY: `:${p.display}`,
      });
      entries = wildEntries(parseNlist(xauth(["-f", tmp, "nlist"], clean)), p.display);
      Deno.removeSync(tmp);
    } else {
      entries = wildEntries(parseNlist(xauth(["nlist", `:${p.display}`], clean)), p.display);
    }
    if (entries.length === 0) throw new BblError(`no X authority for display :${p.display} (is the X server running?)`);
  }
  Deno.writeFileSync(p.file, encodeXauth(entries), { mode: 0o600 });
}
