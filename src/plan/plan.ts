/**
 * The planner: a layer template + run options + host facts -> a complete Plan. Pure (no I/O), so
 * everything a run will do can be printed (`bbl explain`) and unit-tested.
 *
 * It resolves every path for the view of the process that will use it: a layer's host-path sources
 * are prefixed with where the host is visible to that layer's process before its pivot (`host_at` of
 * the nearest ancestor with a new root; "" for the host itself).
 */
import type { AppImagePlan, AppPlan, FsOp, IdMap, LayerPlan, Namespace, Plan } from "./types.ts";
import type { HostFacts } from "./host.ts";
import type { Template, TemplateFs, TemplateLayer } from "./template.ts";
import { substitute } from "./template.ts";
import { buildEnv } from "./env.ts";
import { UsageError } from "../errors.ts";
import { bblDir } from "../selfexec.ts";
import { setupProblem } from "../layer/compile.ts";
import { allLayers } from "./tree.ts";
import type { NamedFile, RunOptions } from "./options.ts";
import { builtAt, shownAt } from "./visible.ts";
import {
  appEnv,
  proxyRootOps,
  trustedHelpers,
  untrustedHelpers,
  type Where,
  xauthPlan,
  xdgOpenScript,
} from "./desktop.ts";
import {
  appImageHelpers,
  appRootSteps,
  DEFAULT_HOSTNAME,
  hostLayerSteps,
  MASK_SIZE,
  overlayMasks,
  ownNameFiles,
} from "./config_steps.ts";

/**
 * Sizes of the tmpfs mounts whose template step gives none: bounded, unlike the kernel's default of
 * half the RAM. `--limit tmpfs=SIZE` replaces every one of them (and the template's).
 */
export const TMPFS_SIZES = {
  /** tmpfs and rotmpfs steps. */
  step: "64m",
  /** The tmpfs holding a minimal /dev's nodes (read-only once built). */
  dev: "16m",
  shm: "256m",
  /** /sbxdir (read-only: plans and run scripts) and its writable temp/. */
  sbxdir: "16m",
  sbxTemp: "256m",
  /** The upper directory of a tmp-overlay. */
  overlay: "1g",
} as const;

/** /proc entries that would let root-in-the-namespace change host-wide settings: bound read-only. */
export const PROC_READONLY = ["sys", "sysrq-trigger", "irq", "bus"] as const;
/**
 * /proc entries that list host-wide state to any process of the same user, whatever its namespaces:
 * the keys of every session of the user (names, ids, even without possessing them) and their counts.
 */
export const PROC_MASKED = ["keys", "key-users"] as const;

function parseSize(v: string | number | undefined, dflt: string, where: string): string {
  if (v === undefined) return dflt;
  const s = String(v);
  if (!/^[1-9]\d*[kmg]?$/.test(s)) throw new UsageError(`${where}: size must be a number of bytes, or with k, m or g`);
  return s;
}

/** Destinations a template may not use: bbl owns them. */
const RESERVED = ["/sbxdir"];

function parseMode(v: string | number | undefined, dflt: number, where: string): number {
  if (v === undefined) return dflt;
  const n = typeof v === "number" ? v : /^0?[0-7]{3,4}$/.test(v) ? parseInt(v, 8) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0o7777) throw new UsageError(`${where}: mode must be octal like "0755"`);
  return n;
}

const depth = (p: string) => p.split("/").filter(Boolean).length;
import { pathIn } from "./config_steps.ts";

/**
 * Later steps for the same destination replace earlier ones; then parents before children (stable
 * otherwise). remount-ro steps go last: they apply once everything is mounted.
 */
export function orderFs(ops: FsOp[]): FsOp[] {
  const last = new Map<string, number>();
  ops.forEach((op, i) => op.kind !== "remount-ro" && last.set(op.dest, i));
  const rank = (op: FsOp) => op.kind === "remount-ro" ? 1000 : depth(op.dest);
  const kept = ops.map((op, i) => ({ op, i })).filter(({ op, i }) =>
    op.kind === "remount-ro" || last.get(op.dest) === i
  );
  return kept.sort((a, b) => rank(a.op) - rank(b.op) || a.i - b.i).map(({ op }) => op);
}

interface Ctx {
  /** Where the host's root is visible to the process that starts this layer; null: not visible. */
  hostView: string | null;
  /** The uid/gid the starting process has in its user namespace. */
  uid: number;
  gid: number;
  /** The starting process holds capabilities in its user namespace. */
  privileged: boolean;
  /**
   * Where the starting process has usable device nodes and the user's terminal: host paths at first,
   * then the /dev a layer built (device binds need a mount without nodev, which /zrootfs is not).
   */
  dev: string | null;
  console: string | null;
}

/** The layers from the first one down to the app layer (inclusive), or null when there is none. */
function pathToApp(l: TemplateLayer): TemplateLayer[] | null {
  if (l.disabled) return null;
  if (l.app) return [l];
  for (const s of l.sublayers ?? []) {
    const found = pathToApp(s);
    if (found) return [l, ...found];
  }
  return null;
}

/** The ones that build a new root, nearest the app last. */
const rootsAbove = (path: TemplateLayer[]) => path.filter((l) => (l.fs ?? []).length > 0 && !l.app);

class Planner {
  private apps: string[] = [];
  /** Host files the arguments name that the app's root does not show. */
  notShown: NamedFile[] = [];
  /** The layer that builds the app's root: the configuration's mounts, home and AppImages go there. */
  private appRoot: string | null;
  /** The root above it, whose /dev the app's root layer sees before its pivot (for /dev/fuse). */
  private devLayer: string | null;
  /** Where AppImage FUSE daemons run: an untrusted helper layer (seccomp: true) beside the app layer. */
  private helperLayer: string | null;
  /** Where Xephyr and the DBus proxy run: a trusted helper layer beside the untrusted side, below the host layer. */
  private trustedLayer: string | null;
  /** The layer that builds the root the trusted helpers run in (their own, or the host layer's). */
  private trustedRoot: string | null;
  /** The app's nearest init: with a terminal, it owns the terminal's session. */
  private sessionLayer: string | null;
  constructor(
    private t: Template,
    private opts: RunOptions,
    private host: HostFacts,
    private vars: Record<string, string>,
    private app: AppPlan,
    private instanceDir: string,
  ) {
    const path = pathToApp(t.root) ?? [];
    const roots = rootsAbove(path);
    this.appRoot = roots.at(-1)?.name ?? null;
    this.devLayer = roots.at(-2)?.name ?? null;
    const parent = path.at(-2);
    this.helperLayer = (parent?.sublayers ?? []).find((s) => !s.app && !s.disabled && s.seccomp)?.name ?? null;
    this.sessionLayer = path.filter((l) => (l.unshare ?? []).includes("pid")).at(-1)?.name ?? null;
    const hostLayer = path.find((l) => l.mask_never_access);
    const trusted = (hostLayer?.sublayers ?? []).find((s) => !s.disabled && !s.seccomp && !pathToApp(s));
    this.trustedLayer = trusted?.name ?? null;
    this.trustedRoot = trusted && (trusted.fs ?? []).length > 0 ? trusted.name : hostLayer?.name ?? null;
  }

  private where(host: (p: string) => string): Where {
    return { uid: Number(this.vars.uid), network: this.opts.net === "host", instanceDir: this.instanceDir, host };
  }

  /** Device nodes a layer's /dev adds: FUSE for the app root's parent, GPU nodes for both. */
  private devExtra(layer: string): string[] {
    const devices = this.opts.desktop.devices;
    if (layer === this.devLayer) return [...(this.fuseImages.length > 0 ? ["fuse"] : []), ...devices];
    return layer === this.appRoot ? devices : [];
  }

  private get fuseImages() {
    return this.opts.appimages.filter((a) => !a.extracted);
  }

  private appImagePlans(l: TemplateLayer, ctx: Ctx): AppImagePlan[] {
    const host = (p: string) => {
      if (ctx.hostView === null) this.fail(l.name, "AppImages need the host's files visible here (host_at above)");
      return ctx.hostView + p;
    };
    if (this.fuseImages.length > 0) {
      if (ctx.dev === null || this.devLayer === null) {
        this.fail(l.name, "mounting AppImages needs a dev step in the root above this layer (for /dev/fuse)");
      }
      if (this.helperLayer === null) {
        this.fail(l.name, "mounting AppImages needs an untrusted helper layer (seccomp: true) beside the app layer");
      }
    }
    return this.opts.appimages.map((a) => ({
      name: a.name,
      image: host(a.path),
      argv0: a.argv0,
      offset: a.offset,
      format: a.format,
      ...(a.extracted ? { extracted: host(a.extracted) } : { fuseDevice: `${ctx.dev}/fuse` }),
    }));
  }

  /** The programs bbl puts in the app root's /sbxdir/bin, first in the app's PATH: xdg-open with a display. */
  private sbxBin(): Record<string, string> {
    return this.opts.desktop.gui.mode !== "none" ? { "xdg-open": xdgOpenScript(this.opts.desktop) } : {};
  }

  /** A tmpfs's size: --limit tmpfs=SIZE, else the template's, else `dflt`. */
  private size(given: string | number | undefined, dflt: string, label: string): string {
    return this.opts.tmpfsSize ?? parseSize(given, dflt, label);
  }

  private fail(label: string, msg: string): never {
    throw new UsageError(`${this.t.file}: ${label}: ${msg}`);
  }

  private sub(s: string, label: string): string {
    return substitute(s, this.vars, () => `${this.t.file}: ${label}`);
  }

  private ids(l: TemplateLayer, ctx: Ctx): { uidMap?: IdMap[]; gidMap?: IdMap[]; uid: number; gid: number } {
    const hasUser = (l.unshare ?? []).includes("user");
    if (!hasUser) {
      if (l.ids !== undefined) this.fail(`${l.name}.ids`, "ids need 'user' in unshare");
      return { uid: ctx.uid, gid: ctx.gid };
    }
    const ids = l.ids ?? "root";
    if (ids === "root") {
      return {
        uidMap: [{ inside: 0, outside: ctx.uid, count: 1 }],
        gidMap: [{ inside: 0, outside: ctx.gid, count: 1 }],
        uid: 0,
        gid: 0,
      };
    }
    const uid = this.opts.uid ?? this.host.uid, gid = this.opts.gid ?? this.host.gid;
    if (ids === "user") {
      return {
        uidMap: [{ inside: uid, outside: ctx.uid, count: 1 }],
        gidMap: [{ inside: gid, outside: ctx.gid, count: 1 }],
        uid,
        gid,
      };
    }
    const toMap = (rows: number[][]) => rows.map(([inside, outside, count]) => ({ inside, outside, count }));
    const uidMap = toMap(ids.uid), gidMap = toMap(ids.gid);
    // The layer's process writes its own maps, and without privilege in its parent's namespace the
    // kernel lets it map exactly one id: its own.
    const single = (m: IdMap[], outer: number) => m.length === 1 && m[0].count === 1 && m[0].outside === outer;
    if (!single(uidMap, ctx.uid) || !single(gidMap, ctx.gid)) {
      this.fail(
        `${l.name}.ids`,
        `each map is one id, the parent's own: {uid: [[N, ${ctx.uid}, 1]], gid: [[N, ${ctx.gid}, 1]]}`,
      );
    }
    return { uidMap, gidMap, uid: uidMap[0].inside, gid: gidMap[0].inside };
  }

  private fsOps(l: TemplateLayer, ctx: Ctx): FsOp[] {
    const hostView = ctx.hostView;
    const ops: FsOp[] = [];
    const host = (p: string, label: string) => {
      if (hostView === null) this.fail(label, "the host's files are not visible here (no ancestor root has host_at)");
      return hostView + p;
    };
    (l.fs ?? []).forEach((f: TemplateFs, i) => {
      const label = `${l.name}.fs[${i}]`;
      const dest = this.sub(f.dest!, `${label}.dest`).replace(/(.)\/+$/, "$1");
      if (!dest.startsWith("/") || dest.split("/").includes("..")) {
        this.fail(`${label}.dest`, `'${dest}' is not an absolute path`);
      }
      if (RESERVED.some((r) => pathIn(dest, r))) this.fail(`${label}.dest`, `${dest} is reserved for bbl`);
      const opt = f.optional ? { optional: true } : {};
      const lowerDirs = () => f.lower!.map((p) => host(this.sub(p, `${label}.lower`), label));
      switch (f.kind) {
        case "bind":
        case "robind":
          ops.push({ kind: f.kind, src: host(this.sub(f.src!, `${label}.src`), label), dest, ...opt });
          break;
        case "same":
        case "rosame":
          ops.push({ kind: f.kind, src: host(dest, label), dest, ...opt });
          break;
        case "tmpfs":
        case "rotmpfs":
          ops.push({
            kind: f.kind,
            dest,
            mode: parseMode(f.mode, 0o755, label),
            size: this.size(f.size, TMPFS_SIZES.step, `${label}.size`),
          });
          break;
        case "dir":
          ops.push({ kind: "dir", dest, mode: parseMode(f.mode, 0o755, label) });
          break;
        case "file":
        case "rofile":
          ops.push({
            kind: f.kind,
            dest,
            content: this.sub(f.content ?? "", `${label}.content`),
            mode: parseMode(f.mode, 0o644, label),
          });
          break;
        case "symlink":
          ops.push({ kind: "symlink", dest, target: this.sub(f.target!, `${label}.target`) });
          break;
        case "dev": {
          if (ctx.dev === null) this.fail(label, "no device nodes to bind: the parent's new root has no dev");
          const extra = this.devExtra(l.name);
          ops.push({
            kind: "dev",
            dest,
            from: ctx.dev,
            ...(ctx.console ? { console: ctx.console } : {}),
            ...(extra.length > 0 ? { extra } : {}),
            size: this.size(undefined, TMPFS_SIZES.dev, label),
            shmSize: this.size(f.size, TMPFS_SIZES.shm, `${label}.size`),
          });
          break;
        }
        case "mask":
          ops.push({ kind: "mask", src: host(dest, label), dest, ...opt, size: MASK_SIZE });
          break;
        case "overlay":
          ops.push({
            kind: "overlay",
            dest,
            lower: lowerDirs(),
            upper: host(this.sub(f.upper!, `${label}.upper`), label),
            work: host(this.sub(f.work!, `${label}.work`), label),
          });
          break;
        case "tmp-overlay":
          ops.push({
            kind: "tmp-overlay",
            dest,
            lower: lowerDirs(),
            size: this.size(f.size, TMPFS_SIZES.overlay, `${label}.size`),
          });
          break;
        case "proc":
          ops.push({ kind: "proc", dest, readonly: [...PROC_READONLY], masked: [...PROC_MASKED] });
          break;
        default:
          ops.push({ kind: f.kind as "devpts" | "mqueue" | "remount-ro", dest });
      }
    });
    if (l.mask_never_access) {
      if (!l.host_at) this.fail(`${l.name}.mask_never_access`, "needs host_at (where the host is masked)");
      ops.push(...hostLayerSteps(this.opts, this.host, l.host_at, this.where((p) => host(p, l.name))));
    }
    if (l.name === this.trustedRoot) ops.push(...proxyRootOps(this.opts.desktop, this.where((p) => host(p, l.name))));
    if (l.name === this.appRoot) {
      const own = ownNameFiles(this.opts, this.host).filter((f) => !ops.some((op) => op.dest === f.dest));
      ops.push(...appRootSteps(this.opts, this.host, this.where((p) => host(p, `${l.name} (configuration)`))));
      ops.push(...own, ...this.programSteps(ops, hostView ?? ""));
    }
    return orderFs([...ops, ...overlayMasks(ops, hostView ?? "", this.opts.neverAccess)]);
  }

  /**
   * The program, shown read-only where the host has it when the app's root would not show it (only
   * that file, or with program_dir its directory), and run by that path; and which of the files the
   * arguments name the root does not show (bbl says so after the run, and shows none of them).
   */
  private programSteps(ops: FsOp[], hostView: string): FsOp[] {
    const hidden = (p: string) => this.opts.neverAccess.some((n) => pathIn(p, n));
    this.notShown = this.opts.namedFiles.filter((f) =>
      !hidden(f.path) && !shownAt(ops, hostView, f.path) && !builtAt(ops, f.path)
    );
    const p = this.opts.program;
    // A name the app's PATH finds first among bbl's own programs (/sbxdir/bin) is that one, not the host's.
    const cmd = this.app.argv[0];
    if (p === null || (!cmd.includes("/") && cmd in this.sbxBin())) return [];
    this.app.path = p.path;
    if (shownAt(ops, hostView, p.dest)) return [];
    return [{ kind: "robind", src: hostView + p.src, dest: p.dest }];
  }

  layer(l: TemplateLayer, ctx: Ctx): LayerPlan | null {
    if (l.disabled) return null;
    const unshare = [...new Set(l.unshare ?? [])].filter((ns) =>
      !(ns === "net" && this.opts.net === "host")
    ) as Namespace[];
    const has = (ns: Namespace) => unshare.includes(ns);
    const ids = this.ids(l, ctx);
    const privileged = !l.drop_caps && (has("user") ? ids.uid === 0 : ctx.privileged);
    if (!has("user") && unshare.length > 0 && !ctx.privileged) {
      this.fail(`${l.name}.unshare`, "needs 'user' too: its parent has no capabilities to create namespaces");
    }
    const fs = this.fsOps(l, ctx);
    if (fs.length > 0) {
      if (!has("mnt")) this.fail(`${l.name}.fs`, "a new root needs 'mnt' in unshare");
      if (!privileged) {
        this.fail(
          `${l.name}.fs`,
          "this layer cannot mount: it drops capabilities or is not root in its user namespace",
        );
      }
      if (fs[0].kind !== "tmpfs" || fs[0].dest !== "/") {
        this.fail(`${l.name}.fs`, "the first step must be a tmpfs at /");
      }
      if (ctx.hostView === null) {
        this.fail(
          `${l.name}.fs`,
          "the new root is built in the instance directory, which must be visible (host_at above)",
        );
      }
    }
    if (l.host_at && fs.length === 0) this.fail(`${l.name}.host_at`, "host_at needs a new root (fs)");
    if (l.hostname !== undefined && !has("uts")) this.fail(`${l.name}.hostname`, "a hostname needs 'uts' in unshare");
    const rootMount = fs.length > 0 ? `${ctx.hostView}${this.instanceDir}/${l.name}` : undefined;
    const newDev = fs.find((f) => f.kind === "dev");
    const childCtx: Ctx = {
      hostView: fs.length > 0 ? (l.host_at ?? null) : ctx.hostView,
      uid: ids.uid,
      gid: ids.gid,
      privileged,
      dev: fs.length === 0 ? ctx.dev : newDev ? newDev.dest : null,
      console: fs.length === 0 ? ctx.console : newDev && ctx.console ? `${newDev.dest}/console` : null,
    };
    const env = {
      ...buildEnv({
        host: this.host.env,
        user: this.host.user,
        home: this.host.home,
        shell: this.app.env.SHELL,
        uid: ids.uid,
        keep: l.env?.keep ?? [],
        set: l.env?.set ?? {},
      }),
    };
    for (const k of l.env?.unset ?? []) delete env[k];
    const plan: LayerPlan = {
      name: l.name,
      unshare,
      ...(ids.uidMap ? { uidMap: ids.uidMap, gidMap: ids.gidMap } : {}),
      dropCaps: l.drop_caps ?? false,
      noNewPrivs: l.no_new_privs ?? false,
      ...(rootMount ? { rootMount } : {}),
      fs,
      ...(fs.length > 0
        ? {
          sbxdir: {
            size: this.size(undefined, TMPFS_SIZES.sbxdir, l.name),
            tempSize: this.size(undefined, TMPFS_SIZES.sbxTemp, l.name),
          },
        }
        : {}),
      ...(l.hostname !== undefined ? { hostname: this.sub(l.hostname, `${l.name}.hostname`) } : {}),
      env,
      helpers: (l.helpers ?? []).map((h, i) => ({
        run: h.run.map((a) => this.sub(a, `${l.name}.helpers[${i}].run`)),
        ...(h.wait?.path ? { wait: { path: this.sub(h.wait.path, `${l.name}.helpers[${i}].wait`) } } : {}),
        ...(h.wait?.socket ? { wait: { socket: this.sub(h.wait.socket, `${l.name}.helpers[${i}].wait`) } } : {}),
        ...(h.timeout ? { timeout: h.timeout } : {}),
      })),
      helperSeccomp: l.seccomp ? this.opts.seccomp : null,
      sublayers: [],
    };
    if (has("pid")) plan.session = l.name === this.sessionLayer && this.app.terminal ? "terminal" : "own";
    if (l.name === this.appRoot && this.opts.appimages.length > 0) plan.appimages = this.appImagePlans(l, ctx);
    if (l.name === this.helperLayer) {
      const u = untrustedHelpers(this.opts.desktop, Number(this.vars.uid));
      plan.helpers.push(...appImageHelpers(this.opts.appimages), ...u.helpers);
      Object.assign(plan.env, u.env);
    }
    if (l.name === this.trustedLayer && ctx.hostView !== null) {
      const t = trustedHelpers(this.opts.desktop, this.opts.name, this.where((p) => ctx.hostView + p));
      plan.helpers.push(...t.helpers);
      Object.assign(plan.env, t.env);
    }
    const own = this.sbxBin();
    if (l.name === this.appRoot && Object.keys(own).length > 0) plan.sbxBin = own;
    if (l.app) {
      this.apps.push(l.name);
      if ((l.sublayers ?? []).some((s) => !s.disabled) || fs.length > 0 || plan.helpers.length > 0) {
        this.fail(l.name, "the app layer runs only the app: no fs, helpers or sublayers");
      }
      if (has("pid")) {
        this.fail(
          `${l.name}.unshare`,
          "the app layer cannot have 'pid': the app would be pid 1 with no init; give its parent the pid namespace",
        );
      }
      plan.app = this.app;
      return plan;
    }
    for (const s of l.sublayers ?? []) {
      const p = this.layer(s, childCtx);
      if (p) plan.sublayers.push(p);
    }
    // A layer with nothing to do but exist is left out (BBL's helper layers without helpers).
    if (plan.sublayers.length === 0 && plan.helpers.length === 0) return null;
    // Helpers only: the parent starts them straight into this layer's namespaces, no process of its own.
    if (plan.sublayers.length === 0 && fs.length === 0 && !has("pid") && plan.hostname === undefined && !has("net")) {
      plan.helperOnly = true;
      return plan;
    }
    plan.hostView = ctx.hostView;
    if (plan.sublayers.some((s) => s.app) && !this.opts.seccompAllow.includes("userns")) {
      // Every user namespace bbl creates below this layer counts against its limit; none more can.
      // A helper-only layer has no process of its own: each of its helpers enters a namespace of its own.
      // With nested_sandbox, the app's own sandbox may add exactly that many.
      plan.maxUserNamespaces = plan.sublayers.flatMap(allLayers).filter((s) => s.unshare.includes("user"))
        .reduce((n, s) => n + (s.helperOnly ? s.helpers.length : 1), 0) + this.opts.nestedSandbox;
      if (!fs.some((f) => f.kind === "proc")) {
        this.fail(
          l.name,
          "the app's parent layer must mount proc: it locks nested user namespaces there (or use --seccomp-allow userns)",
        );
      }
    }
    if (has("pid") && !hasProc(plan)) {
      this.fail(`${l.name}.unshare`, "a pid namespace needs a layer at or below it with 'mnt' that mounts proc");
    }
    return joined(plan);
  }

  plan(): LayerPlan {
    const first = this.t.root;
    if (!(first.unshare ?? []).includes("user") || !(first.unshare ?? []).includes("pid")) {
      this.fail(
        `${first.name}.unshare`,
        "the first layer must create 'user' and 'pid' (it is the sandbox's init, which bbl waits on)",
      );
    }
    const root = this.layer(first, {
      hostView: "",
      uid: this.host.uid,
      gid: this.host.gid,
      privileged: false,
      dev: "/dev",
      console: this.host.tty,
    });
    const d = this.opts.desktop;
    if (d.gui.mode === "xephyr" && d.gui.wm && this.helperLayer === null) {
      this.fail("layer", "xephyr_wm needs an untrusted helper layer (seccomp: true) beside the app layer");
    }
    if ((d.gui.mode === "xephyr" || d.dbus.mode === "filter") && this.trustedLayer === null) {
      this.fail(
        "layer",
        "Xephyr and the DBus proxy need a trusted helper layer beside the untrusted side (like layer2a)",
      );
    }
    if (this.apps.length !== 1 || root === null) {
      this.fail(
        "layer",
        this.apps.length === 0
          ? "no layer has app: true (exactly one must)"
          : `more than one app layer: ${this.apps.join(", ")}`,
      );
    }
    if (this.appRoot === null && appRootSteps(this.opts, this.host, this.where((p) => p)).length > 0) {
      this.fail("layer", "no layer builds the app's root (fs above the app layer), which the configuration needs");
    }
    root.sessionKeyring = true;
    // Every layer's process is a program the launcher compiles for the spawn stub's interpreter.
    for (const l of allLayers(root)) {
      const problem = l.app || l.helperOnly ? null : setupProblem(l);
      if (problem) this.fail(l.name, `bbl cannot set this layer up: ${problem}`);
    }
    return root;
  }
}

/**
 * A layer that only creates a user and/or pid namespace over a single sublayer that creates no user
 * namespace (layer1 over layer2, layer2h over layer3) is created in the same clone as that sublayer:
 * the sublayer's namespaces are then owned by the new user namespace exactly as if the layer's own
 * process had created them, and the one process is the init when either has the pid namespace. One
 * process fewer, nothing else changes. Returns the layer to plan: `l`, or its sublayer joined with it.
 */
function joined(l: LayerPlan): LayerPlan {
  const [only] = l.sublayers;
  const bare = l.fs.length === 0 && l.helpers.length === 0 && l.hostname === undefined && !l.dropCaps &&
    !l.noNewPrivs && l.unshare.every((ns) => ns === "user" || ns === "pid");
  if (!bare || l.sublayers.length !== 1 || only.app || only.helperOnly || only.unshare.includes("user")) return l;
  if (l.unshare.includes("pid") && only.unshare.includes("pid")) return l;
  const session = l.session ?? only.session;
  return {
    ...only,
    joined: l.name,
    unshare: [...l.unshare, ...only.unshare],
    ...(l.uidMap ? { uidMap: l.uidMap, gidMap: l.gidMap } : {}),
    ...(session ? { session } : {}),
  };
}

function hasProc(l: LayerPlan): boolean {
  return (l.unshare.includes("mnt") && l.fs.some((f) => f.kind === "proc")) || l.sublayers.some(hasProc);
}

export function buildPlan(opts: RunOptions, host: HostFacts, template: Template): Plan {
  const name = opts.name;
  const uid = opts.uid ?? host.uid;
  const gid = opts.gid ?? host.gid;
  const instance = `${name}-${host.pid}`;
  const instanceDir = `${host.instanceBase}/${instance}`;
  const shell = host.env.SHELL || "/bin/sh";
  const user = uid === 0 ? "root" : host.user;
  const app: AppPlan = {
    argv: opts.command.length > 0 ? opts.command : [shell],
    env: buildEnv({ host: host.env, user, home: host.home, shell, uid, keep: opts.keepenv, set: opts.setenv }),
    cwd: host.cwd,
    home: host.home,
    terminal: host.tty !== null,
    seccomp: opts.seccomp,
    limits: opts.limits,
  };
  const vars: Record<string, string> = {
    home: host.home,
    user,
    uid: String(uid),
    gid: String(gid),
    host_uid: String(host.uid),
    host_gid: String(host.gid),
    instance,
    instance_dir: instanceDir,
    startdir: host.cwd,
    // Where the bbl binary is (from source: the checkout), for configs and apps dropped next to it.
    bbl_dir: bblDir(host.self),
    xdg_runtime_dir: host.env.XDG_RUNTIME_DIR ?? "",
    hostname: opts.hostname ?? DEFAULT_HOSTNAME,
  };
  Object.assign(app.env, appEnv(opts.desktop, uid, host.env));
  if (opts.desktop.gui.mode !== "none") app.env.PATH = `/sbxdir/bin:${app.env.PATH}`;
  for (const k of opts.unsetenv) delete app.env[k];
  const planner = new Planner(template, opts, host, vars, app, instanceDir);
  const root = planner.plan();
  const state = opts.stateDir && (opts.home.mode === "persist" || opts.home.mode === "overlay")
    ? { dir: opts.stateDir, home: opts.home.mode }
    : undefined;
  const xauth = xauthPlan(opts.desktop, instanceDir);
  return {
    version: 1,
    instance,
    instanceDir,
    root,
    ...(xauth ? { xauth } : {}),
    ...(state ? { state } : {}),
    ...(planner.notShown.length > 0 ? { notShown: planner.notShown } : {}),
  };
}
