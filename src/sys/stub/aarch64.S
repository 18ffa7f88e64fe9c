// bbl spawn stub, aarch64 Linux. Same contract and struct layout as x86_64.S (read that file first);
// assembled by scripts/gen-stub.ts with aarch64-linux-gnu-as when present.
//
// long bbl_spawn(struct spawn_args *a)   (AAPCS64: a in x0; returns child pid or -errno)

    .text
    .globl bbl_spawn
bbl_spawn:
    stp x19, x20, [sp, #-32]!    // callee-saved registers we use
    stp x21, x22, [sp, #16]
    mov x19, x0                  // x19 = &args for the whole routine

    mov x8, #135                 // rt_sigprocmask: block everything across clone
    mov x0, #2                   // SIG_SETMASK
    add x1, x19, #88             // new mask = all ones
    add x2, x19, #80             // save the caller's mask
    mov x3, #8                   // sizeof kernel sigset_t
    svc #0
    tbnz x0, #63, .Lret          // could not block: return -errno

    mov x8, #220                 // clone(flags, newsp, ptid, tls, ctid)
    ldr x0, [x19]                // requested namespace flags
    mov x9, #17                  // SIGCHLD
    orr x0, x0, x9
    mov x1, #0                   // newsp = 0: the child runs on its copy of this stack
    mov x2, #0
    mov x3, #0
    mov x4, #0
    svc #0
    cbz x0, .Lchild              // 0: we are the child

    mov x20, x0                  // parent: keep pid (or -errno)
    mov x8, #135                 // rt_sigprocmask: back to the caller's mask
    mov x0, #2
    add x1, x19, #80
    mov x2, #0
    mov x3, #8
    svc #0
    mov x0, x20
.Lret:
    ldp x21, x22, [sp, #16]
    ldp x19, x20, [sp], #32
    ret

.Lchild:
    mov x20, #1                  // reset every handler to SIG_DFL
.Lsig:
    mov x8, #134                 // rt_sigaction(sig, zeroact, NULL, 8)
    mov x0, x20
    add x1, x19, #96
    mov x2, #0
    mov x3, #8
    svc #0                       // fails for SIGKILL/SIGSTOP: ignored
    add x20, x20, #1
    cmp x20, #64
    b.ls .Lsig

    ldr x1, [x19, #56]           // pdeathsig
    cbz x1, .Lnopdeath
    mov x8, #167                 // prctl(PR_SET_PDEATHSIG, sig)
    mov x0, #1
    svc #0
.Lnopdeath:

    ldr x0, [x19, #40]           // sync_wfd: close our copy so a dead parent reads as EOF
    tbnz x0, #63, .Lwait
    mov x8, #57                  // close
    svc #0

.Lwait:
    mov x8, #63                  // read(sync_rfd, scratch, 1)
    ldr x0, [x19, #32]
    add x1, x19, #128
    mov x2, #1
    svc #0
    cmn x0, #4                   // EINTR: retry
    b.eq .Lwait
    cmp x0, #1
    b.ne .Lgiveup                // EOF or error: the parent is gone
    mov x8, #57                  // close(sync_rfd)
    ldr x0, [x19, #32]
    svc #0

    mov x20, #0                  // x20 = step index
.Lop:
    ldr x9, [x19, #72]
    cmp x20, x9
    b.hs .Lexec                  // all steps done
    ldr x21, [x19, #64]
    mov x9, #96
    madd x21, x20, x9, x21       // x21 = &ops[x20]
    ldr x22, [x21, #88]          // x22 = tries left, for a retried step
    ldr x10, [x21, #56]          // regargs
    mov x11, #0                  // copy a0..a5 to args, registers substituted
.Larg:
    add x12, x21, #8
    ldr x9, [x12, x11, lsl #3]
    lsr x13, x10, x11
    tbz x13, #0, .Lplain         // regargs bit i
    add x12, x19, #144
    ldr x9, [x12, x9, lsl #3]    // the register it names
.Lplain:
    add x12, x19, #416
    str x9, [x12, x11, lsl #3]
    add x11, x11, #1
    cmp x11, #6
    b.lo .Larg
    ldr x9, [x21]
    cmn x9, #1
    b.eq .Ldecimal
    cmn x9, #2
    b.eq .Lskip
    cmn x9, #3
    b.eq .Lskipzero
    cmn x9, #4
    b.eq .Lstore
.Lcall:
    ldr x8, [x21]                // nr
    ldp x0, x1, [x19, #416]      // a0..a5
    ldp x2, x3, [x19, #432]
    ldp x4, x5, [x19, #448]
    svc #0
    cmn x0, #4095
    b.hs .Lstepfailed            // carry: in [-4095, -1], -errno
    ldr x9, [x21, #64]           // dst
    tbnz x9, #63, .Lnext
    add x12, x19, #144
    str x0, [x12, x9, lsl #3]    // keep the result
.Lnext:
    add x20, x20, #1
    b .Lop
.Lstepfailed:
    ldr x9, [x21, #72]           // onfail
    cmp x9, #1
    b.eq .Lnext                  // 1: ignored
    cmp x9, #3
    b.eq .Lretry
    cmp x9, #2
    b.ne .Lfail                  // 0: report
    neg x10, x0                  // the errno
    cmp x10, #64
    b.hs .Lfail                  // 2: no errno this large is in a set
    ldr x9, [x21, #80]
    lsr x9, x9, x10
    tbz x9, #0, .Lfail           // 2: not an errno that means "skip"
.Lskip:
    ldr x9, [x21, #88]           // skip n steps
    add x20, x20, x9
    b .Lnext
.Lskipzero:
    ldr x9, [x19, #416]
    cbnz x9, .Lnext
    b .Lskip
.Lretry:
    mov x23, x0                  // the failure, reported if no try is left
    mov x8, #260                 // wait4(regs[err], NULL, WNOHANG, NULL): has it exited?
    ldr x9, [x21, #80]
    add x12, x19, #144
    ldr x0, [x12, x9, lsl #3]
    mov x1, #0
    mov x2, #1
    mov x3, #0
    svc #0
    cmp x0, #0
    b.gt .Lexited
    subs x22, x22, #1
    b.mi .Lgaveup
    mov x8, #101                 // nanosleep(&pause, NULL)
    add x0, x19, #400
    mov x1, #0
    svc #0
    b .Lcall                     // the same arguments again
.Lexited:
    mov x0, #-10                 // ECHILD: the process waited for has exited
    b .Lfail
.Lgaveup:
    mov x0, x23
    b .Lfail
.Lstore:
    ldp x9, x10, [x19, #416]     // a0 stored as 8 bytes at a1 (an ioctl's int argument)
    str x9, [x10]
    b .Lnext
.Ldecimal:
    ldr x9, [x19, #416]          // the number
    add x12, x19, #488           // digits are written backwards from here
    strb wzr, [x12]
    mov x13, #10
.Ldigit:
    udiv x14, x9, x13            // x14 = x9 / 10
    msub x15, x14, x13, x9       // x15 = the digit
    add x15, x15, #48            // '0'
    sub x12, x12, #1
    strb w15, [x12]
    mov x9, x14
    cbnz x9, .Ldigit
    ldr x10, [x19, #424]         // the destination
.Lcopy:
    ldrb w9, [x12], #1           // copy the digits and the NUL
    strb w9, [x10], #1
    cbnz w9, .Lcopy
    b .Lnext

.Lexec:
    mov x8, #135                 // rt_sigprocmask: the program starts with no signal blocked
    mov x0, #2
    add x1, x19, #96             // zeroact's first 8 bytes: the empty set
    mov x2, #0
    mov x3, #8
    svc #0
    mov x8, #221                 // execve(path, argv, envp)
    ldr x0, [x19, #8]
    ldr x1, [x19, #16]
    ldr x2, [x19, #24]
    svc #0                       // returns only on failure; x20 == number of steps marks "execve"

.Lfail:
    neg w9, w0                   // -errno -> errno
    str w20, [x19, #128]         // step
    str w9, [x19, #132]          // errno
    mov x8, #64                  // write(err_wfd, scratch, 8)
    ldr x0, [x19, #48]
    add x1, x19, #128
    mov x2, #8
    svc #0
    mov x0, #127                 // like a shell: the command could not be run
    b .Lexit
.Lgiveup:
    mov x0, #1
.Lexit:
    mov x8, #94                  // exit_group
    svc #0
