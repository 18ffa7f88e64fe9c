/** The command line: `bbl [options] [--] [CMD [ARGS...]]`, `bbl explain ...`, `bbl doctor`. */
import { Command, CommanderError } from "commander";
import { buildPlan, type RunOptions } from "../plan/plan.ts";
import { parseTemplate, type Template } from "../plan/template.ts";
import { readDefaultTemplate } from "../plan/default_template.ts";
import { UsageError } from "../errors.ts";
import { gatherHost } from "../host.ts";
import { launch } from "../launcher.ts";
import { openPty } from "../sys/pty.ts";
import { formatPlan } from "../plan/format.ts";
import { doctor } from "../doctor.ts";
import { VERSION } from "../version.ts";
import { ALLOWANCES, type Policy, policyWith } from "../seccomp/policy.ts";
import { parsePolicy } from "../seccomp/file.ts";
import { RLIMITS } from "../sys/limits.ts";

interface RawRunOptions {
  uid?: string;
  gid?: string;
  shareNet?: boolean;
  setenv: string[];
  keepEnv: string[];
  hostname?: string;
  name?: string;
  template?: string;
  seccomp: string;
  seccompAllow: string[];
  limit: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

function addRunOptions(c: Command): Command {
  return c
    .option("--uid <id>", "user id inside the sandbox (default: yours; 0 for root inside)")
    .option("--gid <id>", "group id inside the sandbox (default: yours)")
    .option("--share-net", "share the host's network (default: none but a private loopback)")
    .option("--setenv <NAME=VALUE>", "set a variable inside (repeatable)", collect, [])
    .option("--keep-env <NAME>", "copy a variable from your environment (repeatable)", collect, [])
    .option("--hostname <name>", "host name inside (default: bbl)")
    .option("--name <name>", "sandbox name (default: from the command)")
    .option("--template <file>", "layer template (default: the embedded one; see `bbl template`)")
    .option(
      "--limit <NAME=N>",
      `a resource limit for the app (${Object.keys(RLIMITS).join(", ")}), or tmpfs=SIZE for every tmpfs (repeatable)`,
      collect,
      [],
    )
    .option("--seccomp <policy>", "system call filter for the app: default, off, or a policy FILE", "default")
    .option(
      "--seccomp-allow <name>",
      `lift one group of the filter's rules (${Object.keys(ALLOWANCES).join(", ")})`,
      collect,
      [],
    )
    .argument("[command...]", "command and arguments (default: your shell)");
}

function parseId(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 4294967294) {
    throw new UsageError(`${flag} ${v}: expected a number from 0 to 4294967294`);
  }
  return Number(v);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function toRunOptions(raw: RawRunOptions, command: string[]): RunOptions {
  const setenv: Record<string, string> = {};
  for (const kv of raw.setenv) {
    const i = kv.indexOf("=");
    const name = i < 0 ? kv : kv.slice(0, i);
    if (i < 0 || !ENV_NAME.test(name)) throw new UsageError(`--setenv ${kv}: expected NAME=VALUE`);
    if (name in setenv) throw new UsageError(`--setenv ${name} given twice`);
    setenv[name] = kv.slice(i + 1);
  }
  for (const name of raw.keepEnv) {
    if (!ENV_NAME.test(name)) throw new UsageError(`--keep-env ${name}: not a variable name`);
    if (name in setenv) throw new UsageError(`--keep-env ${name} conflicts with --setenv ${name}=...`);
  }
  for (const a of raw.seccompAllow) {
    if (!(a in ALLOWANCES)) {
      throw new UsageError(`--seccomp-allow ${a}: unknown; one of ${Object.keys(ALLOWANCES).join(", ")}`);
    }
  }
  if (raw.seccomp !== "default" && raw.seccompAllow.length > 0) {
    throw new UsageError(`--seccomp-allow goes with the default policy, not --seccomp ${raw.seccomp}`);
  }
  const limits: Record<string, number> = {};
  let tmpfsSize: string | undefined;
  for (const l of raw.limit) {
    const t = l.match(/^tmpfs=([1-9]\d*[kmg]?)$/);
    const m = l.match(/^([a-z]+)=(\d+)$/);
    if (t) {
      if (tmpfsSize) throw new UsageError("--limit tmpfs given twice");
      tmpfsSize = t[1];
    } else if (!m || !(m[1] in RLIMITS)) {
      throw new UsageError(
        `--limit ${l}: expected NAME=N with NAME one of ${[...Object.keys(RLIMITS), "tmpfs"].join(", ")}`,
      );
    } else if (m[1] in limits) throw new UsageError(`--limit ${m[1]} given twice`);
    else limits[m[1]] = Number(m[2]);
  }
  return {
    command,
    tmpfsSize,
    limits,
    seccomp: raw.seccomp === "default"
      ? policyWith(raw.seccompAllow)
      : raw.seccomp === "off"
      ? null
      : loadPolicy(raw.seccomp),
    seccompAllow: raw.seccompAllow,
    uid: parseId("--uid", raw.uid),
    gid: parseId("--gid", raw.gid),
    shareNet: raw.shareNet ?? false,
    setenv,
    keepenv: raw.keepEnv,
    hostname: raw.hostname,
    name: raw.name,
  };
}

/** The text of a file an option names; an unreadable one is a usage error naming the option. */
function readOptionFile(option: string, file: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    throw new UsageError(`${option} ${file}: ${(e as Error).message}`);
  }
}

function loadPolicy(file: string): Policy {
  return parsePolicy(readOptionFile("--seccomp", file), file);
}

function loadTemplate(file: string | undefined): Template {
  if (file === undefined) return parseTemplate(readDefaultTemplate(), "default.yaml");
  return parseTemplate(readOptionFile("--template", file), file);
}

/** Parses argv and runs the chosen action; resolves to the exit code. */
export async function cli(argv: string[]): Promise<number> {
  // Everything after the first "--" is the command, never an option or a subcommand ("bbl -- doctor").
  const dd = argv.indexOf("--");
  const head = dd < 0 ? argv : argv.slice(0, dd);
  const tail = dd < 0 ? [] : argv.slice(dd + 1);
  let result: Promise<number> = Promise.resolve(0);

  const program = new Command("bbl")
    .description("Box-in-Box Linux: run a program in nested, rootless Linux namespaces")
    .version(VERSION)
    .enablePositionalOptions()
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  addRunOptions(program).action((cmd: string[], raw: RawRunOptions) => {
    const opts = toRunOptions(raw, [...cmd, ...tail]);
    const template = loadTemplate(raw.template);
    // A terminal on stdin: the sandbox gets a pty of its own, relayed (src/sys/pty.ts).
    const pty = Deno.stdin.isTerminal() ? openPty() : null;
    const host = gatherHost(pty?.slavePath ?? null);
    const plan = buildPlan(opts, host, template);
    result = launch(plan, host.uid, pty);
  });
  addRunOptions(program.command("explain").description("print what a run with these options would build"))
    .option("--json", "machine-readable output")
    .action((cmd: string[], raw: RawRunOptions & { json?: boolean }) => {
      const opts = toRunOptions(raw, [...cmd, ...tail]);
      const plan = buildPlan(opts, gatherHost(), loadTemplate(raw.template));
      console.log(raw.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
    });
  program.command("template").description("print the embedded default layer template").action(() => {
    Deno.stdout.writeSync(new TextEncoder().encode(readDefaultTemplate()));
  });
  program.command("doctor").description("check every requirement by trying it").action(() => {
    result = doctor();
  });

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
