/** The spawn step that installs a policy's filter: the last step before execve (after no_new_privs). */
import type { SpawnOp } from "../sys/spawn.ts";
import { nr } from "../sys/consts.ts";
import { compile, encode } from "./bpf.ts";
import type { Policy } from "./policy.ts";

const SECCOMP_SET_MODE_FILTER = 1;

export function seccompOp(policy: Policy): SpawnOp {
  const arch = Deno.build.arch as "x86_64" | "aarch64";
  const filter = encode(compile(policy, arch));
  return { what: "installing the seccomp filter", nr: nr("seccomp"), args: [SECCOMP_SET_MODE_FILTER, 0, { filter }] };
}
