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
#  136 execmask   the signal mask the program starts with (an init's runner: the signals its
#                 native init reads, kept pending until then)
#  144 saved      the result a step kept (flag 2), passed as a0 to steps with flag 4 (a descriptor
#                 opened by one step and written or closed by the next)
#
# struct op (8 words): nr, a0..a5, flags (bit 0: ignore failure; bit 1: keep the result in saved;
# bit 2: a0 is saved). A step is a plain system call, so the TypeScript side decides and documents
# what the child does (prctl, capset, setsid, dup2, writing its own id maps, ...).

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

    xor r12d, r12d               # r12 = op index
    mov r13, [rbx+64]            # r13 = &ops[0]
.Lop:
    cmp r12, [rbx+72]
    jae .Lexec                   # all ops done
    mov rax, [r13]               # nr
    mov rdi, [r13+8]             # a0
    mov rsi, [r13+16]            # a1
    mov rdx, [r13+24]            # a2
    mov r10, [r13+32]            # a3
    mov r8, [r13+40]             # a4
    mov r9, [r13+48]             # a5
    test qword ptr [r13+56], 4
    jz .Lcall
    mov rdi, [rbx+144]           # flag 4: a0 is the result an earlier step kept
.Lcall:
    syscall
    cmp rax, -4095
    jae .Lstepfailed             # unsigned -4095 and above: -errno
    test qword ptr [r13+56], 2
    jz .Lnext
    mov [rbx+144], rax           # flag 2: keep the result for later steps
    jmp .Lnext
.Lstepfailed:
    test qword ptr [r13+56], 1
    jz .Lfail                    # a required step failed: report it
.Lnext:
    add r13, 64                  # next op
    inc r12
    jmp .Lop

.Lexec:
    mov eax, 14                  # rt_sigprocmask: the program starts with execmask
    mov edi, 2
    lea rsi, [rbx+136]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 59                  # execve(path, argv, envp)
    mov rdi, [rbx+8]
    mov rsi, [rbx+16]
    mov rdx, [rbx+24]
    syscall                      # returns only on failure; r12 == nops marks "execve"

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
