/** `bbl list`, `bbl diff NAME`, `bbl discard NAME`, `bbl clean NAME | --all`: the sandboxes' kept state. */
import type { Command } from "commander";
import { gatherHost } from "../host.ts";
import { listStates, readRecord, removeTree, stateBase, type StateInfo, tryLock } from "../state/store.ts";
import { overlayChanges } from "../state/diff.ts";
import { NAME_RE } from "../config/schema.ts";
import { BblError, UsageError } from "../errors.ts";
import { libc } from "../sys/libc.ts";
import { askYesNo } from "./ask.ts";

function base(): string {
  const h = gatherHost();
  return stateBase(h.env, h.home);
}

function human(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) [v, u] = [v / 1024, u + 1];
  return `${u === 0 ? v : v.toFixed(1)}${units[u]}`;
}

const print = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s));

function stateOf(name: string): StateInfo {
  if (!NAME_RE.test(name)) throw new UsageError(`invalid sandbox name '${name}'`);
  const info = listStates(base()).find((s) => s.name === name);
  if (!info) throw new UsageError(`no sandbox named '${name}' has state (see bbl list)`);
  return info;
}

/** Runs `fn` holding the sandbox's lock: nothing is changed under a running sandbox. */
function whileStopped(info: StateInfo, fn: () => void): void {
  const fd = tryLock(info.dir);
  if (fd === null) throw new BblError(`sandbox '${info.name}' is running; try again once it has ended`);
  try {
    fn();
  } finally {
    libc.close(fd);
  }
}

/** Asks on the terminal; without one, only --yes agrees. */
function confirm(question: string, yes: boolean): boolean {
  if (yes) return true;
  const answer = askYesNo(question);
  if (answer === null) throw new UsageError("no terminal to ask for confirmation on: add --yes to go ahead");
  return answer;
}

export function addStateCommands(program: Command, setResult: (r: Promise<number>) => void): void {
  program.command("list").description("the sandboxes that keep state: home mode, size on disk, last use")
    .action(() => {
      const rows = listStates(base()).map((s) => [
        s.name,
        s.record?.home ?? "?",
        human(s.bytes),
        (s.record?.last_used ?? "?").replace("T", " ").replace(/\.\d+Z$/, "Z") + (s.running ? "  (running)" : ""),
      ]);
      const all = [["NAME", "HOME", "SIZE", "LAST USED"], ...rows];
      const w = [0, 1, 2].map((i) => Math.max(...all.map((r) => r[i].length)));
      print(all.map((r) => r.map((c, i) => i < 3 ? c.padEnd(w[i]) : c).join("  ")).join("\n") + "\n");
    });

  program.command("diff <name>").description("what an overlay sandbox changed: A added, M modified, D deleted")
    .action((name: string) => {
      const info = stateOf(name);
      const rec = readRecord(info.dir);
      if (rec?.home !== "overlay" || !rec.lower) throw new UsageError(`sandbox '${name}' has no overlay home`);
      const mark = { added: "A", modified: "M", deleted: "D", replaced: "R" };
      for (const c of overlayChanges(`${info.dir}/upper`, rec.lower)) {
        print(`${mark[c.kind]} ${c.path}${c.dir ? "/" : ""}\n`);
      }
    });

  program.command("discard <name>").description("drop every change an overlay sandbox made")
    .option("--yes", "do not ask")
    .action((name: string, o: { yes?: boolean }) => {
      const info = stateOf(name);
      if (readRecord(info.dir)?.home !== "overlay") throw new UsageError(`sandbox '${name}' has no overlay home`);
      if (!confirm(`Drop every change sandbox '${name}' made to its view of your home?`, o.yes ?? false)) {
        setResult(Promise.resolve(1));
        return;
      }
      whileStopped(info, () => {
        for (const sub of ["upper", "work"]) {
          removeTree(`${info.dir}/${sub}`);
          Deno.mkdirSync(`${info.dir}/${sub}`, { mode: 0o700 });
        }
      });
    });

  program.command("clean [name]").description("remove a sandbox's state (its kept home and changes)")
    .option("--all", "every sandbox's state")
    .option("--yes", "do not ask")
    .action((name: string | undefined, o: { all?: boolean; yes?: boolean }) => {
      if ((name === undefined) === !o.all) throw new UsageError("clean: give a sandbox name or --all (not both)");
      const targets = o.all ? listStates(base()) : [stateOf(name!)];
      if (targets.length === 0) return;
      const what = targets.map((t) => `${t.name} (${human(t.bytes)})`).join(", ");
      if (!confirm(`Remove the state of ${what}? This cannot be undone.`, o.yes ?? false)) {
        setResult(Promise.resolve(1));
        return;
      }
      for (const t of targets) whileStopped(t, () => removeTree(t.dir));
    });
}
