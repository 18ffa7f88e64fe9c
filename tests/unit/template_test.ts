/** Bad templates are refused before anything runs, with file:line:column and the offending key. */
import assert from "node:assert/strict";
import { parseTemplate, substitute } from "../../src/plan/template.ts";
import { didYouMean } from "../../src/yaml.ts";
import { buildPlan } from "../../src/plan/plan.ts";
import { UsageError } from "../../src/errors.ts";
import { host, runOptions } from "./fixtures.ts";
import { DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_TEXT } from "../../src/plan/default_template.ts";

const run = (yaml: string, seccompAllow: string[] = []) =>
  buildPlan(
    runOptions({ command: ["x"], seccomp: null, seccompAllow }),
    host,
    parseTemplate(yaml, "t.yaml"),
  );
const refuses = (yaml: string, msg: RegExp, allow: string[] = []) =>
  assert.throws(() => run(yaml, allow), (e: unknown) => e instanceof UsageError && msg.test(e.message), msg.source);

const OK = `
layer:
  name: top
  unshare: [user, pid, mnt]
  fs:
    - { kind: tmpfs, dest: / }
    - { kind: proc, dest: /proc }
  host_at: /h
  sublayers:
    - { name: app, app: true, unshare: [user], ids: user }
`;

Deno.test("a minimal valid template plans", () => {
  const p = run(OK);
  assert.equal(p.root.sublayers[0].name, "app");
});

Deno.test("unknown kinds, keys and namespaces: located, with a suggestion", () => {
  refuses(
    OK.replace("kind: proc", "kind: robnd"),
    /^t\.yaml:7:15: top\.fs\[1\]\.kind: unknown kind 'robnd' \(did you mean 'robind'\?\)$/,
  );
  refuses(OK.replace("host_at:", "hots_at:"), /^t\.yaml:8:3: top\.hots_at: unknown key \(did you mean 'host_at'\?\)$/);
  refuses(
    OK.replace("[user, pid, mnt]", "[user, pid, mnt, nett]"),
    /t\.yaml:4:29: top\.unshare\[3\]: unknown namespace 'nett' \(did you mean 'net'\?\)/,
  );
  refuses(
    OK.replace("{ kind: tmpfs, dest: / }", "{ kind: tmpfs, dest: /, src: /x }"),
    /top\.fs\[0\]\.src: 'tmpfs' takes no 'src'/,
  );
});

Deno.test("every value of the wrong type: located, never an internal error", () => {
  const helper = (h: string) => OK.replace("  sublayers:\n", `  helpers: [${h}]\n  sublayers:\n`);
  const cases: [string, RegExp][] = [
    [
      OK.replace("{ kind: proc, dest: /proc }", "{ kind: bind, src: 5, dest: /x }"),
      /^t\.yaml:7:26: top\.fs\[1\]\.src: expected a string, got a number$/,
    ],
    [
      OK.replace("{ kind: proc, dest: /proc }", "{ kind: proc, dest: 5 }"),
      /^t\.yaml:7:27: top\.fs\[1\]\.dest: expected a string, got a number$/,
    ],
    [
      OK.replace("{ kind: proc, dest: /proc }", "{ kind: tmp-overlay, dest: /o, lower: /x }"),
      /top\.fs\[1\]\.lower: expected a list of strings, got a string/,
    ],
    [
      OK.replace("{ kind: proc, dest: /proc }", "{ kind: bind, src: /a, dest: /b, optional: yes }"),
      /top\.fs\[1\]\.optional: expected true or false, got a string/,
    ],
    [
      OK.replace("{ kind: tmpfs, dest: / }", "{ kind: tmpfs, dest: /, size: [1] }"),
      /top\.fs\[0\]\.size: expected a string or a number, got a list/,
    ],
    [OK.replace("{ kind: tmpfs, dest: / }", "[tmpfs]"), /top\.fs\[0\]: expected a mapping, got a list/],
    [
      helper("{ run: [x], wait: { path: 7 } }"),
      /^t\.yaml:9:39: top\.helpers\[0\]\.wait\.path: expected a string, got a number$/,
    ],
    [helper("{ run: [x], wait: 7 }"), /top\.helpers\[0\]\.wait: expected \{path: P\} or \{socket: S\}/],
    [helper("{ run: [x], timeout: soon }"), /top\.helpers\[0\]\.timeout: expected a number of seconds above 0/],
    [helper("x"), /top\.helpers\[0\]: expected a mapping, got a string/],
    [
      OK.replace("  sublayers:\n", "  env: { set: { A: [1] } }\n  sublayers:\n"),
      /top\.env\.set\.A: expected a string, got a list/,
    ],
    [
      OK.replace("  sublayers:\n", "  env: { keep: HOME }\n  sublayers:\n"),
      /top\.env\.keep: expected a list of names, got a string/,
    ],
    [OK.replace("  sublayers:\n", "  env: [a]\n  sublayers:\n"), /top\.env: expected a mapping with set\/unset\/keep/],
  ];
  for (const [yaml, msg] of cases) refuses(yaml, msg);
});

Deno.test("explicit id maps: one id each way, the parent's own", () => {
  const withIds = (ids: string) =>
    OK.replace(
      "{ name: app, app: true, unshare: [user], ids: user }",
      `{ name: app, app: true, unshare: [user], ids: ${ids} }`,
    );
  const p = run(withIds("{ uid: [[7, 0, 1]], gid: [[8, 0, 1]] }"));
  assert.deepEqual(p.root.sublayers[0].uidMap, [{ inside: 7, outside: 0, count: 1 }]);
  refuses(
    withIds("{ uid: [[0, 0, 1], [1, 100000, 65536]], gid: [[0, 0, 1]] }"),
    /app\.ids: each map is one id, the parent's own/,
  );
  refuses(withIds("{ uid: [[0, 0, 10]], gid: [[0, 0, 1]] }"), /app\.ids: each map is one id/);
  refuses(
    withIds("{ uid: [[0, 5, 1]], gid: [[0, 0, 1]] }"),
    /app\.ids: each map is one id, the parent's own: \{uid: \[\[N, 0, 1\]\]/,
  );
});

Deno.test("structural rules", () => {
  // duplicate names
  refuses(OK.replace("name: app,", "name: top,"), /top\.name: duplicate layer name/);
  // two app layers
  refuses(OK + "    - { name: app2, app: true, unshare: [user], ids: user }\n", /more than one app layer: app, app2/);
  // no app layer
  refuses(OK.replace("app: true, ", ""), /no layer has app: true/);
  // without proc: the app's parent cannot lock nested user namespaces, and the pid namespace has no /proc
  const noProc = OK.replace("    - { kind: proc, dest: /proc }\n", "");
  refuses(noProc, /top: the app's parent layer must mount proc: it locks nested user namespaces there/);
  refuses(noProc, /top\.unshare: a pid namespace needs a layer at or below it with 'mnt' that mounts proc/, ["userns"]);
  // a new root without mnt
  refuses(OK.replace("[user, pid, mnt]", "[user, pid]"), /top\.fs: a new root needs 'mnt'/);
  // the app layer with pid
  refuses(
    OK.replace("unshare: [user], ids: user }", "unshare: [user, pid], ids: user }"),
    /app\.unshare: the app layer cannot have 'pid'/,
  );
  // a layer that drops caps cannot mount
  refuses(OK.replace("  host_at: /h", "  host_at: /h\n  drop_caps: true"), /top\.fs: this layer cannot mount/);
  // the first layer must be the init
  refuses(OK.replace("[user, pid, mnt]", "[user, mnt]"), /top\.unshare: the first layer must create 'user' and 'pid'/);
  // reserved destinations and relative paths
  refuses(OK.replace("dest: /proc", "dest: /sbxdir/x"), /top\.fs\[1\]\.dest: \/sbxdir\/x is reserved for bbl/);
  refuses(OK.replace("dest: /proc", "dest: proc"), /top\.fs\[1\]\.dest: 'proc' is not an absolute path/);
});

Deno.test("cycles through YAML aliases are refused", () => {
  const cyclic = `
layer: &top
  name: top
  unshare: [user, pid]
  sublayers: [*top]
`;
  assert.throws(
    () => parseTemplate(cyclic, "c.yaml"),
    (e: unknown) => e instanceof UsageError && /cycle|contain itself/.test(e.message),
  );
});

Deno.test("YAML syntax errors give file:line:column", () => {
  assert.throws(
    () => parseTemplate("layer:\n  name: [a\n", "s.yaml"),
    (e: unknown) => e instanceof UsageError && /^s\.yaml:\d+:\d+: /.test(e.message),
  );
});

Deno.test("variables: known ones substituted, unknown ones refused with a suggestion", () => {
  const where = () => "here";
  assert.equal(substitute("${home}/x$${y}", { home: "/h" }, where), "/h/x${y}");
  assert.throws(
    () => substitute("${hme}", { home: "/h" }, where),
    /here: unknown variable \$\{hme\} \(did you mean 'home'\?\)/,
  );
  assert.equal(didYouMean("zzzzzz", ["bind"]), "");
});

Deno.test("the embedded template module is templates/default.yaml, parsed (scripts/deno task gen-template)", () => {
  const text = Deno.readTextFileSync(new URL("../../templates/default.yaml", import.meta.url));
  assert.equal(DEFAULT_TEMPLATE_TEXT, text, "regenerate src/plan/default_template.ts");
  assert.deepEqual(DEFAULT_TEMPLATE, parseTemplate(text, "default.yaml"), "regenerate src/plan/default_template.ts");
});
