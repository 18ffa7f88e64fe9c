# bbl spawn stub, x86_64 Linux. Assembled by scripts/gen-stub.ts into src/sys/stub/bytes.ts.
#
# long bbl_spawn(struct spawn_args *a)   (System V: a in rdi; returns child pid or -errno)
#
# Why machine code: Deno cannot fork (V8 marks its heap MADV_DONTFORK) and cannot unshare a user
# namespace (it is multithreaded), so a new process in new namespaces must come from a raw clone whose
# child never returns into JavaScript. The child here touches only this page, the argument page and the
# stack, all of which are ordinary private memory, and makes raw system calls only (no libc: its locks
# may be held by threads that do not exist in the child).
#
# struct spawn_args (every field 8 bytes; layout mirrored in src/sys/spawn.ts):
#    0 flags      clone flags (CLONE_NEW*); SIGCHLD is added here
#    8 path       execve path
#   16 argv       execve argv
#   24 envp       execve envp
#   32 sync_rfd   child blocks on one byte from it; EOF means the parent gave up
#   40 sync_wfd   the write end, closed in the child (so the parent's death reads as EOF); -1: none
#   48 err_wfd    O_CLOEXEC pipe: on failure the child writes {u32 step, i32 errno}
#   56 pdeathsig  signal for PR_SET_PDEATHSIG, 0 for none
#   64 ops        array of struct op, run in order after the sync byte, before execve
#   72 nops       number of ops
#   80 oldmask    scratch: the caller's signal mask
#   88 allmask    all ones: the mask that blocks every signal
#   96 zeroact    32 zero bytes: a kernel sigaction meaning SIG_DFL
#  128 scratch    8 bytes: the sync byte, then the error report
#  136 (unused)
#  144 regs       32 registers: results kept by steps (descriptors, pids), arguments of later ones
#  400 pause      struct timespec slept between the tries of a retried step
#  416 args       scratch: the current step's six arguments, registers substituted
#  464 digits     scratch: a number being written in decimal
#
# struct op (12 words), a small program rather than a list of calls, so that the planner can emit
# a layer's whole setup (descriptors opened by one step and used by later ones, optional steps,
# readiness waits, sub-processes) and this routine stays an interpreter that decides nothing:
#    0 nr         system call number, or a pseudo-step: -1 decimal, -2 skip, -3 skip if zero, -4 store
#    8 a0..a5     arguments
#   56 regargs    bit i: a_i names a register, whose value is passed instead
#   64 dst        register that keeps the result, or -1
#   72 onfail     0 report; 1 ignore; 2 skip n steps when the errno is in the set `err` (bit e:
#                 errno e, below 64), else report;
#                 3 retry up to n times, `pause` apart, while the process in register `err` lives
#                 (it exiting is reported as ECHILD; running out of tries as the last errno)
#   80 err
#   88 n
# Pseudo-steps: decimal writes a0 in decimal at a1 (NUL-terminated: a path or option ending in a
# descriptor number); skip jumps n steps ahead; skip-if-zero does when a0 is 0 (after a clone step:
# the child's branch); store writes a0 as 8 bytes at a1. Steps only jump forward, so every program
# ends.

    .intel_syntax noprefix
    .text
    .globl bbl_spawn
bbl_spawn:
    push rbx                     # callee-saved registers we use
    push r12
    push r13
    push r14
    mov rbx, rdi                 # rbx = &args for the whole routine (both sides)

    # Block every signal across clone: the child must not run a handler installed by the runtime.
    mov eax, 14                  # rt_sigprocmask
    mov edi, 2                   # SIG_SETMASK
    lea rsi, [rbx+88]            # new mask = all ones
    lea rdx, [rbx+80]            # save the caller's mask
    mov r10d, 8                  # sizeof kernel sigset_t
    syscall
    test rax, rax
    js .Lret                     # could not block: return -errno, nothing was created

    mov eax, 56                  # clone(flags, newsp, ptid, ctid, tls)
    mov rdi, [rbx]               # requested namespace flags
    or rdi, 17                   # | SIGCHLD: the parent reaps it like any child
    xor esi, esi                 # newsp = 0: the child runs on its copy of this stack
    xor edx, edx                 # no parent tid
    xor r10d, r10d               # no child tid
    xor r8d, r8d                 # no tls
    syscall
    test rax, rax
    jz .Lchild                   # 0: we are the child

    mov r12, rax                 # parent: keep pid (or -errno)
    mov eax, 14                  # rt_sigprocmask
    mov edi, 2                   # SIG_SETMASK
    lea rsi, [rbx+80]            # back to the caller's mask
    xor edx, edx                 # old mask not wanted
    mov r10d, 8
    syscall
    mov rax, r12                 # return pid or -errno
.Lret:
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

.Lchild:
    # Reset every handler to SIG_DFL: handlers point into the runtime, which does not exist here.
    mov r12d, 1                  # signal number
.Lsig:
    mov eax, 13                  # rt_sigaction
    mov edi, r12d                # signal
    lea rsi, [rbx+96]            # zeroed sigaction = SIG_DFL
    xor edx, edx                 # old action not wanted
    mov r10d, 8                  # sizeof kernel sigset_t
    syscall                      # fails for SIGKILL/SIGSTOP: harmless, ignored
    inc r12d
    cmp r12d, 64
    jbe .Lsig

    mov rsi, [rbx+56]            # pdeathsig
    test rsi, rsi
    jz .Lnopdeath
    mov eax, 157                 # prctl
    mov edi, 1                   # PR_SET_PDEATHSIG
    syscall                      # set before the sync read, so a dead parent is never missed
.Lnopdeath:

    mov rdi, [rbx+40]            # sync_wfd
    test rdi, rdi
    js .Lwait                    # -1: nothing to close
    mov eax, 3                   # close
    syscall

.Lwait:
    xor eax, eax                 # read(sync_rfd, scratch, 1)
    mov rdi, [rbx+32]
    lea rsi, [rbx+128]
    mov edx, 1
    syscall
    cmp rax, -4                  # EINTR (cannot happen with all signals blocked; be safe)
    je .Lwait
    cmp rax, 1
    jne .Lgiveup                 # EOF or error: the parent is gone or gave up
    mov eax, 3                   # close(sync_rfd)
    mov rdi, [rbx+32]
    syscall

    xor r12d, r12d               # r12 = step index
.Lop:
    cmp r12, [rbx+72]
    jae .Lexec                   # all steps done
    imul r13, r12, 96            # r13 = &ops[r12]
    add r13, [rbx+64]
    mov r15, [r13+88]            # r15 = tries left, for a retried step
    xor ecx, ecx                 # copy a0..a5 to args, registers substituted
.Larg:
    mov rax, [r13+8+8*rcx]
    bt qword ptr [r13+56], rcx   # regargs bit i
    jnc .Lplain
    mov rax, [rbx+144+8*rax]     # the register it names
.Lplain:
    mov [rbx+416+8*rcx], rax
    inc ecx
    cmp ecx, 6
    jb .Larg
    mov rax, [r13]
    cmp rax, -1
    je .Ldecimal
    cmp rax, -2
    je .Lskip
    cmp rax, -3
    je .Lskipzero
    cmp rax, -4
    je .Lstore
.Lcall:
    mov rax, [r13]               # nr
    mov rdi, [rbx+416]           # a0..a5
    mov rsi, [rbx+424]
    mov rdx, [rbx+432]
    mov r10, [rbx+440]
    mov r8, [rbx+448]
    mov r9, [rbx+456]
    syscall
    cmp rax, -4095
    jae .Lstepfailed             # unsigned -4095 and above: -errno
    mov rcx, [r13+64]            # dst
    test rcx, rcx
    js .Lnext
    mov [rbx+144+8*rcx], rax     # keep the result
.Lnext:
    inc r12
    jmp .Lop
.Lstepfailed:
    mov rcx, [r13+72]            # onfail
    cmp rcx, 1
    je .Lnext                    # 1: ignored
    cmp rcx, 3
    je .Lretry
    cmp rcx, 2
    jne .Lfail                   # 0: report
    mov rdx, rax
    neg rdx                      # the errno
    cmp rdx, 64
    jae .Lfail                   # 2: no errno this large is in a set
    bt qword ptr [r13+80], rdx
    jnc .Lfail                   # 2: not an errno that means "skip"
.Lskip:
    add r12, [r13+88]            # skip n steps
    jmp .Lnext
.Lskipzero:
    cmp qword ptr [rbx+416], 0
    jne .Lnext
    jmp .Lskip
.Lretry:
    mov r14, rax                 # the failure, reported if no try is left
    mov eax, 61                  # wait4(regs[err], NULL, WNOHANG, NULL): has it exited?
    mov rcx, [r13+80]
    mov rdi, [rbx+144+8*rcx]
    xor esi, esi
    mov edx, 1
    xor r10d, r10d
    syscall
    test rax, rax
    jg .Lexited
    dec r15
    js .Lgaveup
    mov eax, 35                  # nanosleep(&pause, NULL)
    lea rdi, [rbx+400]
    xor esi, esi
    syscall
    jmp .Lcall                   # the same arguments again
.Lexited:
    mov rax, -10                 # ECHILD: the process waited for has exited
    jmp .Lfail
.Lgaveup:
    mov rax, r14
    jmp .Lfail
.Lstore:
    mov rax, [rbx+416]           # a0 stored as 8 bytes at a1 (an ioctl's int argument)
    mov rdi, [rbx+424]
    mov [rdi], rax
    jmp .Lnext
.Ldecimal:
    mov rax, [rbx+416]           # the number
    lea rsi, [rbx+488]           # digits are written backwards from here
    mov byte ptr [rsi], 0
    mov ecx, 10
.Ldigit:
    xor edx, edx
    div rcx                      # rax = rax / 10, rdx = the digit
    add dl, 48                   # '0'
    dec rsi
    mov [rsi], dl
    test rax, rax
    jnz .Ldigit
    mov rdi, [rbx+424]           # the destination
.Lcopy:
    mov al, [rsi]                # copy the digits and the NUL
    mov [rdi], al
    inc rsi
    inc rdi
    test al, al
    jnz .Lcopy
    jmp .Lnext

.Lexec:
    mov eax, 14                  # rt_sigprocmask: the program starts with no signal blocked
    mov edi, 2
    lea rsi, [rbx+96]            # zeroact's first 8 bytes: the empty set
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 59                  # execve(path, argv, envp)
    mov rdi, [rbx+8]
    mov rsi, [rbx+16]
    mov rdx, [rbx+24]
    syscall                      # returns only on failure; r12 == number of steps marks "execve"

.Lfail:
    neg eax                      # -errno -> errno
    mov dword ptr [rbx+128], r12d  # step
    mov dword ptr [rbx+132], eax   # errno
    mov eax, 1                   # write(err_wfd, scratch, 8)
    mov rdi, [rbx+48]
    lea rsi, [rbx+128]
    mov edx, 8
    syscall
    mov edi, 127                 # like a shell: the command could not be run
    jmp .Lexit
.Lgiveup:
    mov edi, 1
.Lexit:
    mov eax, 231                 # exit_group
    syscall
