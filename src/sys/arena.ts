/**
 * A bump allocator over a private anonymous mmap. Data a cloned child reads (the stub's arguments) must
 * live here and never in a V8 ArrayBuffer, whose memory may be MADV_DONTFORK and absent in the child.
 */
import { check, cstr, errno, libc } from "./libc.ts";
import { SysError } from "./errno.ts";

const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

export function mapAnonymous(size: number, what: string): Deno.PointerObject {
  const p = libc.mmap(BigInt(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  if (p === -1n) throw new SysError(what, errno(), "mmap");
  return Deno.UnsafePointer.create(p)!;
}

/** Copies machine code into a fresh page and makes it read+execute (never writable and executable). */
export function mapCode(code: Uint8Array, what: string): Deno.PointerObject {
  const p = mapAnonymous(code.length, what);
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, code.length)).set(code);
  check(libc.mprotect(p, BigInt(code.length), PROT_READ | PROT_EXEC), what, "mprotect");
  return p;
}

export class Arena {
  readonly base: Deno.PointerObject;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  private used = 0;
  /** The address of offset 0 where the bytes are used. */
  private readonly origin: bigint;

  /**
   * `at`: the address the bytes will have where they are used, when that is not here (an image
   * loaded by another process: the tests run the stub on another architecture that way).
   */
  constructor(readonly size: number, at?: bigint) {
    this.base = mapAnonymous(size, "allocating memory for a new process");
    const buf = Deno.UnsafePointerView.getArrayBuffer(this.base, size);
    this.view = new DataView(buf);
    this.bytes = new Uint8Array(buf);
    this.origin = at ?? BigInt(Deno.UnsafePointer.value(this.base));
  }

  /** Reserves n bytes (8-aligned) and returns their offset. */
  alloc(n: number): number {
    const off = this.used;
    this.used = (this.used + n + 7) & ~7;
    if (this.used > this.size) throw new Error(`internal: a program larger than ${this.size >> 20} MiB`);
    return off;
  }

  addr(off: number): bigint {
    return this.origin + BigInt(off);
  }

  /** The bytes used so far. */
  image(): Uint8Array {
    return this.bytes.slice(0, this.used);
  }

  /** Copies bytes in and returns their address. */
  put(data: Uint8Array): bigint {
    const off = this.alloc(data.length);
    this.bytes.set(data, off);
    return this.addr(off);
  }

  putString(s: string): bigint {
    return this.put(cstr(s));
  }

  /** A NULL-terminated array of string pointers (argv/envp). */
  putStrings(list: string[]): bigint {
    const ptrs = list.map((s) => this.putString(s));
    const off = this.alloc(8 * (ptrs.length + 1));
    ptrs.forEach((p, i) => this.view.setBigUint64(off + 8 * i, p, true));
    this.view.setBigUint64(off + 8 * ptrs.length, 0n, true);
    return this.addr(off);
  }

  free(): void {
    libc.munmap(this.base, BigInt(this.size));
  }
}
