/**
 * Desktop servers for the desktop tests, started for real (Debian packages, installed by .ci/run):
 * Xvfb, a headless weston, a private dbus-daemon with stand-in services (dbus-test-tool), and a
 * stand-in PulseAudio socket. Each runs as the test user where the user would own it.
 */
import { displaysInUse, freeDisplay } from "../src/desktop/display.ts";
import { asUser, user, waitFor, writeAsUser } from "./helpers.ts";

/** The system's programs only (not a developer's own python3 in ~/.pyenv, which the test user cannot run). */
const PATH = "/usr/local/bin:/usr/bin:/bin";

function spawn(argv: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(argv[0], { args: argv.slice(1), env: { PATH, ...env }, stdout: "null", stderr: "null" })
    .spawn();
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

export interface Server {
  stop(): Promise<void>;
}

async function stopAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGTERM");
    } catch { /* gone */ }
    await c.status;
  }
}

export interface Xserver extends Server {
  display: number;
  /** An authority file with the server's (trusted) cookie, owned by the test user. */
  xauthority: string;
  /** Runs an X client against it with the trusted cookie; resolves to its output. */
  client(argv: string[]): Promise<{ code: number; out: string }>;
}

/**
 * Xvfb on a free display, with a cookie; -noreset as a desktop session never empties, unless `reset`
 * (as under xvfb-run: the server resets, forgetting generated cookies, when its last client leaves).
 */
export async function startXvfb(dir: string, reset = false): Promise<Xserver> {
  const display = freeDisplay(displaysInUse("/nonexistent"));
  const xauthority = `${dir}/Xauthority`;
  const cookie = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  await new Deno.Command("xauth", { args: ["-q", "-f", xauthority, "add", `:${display}`, ".", cookie], stderr: "null" })
    .output();
  if (Deno.uid() === 0) Deno.chownSync(xauthority, user.uid, user.gid);
  const server = spawn([
    "Xvfb",
    `:${display}`,
    "-screen",
    "0",
    "1024x768x24",
    "-auth",
    xauthority,
    ...(reset ? [] : ["-noreset"]),
    "-nolisten",
    "tcp",
  ]);
  if (!(await waitFor(() => exists(`/tmp/.X11-unix/X${display}`)))) throw new Error("Xvfb did not start");
  const env = { DISPLAY: `:${display}`, XAUTHORITY: xauthority, PATH: "/usr/bin:/bin" };
  return {
    display,
    xauthority,
    client: async (argv) => {
      const out = await new Deno.Command(argv[0], { args: argv.slice(1), env, stdout: "piped", stderr: "piped" })
        .output();
      return { code: out.code, out: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
    },
    stop: () => stopAll([server]),
  };
}

/** A runtime directory of the test user's (0700), like /run/user/UID. */
export function runtimeDir(): string {
  const d = Deno.makeTempDirSync({ prefix: "bbl-rt-" });
  Deno.chmodSync(d, 0o700);
  if (Deno.uid() === 0) Deno.chownSync(d, user.uid, user.gid);
  return d;
}

export interface Compositor extends Server {
  /** A PNG of the whole output (weston's screenshooter). */
  screenshot(): Promise<Uint8Array>;
}

/**
 * A headless weston as the test user, its socket `rt/wayland-bbl`: drawing with pixman on a black
 * desktop with no panel (so what an app draws is all there is to see), screenshots allowed (--debug).
 */
export async function startWeston(rt: string): Promise<Compositor> {
  writeAsUser(`${rt}/weston.ini`, "[shell]\nbackground-color=0xff000000\npanel-position=none\n");
  const w = spawn(
    asUser([
      "weston",
      "--backend=headless-backend.so",
      "--use-pixman",
      "--debug",
      "--width=1024",
      "--height=768",
      `--config=${rt}/weston.ini`,
      "--socket=wayland-bbl",
      "--idle-time=0",
    ]),
    { XDG_RUNTIME_DIR: rt },
  );
  if (!(await waitFor(() => exists(`${rt}/wayland-bbl`)))) throw new Error("weston did not start");
  return {
    screenshot: async () => {
      const shots = () =>
        [...Deno.readDirSync(rt)].map((e) => e.name).filter((n) => n.startsWith("wayland-screenshot"));
      for (const old of shots()) Deno.removeSync(`${rt}/${old}`);
      const u = asUser(["weston-screenshooter"]);
      const env = { PATH, XDG_RUNTIME_DIR: rt, WAYLAND_DISPLAY: "wayland-bbl" };
      const r = await new Deno.Command(u[0], { args: u.slice(1), cwd: rt, env, clearEnv: true, stderr: "piped" })
        .output();
      const file = shots()[0];
      if (!r.success || !file) throw new Error(`weston-screenshooter: ${new TextDecoder().decode(r.stderr)}`);
      return Deno.readFileSync(`${rt}/${file}`);
    },
    stop: () => stopAll([w]),
  };
}

/**
 * A private session bus at `rt/bus` (as the test user) with stand-ins that answer any call under
 * the given names (dbus-test-tool echo). Services it starts on demand (the document portal) get `rt`
 * as their runtime directory and `rt/data` for their data, as in a session; stopping the bus
 * unmounts the document portal's `rt/doc` if one was started.
 */
export async function startBus(rt: string, names: string[]): Promise<Server> {
  const address = `unix:path=${rt}/bus`;
  const daemon = spawn(asUser(["dbus-daemon", "--session", `--address=${address}`, "--nofork", "--nopidfile"]), {
    XDG_RUNTIME_DIR: rt,
    XDG_DATA_HOME: `${rt}/data`,
  });
  if (!(await waitFor(() => exists(`${rt}/bus`)))) throw new Error("dbus-daemon did not start");
  const services = names.map((n) =>
    spawn(asUser(["dbus-test-tool", "echo", `--name=${n}`]), { DBUS_SESSION_BUS_ADDRESS: address })
  );
  // Ready once each name has an owner.
  for (const n of names) {
    // Asked as the test user: a session bus admits only its own user.
    const ask = asUser(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path"]);
    ask.push("/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner", n);
    const owned = async () =>
      (await new Deno.Command(ask[0], {
        args: ask.slice(1),
        env: { PATH, DBUS_SESSION_BUS_ADDRESS: address },
        stdout: "piped",
        stderr: "null",
      }).output()).stdout;
    const end = Date.now() + 10000;
    while (!new TextDecoder().decode(await owned()).includes("true")) {
      if (Date.now() > end) throw new Error(`${n} never appeared on the bus`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    stop: async () => {
      await stopAll([...services, daemon]);
      if (![...Deno.readDirSync(rt)].some((e) => e.name === "doc")) return;
      const u = asUser(["fusermount3", "-u", "-z", `${rt}/doc`]);
      await new Deno.Command(u[0], { args: u.slice(1), stderr: "null" }).output();
    },
  };
}

/** A listening unix socket at `path` (a stand-in PulseAudio or PipeWire server), owned by the test user. */
export async function startSocket(path: string): Promise<Server> {
  Deno.mkdirSync(path.replace(/\/[^/]+$/, ""), { recursive: true });
  if (Deno.uid() === 0) Deno.chownSync(path.replace(/\/[^/]+$/, ""), user.uid, user.gid);
  const py = "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\n" +
    "while True:\n  c,_=s.accept()\n  c.sendall(b'hello')\n  c.close()\n";
  const p = spawn(asUser(["python3", "-c", py, path]));
  if (!(await waitFor(() => exists(path)))) throw new Error("the stand-in socket did not appear");
  return { stop: () => stopAll([p]) };
}
