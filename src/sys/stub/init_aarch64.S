// bbl init, aarch64 Linux. Same contract as init_x86_64.S (read that file first); assembled by
// scripts/gen-stub.ts with aarch64-linux-gnu-as when present.
//
//   bbl-init PID MASK    (decimal)

    .text
    .globl _start
_start:
    mov x19, sp                  // x19: argc at [x19], argv[i] at [x19+8+8*i]
    sub sp, sp, #256             // scratch: [sp] signal set, [sp+8] status, [sp+16] capset, [sp+64] siginfo
    ldr x0, [x19, #16]           // argv[1]
    bl .Lnumber
    mov x20, x0                  // x20 = the pid to wait for
    ldr x0, [x19, #24]           // argv[2]
    bl .Lnumber
    mov x21, x0                  // x21 = the mask of forwarded signals

    mov x9, #-1                  // every signal
    str x9, [sp]
    mov x8, #135                 // rt_sigprocmask(SIG_BLOCK, &all, NULL, 8)
    mov x0, #0                   // SIG_BLOCK
    mov x1, sp
    mov x2, #0
    mov x3, #8
    svc #0

    mov x8, #436                 // close_range(3, ~0, 0): keep only the sandbox's stdio
    mov x0, #3
    mov x1, #-1
    mov x2, #0
    svc #0

    mov x8, #74                  // signalfd4(-1, &all, 8, SFD_CLOEXEC)
    mov x0, #-1
    mov x1, sp
    mov x2, #8
    mov x3, #0x80000
    svc #0
    tbnz x0, #63, .Lfailed
    mov x22, x0                  // x22 = the signalfd

    mov x8, #167                 // prctl(PR_SET_NAME, "bbl-init")
    mov x0, #15
    adr x1, .Lname
    svc #0

    mov x23, #0                  // x23 = capability number
.Lbounding:
    mov x8, #167                 // prctl(PR_CAPBSET_DROP, cap): EINVAL past the last one, ignored
    mov x0, #24
    mov x1, x23
    svc #0
    add x23, x23, #1
    cmp x23, #64
    b.lo .Lbounding
    mov x8, #167                 // prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    mov x0, #47
    mov x1, #4
    mov x2, #0
    mov x3, #0
    mov x4, #0
    svc #0
    mov w9, #0x0522              // capset header: _LINUX_CAPABILITY_VERSION_3 = 0x20080522
    movk w9, #0x2008, lsl #16
    str w9, [sp, #16]
    str wzr, [sp, #20]           // pid 0: this process
    stp xzr, xzr, [sp, #24]      // data[0..1]: all zero
    str xzr, [sp, #40]
    mov x8, #91                  // capset(&header, &data)
    add x0, sp, #16
    add x1, sp, #24
    svc #0
    tbnz x0, #63, .Lfailed
    mov x8, #167                 // prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    mov x0, #38
    mov x1, #1
    mov x2, #0
    mov x3, #0
    mov x4, #0
    svc #0
    tbnz x0, #63, .Lfailed
    mov x8, #167                 // prctl(PR_SET_DUMPABLE, 0)
    mov x0, #4
    mov x1, #0
    svc #0

.Lreap:
    mov x8, #260                 // wait4(-1, &status, WNOHANG, NULL)
    mov x0, #-1
    add x1, sp, #8
    mov x2, #1
    mov x3, #0
    svc #0
    cbz x0, .Lsignal             // children left, none exited
    tbnz x0, #63, .Lfailed       // ECHILD: PID is gone without being seen
    cmp x0, x20
    b.ne .Lreap                  // an orphan: reaped, look again
    ldr w9, [sp, #8]             // PID's wait status
    ands w0, w9, #0x7f           // the terminating signal, 0 for a normal exit
    b.eq .Lexited
    add w0, w0, #128             // killed by signal N: 128+N
    b .Lexit
.Lexited:
    ubfx w0, w9, #8, #8          // exit code: bits 8-15
    b .Lexit

.Lsignal:
    mov x8, #63                  // read(signalfd, &siginfo, 128)
    mov x0, x22
    add x1, sp, #64
    mov x2, #128
    svc #0
    cmp x0, #128
    b.ne .Lreap
    ldr w1, [sp, #64]            // ssi_signo
    cmp w1, #17                  // SIGCHLD: reap
    b.eq .Lreap
    lsr x9, x21, x1              // forwarded? bit signo of the mask
    tbz x9, #0, .Lreap
    mov x8, #129                 // kill(PID, signo)
    mov x0, x20
    svc #0
    b .Lreap

.Lfailed:
    mov x0, #125                 // bbl's own failure
.Lexit:
    mov x8, #94                  // exit_group(code)
    svc #0

// The decimal number at x0 (NUL-terminated) in x0; uses x9, x10.
.Lnumber:
    mov x9, x0
    mov x0, #0
.Ldigit:
    ldrb w10, [x9], #1
    sub w10, w10, #48            // '0'
    cmp w10, #9
    b.hi .Ldone                  // NUL or not a digit: the end
    mov x11, #10
    madd x0, x0, x11, x10        // x0 = x0 * 10 + digit
    b .Ldigit
.Ldone:
    ret

.Lname:
    .asciz "bbl-init"
