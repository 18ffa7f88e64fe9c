/**
 * A seccomp policy from a YAML file (`--seccomp FILE`), replacing the default one:
 *
 *   rules:
 *     - { syscall: ptrace, errno: EPERM }
 *     - { syscall: socket, errno: EPERM, when: { arg: 0, op: not-in, values: [1, 2, 10, 16] } }
 *
 * Checked completely (syscall names for this architecture, errno names, conditions) before anything runs.
 */
import type { Policy, Rule } from "./policy.ts";
import { SYSCALLS } from "./syscalls.ts";
import { errnoName } from "../sys/errno.ts";
import { UsageError } from "../errors.ts";
import { didYouMean, yaml } from "../yaml.ts";

const ERRNOS: Record<string, number> = Object.fromEntries(
  Array.from({ length: 134 }, (_, i) => [errnoName(i), i]).filter(([name]) => !String(name).startsWith("errno")),
);

export function parsePolicy(text: string, file: string): Policy {
  let data: unknown;
  try {
    data = yaml().parse(text);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  const rules = (data as { rules?: unknown })?.rules;
  if (!Array.isArray(rules)) throw new UsageError(`${file}: expected a mapping with a list 'rules'`);
  const names = Object.keys(SYSCALLS.x86_64);
  return {
    rules: rules.map((r: Record<string, unknown>, i): Rule => {
      const at = `${file}: rules[${i}]`;
      if (typeof r?.syscall !== "string" || !(r.syscall in SYSCALLS.x86_64 || r.syscall in SYSCALLS.aarch64)) {
        throw new UsageError(
          `${at}.syscall: unknown system call '${r?.syscall}'${didYouMean(String(r?.syscall), names)}`,
        );
      }
      if (typeof r.errno !== "string" || !(r.errno in ERRNOS)) {
        throw new UsageError(`${at}.errno: expected an errno name such as EPERM, got '${r.errno}'`);
      }
      const rule: Rule = { syscall: r.syscall, action: { errno: ERRNOS[r.errno] } };
      if (r.when !== undefined) {
        const w = r.when as Record<string, unknown>;
        const values = w.values;
        const ok = Number.isInteger(w.arg) && (w.arg as number) >= 0 && (w.arg as number) <= 5 &&
          ["any-bit", "in", "not-in"].includes(w.op as string) && Array.isArray(values) &&
          values.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) &&
          (w.op !== "any-bit" || values.length === 1);
        if (!ok) {
          throw new UsageError(`${at}.when: expected {arg: 0-5, op: any-bit|in|not-in, values: [32-bit numbers]}`);
        }
        rule.when = { arg: w.arg as number, op: w.op as "any-bit" | "in" | "not-in", values: values as number[] };
      }
      return rule;
    }),
  };
}
