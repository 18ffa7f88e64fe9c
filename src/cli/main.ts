/** The command line: `bbl [options] [--] [CMD [ARGS...]]`, `bbl explain ...`, `bbl doctor`. */
import type { Command } from "commander";
import { buildPlan } from "../plan/plan.ts";
import type { RunOptions } from "../plan/options.ts";
import type { Plan } from "../plan/types.ts";
import type { HostFacts } from "../plan/host.ts";
import { parseTemplate, type Template } from "../plan/template.ts";
import { DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_TEXT } from "../plan/default_template.ts";
import { UsageError } from "../errors.ts";
import { gatherHost } from "../host.ts";
import { launch } from "../launcher.ts";
import { openPty } from "../sys/pty.ts";
import { VERSION } from "../version.ts";
import type { Pty } from "../sys/pty.ts";
import { flagsToConfig, NO_FLAGS } from "../config/flags.ts";
import {
  configHome,
  defaultsLayer,
  loadConfig,
  type LoadInput,
  readsConfigFiles,
  readTrusted,
} from "../config/load.ts";
import { parseRun, type RawRunOptions, RUN_OPTIONS } from "./run_options.ts";
import { loadYaml } from "../yaml.ts";
import { approve, type Asker } from "../config/approval.ts";
import { askYesNo } from "./ask.ts";
import { appImageRequest, type HostView, hostView, resolveConfig } from "../config/resolve.ts";
import type { ImageFacts } from "../appimage/browser.ts";
import { formatMerged, mergeConfigs, type Merged } from "../config/merge.ts";
import { formatProgram } from "../sys/program.ts";
import { syscallNames } from "../sys/consts.ts";
import { checkAppImageTools } from "../appimage/tools.ts";
import type { SandboxRunner } from "../appimage/extract.ts";
import { type Config, parseConfig } from "../config/schema.ts";
import { bblDir, selfArgv } from "../selfexec.ts";
import { SandboxState } from "../state/store.ts";
import { DEFAULT_HOSTNAME } from "../plan/config_steps.ts";
import { notShownNote } from "../plan/visible.ts";

// Repeatable options: no default value (commander would print "(default: [])"), filled in by withLists.
const collect = (v: string, prev: string[] = []) => [...prev, v];

function addRunOptions(c: Command): Command {
  for (const o of RUN_OPTIONS) {
    const flags = `--${o.name}${o.value ? ` <${o.value}>` : ""}`;
    if (o.repeatable) c.option(flags, o.help, collect);
    else c.option(flags, o.help);
  }
  return c.argument("[command...]", "command and arguments (default: your shell)");
}

function parseId(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 4294967294) {
    throw new UsageError(`${flag} ${v}: expected a number from 0 to 4294967294`);
  }
  return Number(v);
}

/** Asks you to approve a configuration file found next to a program (src/config/approval.ts). */
const askApproval: Asker = (path, text) => {
  const lines = text.split("\n");
  const shown = lines.slice(0, 40).map((l) => `  | ${l}`).join("\n") + (lines.length > 40 ? "\n  | ..." : "");
  return askYesNo(`bbl: ${path} is new, or changed since you approved it:\n${shown}\nUse it from now on?`);
};

function loadInput(host: HostFacts, flags: Config, command: string[], configFile?: string, ask?: Asker): LoadInput {
  return {
    ...(ask ? { ask } : {}),
    flags,
    configFile,
    command,
    env: host.env,
    home: host.home,
    cwd: host.cwd,
    uid: host.uid,
    gid: host.gid,
    bblDir: bblDir(host.self),
  };
}

/** Runs the plan, holding the sandbox's state (persist, overlay) for the whole run. */
async function runWithState(plan: Plan, opts: RunOptions, host: HostFacts, pty: Pty | null): Promise<number> {
  const state = plan.state
    ? SandboxState.open(plan.state.dir, host.uid, {
      name: opts.name,
      home: plan.state.home,
      ...(plan.state.home === "overlay" ? { lower: host.home } : {}),
      options: { cwd: opts.cwd, net: opts.net, mounts: opts.mounts, hostname: opts.hostname ?? DEFAULT_HOSTNAME },
    })
    : null;
  try {
    return await launch(plan, host.uid, pty, host.env);
  } finally {
    state?.release();
  }
}

/** The repeatable options, each a list even when not given. */
function withLists(raw: RawRunOptions): RawRunOptions {
  return { ...NO_FLAGS, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) };
}

/**
 * What an AppImage's contents decide (src/appimage/browser.ts): a Chromium/Electron build gets
 * nested_sandbox unless a source sets that key (said in one line), and the app may own its desktop
 * id's bus names (ID and ID.*) through a filtered bus. `probe`: look at an image not seen before (a
 * sandbox run); else use only what is remembered.
 */
async function appImageFacts(
  merged: Merged,
  name: string,
  image: string,
  host: HostFacts,
  view: HostView,
  probe: boolean,
): Promise<ImageFacts | null> {
  let facts: ImageFacts | null = null;
  try {
    const a = appImageRequest(name, image, view);
    checkAppImageTools([a], false);
    const look: SandboxRunner = probe ? sandboxRunner(host) : () => Promise.resolve(2);
    const { imageFacts } = await import("../appimage/browser.ts");
    facts = await imageFacts(a, host.instanceBase, look);
  } catch {
    return null; // a bad image or a missing tool: the run itself says so
  }
  if (facts === null) return null;
  const from = { label: "bbl: the AppImage's contents", dir: host.cwd };
  if (facts.desktopId) merged.dbus_own.push({ value: facts.desktopId, from }, { value: `${facts.desktopId}.*`, from });
  if (!facts.browser || (merged.scalars.nested_sandbox?.from.label ?? "defaults") !== "defaults") return facts;
  merged.scalars.nested_sandbox = { value: true, from };
  console.error(
    `bbl: ${image.split("/").pop()} is a Chromium/Electron build: it may build its own sandbox (nested_sandbox; ` +
      "nested_sandbox: false in its configuration turns this off)",
  );
  return facts;
}

/** The command line and the configuration it selects, resolved against the host (files checked, nothing made). */
async function resolveRun(given: RawRunOptions, args: string[], host: HostFacts, probe = true): Promise<RunOptions> {
  const raw = withLists(given);
  if (!raw.appimage) {
    for (const [flag, set] of [["--shell", raw.shell], ["--desktop-entry", raw.desktopEntry]] as const) {
      if (set) throw new UsageError(`${flag} goes with --appimage FILE`);
    }
  }
  if (raw.shell && args.length > 0) throw new UsageError("--shell runs your shell: give no command");
  const ids = { uid: parseId("--uid", raw.uid), gid: parseId("--gid", raw.gid) };
  const program = raw.appimage ? [raw.appimage] : args;
  const input = loadInput(host, flagsToConfig(raw), program, raw.config, askApproval);
  const policyFile = raw.seccomp !== undefined && !["default", "off"].includes(raw.seccomp);
  if (raw.template !== undefined || policyFile || readsConfigFiles(input)) await loadYaml();
  const { name, merged } = loadConfig(input);
  const view = hostView(host.env, host.home, host.cwd);
  const facts = raw.appimage ? await appImageFacts(merged, name, raw.appimage, host, view, probe) : null;
  const command = raw.appimage ? (raw.shell ? [] : [`/sbxdir/apps/run_${name}`, ...args]) : args;
  const opts = resolveConfig(name, merged, command, ids, view, raw.appimage, facts?.gtk4);
  checkAppImageTools(opts.appimages, raw.appimageExtract ?? false);
  return opts;
}

/** Runs a command in a sandbox of the embedded defaults (bbl's own steps: unpacking, reading). */
function sandboxRunner(host: HostFacts): SandboxRunner {
  return (name, mounts, command) => {
    const merged = mergeConfigs([
      defaultsLayer(host.home),
      { from: { label: "bbl", dir: host.cwd }, config: { mounts } },
    ]);
    const opts = resolveConfig(name, merged, command, {}, hostView(host.env, host.home, host.cwd));
    checkAppImageTools(opts.appimages, false);
    return launch(buildPlan(opts, { ...host, tty: null }, loadTemplate(undefined)), host.uid, null);
  };
}

/** A run: unpack AppImages when asked, then the sandbox (or, with --desktop-entry, its launcher). */
async function run(raw: RawRunOptions, args: string[], head: string[]): Promise<number> {
  const host = gatherHost();
  const opts = await resolveRun(raw, args, host);
  const template = loadTemplate(raw.template);
  if (raw.appimageExtract) {
    const { cacheBase, extracted } = await import("../appimage/extract.ts");
    for (const a of opts.appimages) {
      a.extracted = await extracted(a, cacheBase(host.env, host.home), sandboxRunner(host));
    }
  }
  if (raw.desktopEntry) {
    const again = head.filter((a) => a !== "--desktop-entry");
    const { writeDesktopEntry } = await import("../appimage/desktop.ts");
    const file = await writeDesktopEntry({
      image: opts.appimages[0],
      bblArgv: [...selfArgv(host.self), ...again],
      home: host.home,
      env: host.env,
      cwd: host.cwd,
    }, sandboxRunner(host));
    console.log(`wrote ${file}`);
    return 0;
  }
  if (opts.desktop.dbus.mode === "host") {
    console.error(
      "bbl: warning: dbus: host gives the app the real session bus (it can start programs, ask for secrets)",
    );
  }
  // A terminal on stdin: the sandbox gets a pty of its own, relayed (src/sys/pty.ts).
  const pty = Deno.stdin.isTerminal() ? openPty() : null;
  const withTty = { ...host, tty: pty?.slavePath ?? null };
  const plan = buildPlan(opts, withTty, template);
  const code = await runWithState(plan, opts, withTty, pty);
  const note = notShownNote(plan.notShown ?? [], code, host.cwd);
  if (note) console.error(note);
  return code;
}

/** The text of a file an option names; an unreadable one is a usage error naming the option. */
function readOptionFile(option: string, file: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    throw new UsageError(`${option} ${file}: ${(e as Error).message}`);
  }
}

function loadTemplate(file: string | undefined): Template {
  if (file === undefined) return DEFAULT_TEMPLATE;
  return parseTemplate(readOptionFile("--template", file), file);
}

/** The subcommands, which commander parses (an ordinary run is parsed without it). */
const SUBCOMMANDS = ["explain", "config", "list", "diff", "discard", "clean", "template", "doctor", "help"];

/** Parses argv and runs the chosen action; resolves to the exit code. */
export async function cli(argv: string[]): Promise<number> {
  // Everything after the first "--" is the command, never an option or a subcommand ("bbl -- doctor").
  const dd = argv.indexOf("--");
  const head = dd < 0 ? argv : argv.slice(0, dd);
  const tail = dd < 0 ? [] : argv.slice(dd + 1);
  const ordinary = await parseRun(head, SUBCOMMANDS);
  if (ordinary) return await run(ordinary.raw, [...ordinary.command, ...tail], head);
  if (head.length === 1 && ["--version", "-V"].includes(head[0])) {
    console.log(VERSION); // as commander prints it, without loading it
    return 0;
  }

  const { Command, CommanderError } = await import("commander");
  await loadYaml(); // config show and trust read files; the rest is not hot
  let result: Promise<number> = Promise.resolve(0);

  const program = new Command("bbl")
    .description("Box-in-Box Linux: run a program in nested, rootless Linux namespaces")
    .version(VERSION)
    .enablePositionalOptions()
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  addRunOptions(program).action((cmd: string[], raw: RawRunOptions) => {
    result = run(raw, [...cmd, ...tail], head);
  });
  addRunOptions(program.command("explain").description("print what a run with these options would build"))
    .option("--json", "machine-readable output")
    .option("--steps", "also print the program the launcher compiles: every step of every layer's process")
    .action((cmd: string[], raw: RawRunOptions & { json?: boolean; steps?: boolean }) => {
      result = (async () => {
        const host = gatherHost();
        // explain runs nothing: an AppImage not looked at before is not probed
        const opts = await resolveRun(raw, [...cmd, ...tail], host, false);
        const plan = buildPlan(opts, host, loadTemplate(raw.template));
        const { formatPlan } = await import("../plan/format.ts");
        console.log(raw.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
        if (raw.steps) {
          const { sandboxProgram } = await import("../layer/start.ts");
          console.log("\nprogram (descriptors the launcher opens at run time shown as -1):");
          console.log(formatProgram(sandboxProgram(plan), syscallNames()).join("\n"));
        }
        return 0;
      })();
    });
  const config = program.command("config").description("configuration");
  config.command("trust <files...>")
    .description(
      "approve configuration files next to programs (bbl uses them only once approved, again after a change)",
    )
    .action((files: string[]) => {
      const host = gatherHost();
      for (const f of files) {
        const text = readTrusted(f, host.uid, host.gid, true)!;
        parseConfig(text, f); // approve only what would be accepted
        approve(configHome(host.env, host.home), Deno.realPathSync(f), text);
        console.log(`approved ${Deno.realPathSync(f)}`);
      }
    });
  config.command("show [name]")
    .description("print the merged configuration of a sandbox and where each value comes from")
    .option("--config <file>", "include this configuration file, as a run would")
    .action((name: string | undefined, o: { config?: string }) => {
      const host = gatherHost();
      const flags = name === undefined ? {} : flagsToConfig({ ...NO_FLAGS, name });
      const loaded = loadConfig(loadInput(host, flags, [], o.config));
      Deno.stdout.writeSync(new TextEncoder().encode(formatMerged(loaded.merged, loaded.name)));
    });
  // Subcommands and their modules: loaded with commander, never on a run's path.
  const { addStateCommands } = await import("./state.ts");
  addStateCommands(program, (r) => result = r);
  program.command("template").description("print the embedded default layer template").action(() => {
    Deno.stdout.writeSync(new TextEncoder().encode(DEFAULT_TEMPLATE_TEXT));
  });
  program.command("doctor").description("check every requirement by trying it").action(() => {
    result = import("../doctor.ts").then(({ doctor }) => doctor());
  });
  // The fast path must know every subcommand, or it would run "bbl NEW" as a program named NEW.
  const registered = [...program.commands.map((c) => c.name()), "help"].sort().join(" ");
  if (registered !== [...SUBCOMMANDS].sort().join(" ")) {
    throw new Error(`internal: SUBCOMMANDS (${SUBCOMMANDS.join(" ")}) differ from the registered ${registered}`);
  }

  try {
    await program.parseAsync(head, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      throw new UsageError(`${e.message.replace(/^error: /, "")} (see bbl --help)`);
    }
    throw e;
  }
  return await result;
}
