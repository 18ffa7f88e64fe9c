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

    mov x20, #0                  // x20 = op index
    ldr x21, [x19, #64]          // x21 = &ops[0]
.Lop:
    ldr x9, [x19, #72]
    cmp x20, x9
    b.hs .Lexec                  // all ops done
    ldr x8, [x21]                // nr
    ldp x0, x1, [x21, #8]        // a0, a1
    ldp x2, x3, [x21, #24]       // a2, a3
    ldp x4, x5, [x21, #40]       // a4, a5
    ldr x9, [x21, #56]           // flags
    tbz x9, #2, .Lcall
    ldr x0, [x19, #144]          // flag 4: a0 is the result an earlier step kept
.Lcall:
    svc #0
    cmn x0, #4095
    b.hs .Lstepfailed            // carry: in [-4095, -1], -errno
    ldr x9, [x21, #56]
    tbz x9, #1, .Lnext
    str x0, [x19, #144]          // flag 2: keep the result for later steps
    b .Lnext
.Lstepfailed:
    ldr x9, [x21, #56]
    tbz x9, #0, .Lfail           // a required step failed: report it
.Lnext:
    add x21, x21, #64
    add x20, x20, #1
    b .Lop

.Lexec:
    mov x8, #135                 // rt_sigprocmask: the program starts with execmask
    mov x0, #2
    add x1, x19, #136
    mov x2, #0
    mov x3, #8
    svc #0
    mov x8, #221                 // execve(path, argv, envp)
    ldr x0, [x19, #8]
    ldr x1, [x19, #16]
    ldr x2, [x19, #24]
    svc #0                       // returns only on failure; x20 == nops marks "execve"

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
