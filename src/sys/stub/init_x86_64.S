# bbl init, x86_64 Linux: the resident pid 1 of a sandbox's pid namespace. Assembled by
# scripts/gen-stub.ts into src/sys/stub/bytes.ts; src/sys/init_elf.ts wraps it in an ELF image that a
# layer's process execs from a memfd once the process below it exists (src/layer/compile.ts).
#
# Why: a Deno runtime has several threads, and capset/prctl act on one thread only; this init is one
# thread, so the capabilities it drops and no_new_privs are true of the whole process. It also holds
# no host path (its command line is its own), no descriptor but 0-2, and tens of kilobytes of memory.
#
#   bbl-init PID MASK    (decimal)
#
# Like bubblewrap's do_init: every signal is blocked and read from a signalfd; those in MASK (bit N:
# signal N) are forwarded to PID (the app, or the init of a nested pid namespace); SIGCHLD reaps every
# exited child (orphans included); when PID exits, exit with its status (128+N when killed by signal N).
# No libc: raw system calls only. Position-independent: the constant name below is read rip-relative.

    .intel_syntax noprefix
    .text
    .globl _start
_start:
    mov rbx, rsp                 # rbx: argc at [rbx], argv[i] at [rbx+8+8*i]
    sub rsp, 256                 # scratch: [rsp] signal set, [rsp+8] status, [rsp+16] capset header+data, [rsp+64] siginfo
    mov rdi, [rbx+16]            # argv[1]
    call .Lnumber
    mov r12, rax                 # r12 = the pid to wait for
    mov rdi, [rbx+24]            # argv[2]
    call .Lnumber
    mov r13, rax                 # r13 = the mask of forwarded signals

    mov qword ptr [rsp], -1      # every signal
    mov eax, 14                  # rt_sigprocmask(SIG_BLOCK, &all, NULL, 8): nothing runs a handler
    xor edi, edi                 # SIG_BLOCK = 0
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall

    mov eax, 436                 # close_range(3, ~0, 0): keep only the sandbox's stdio
    mov edi, 3
    mov esi, -1
    xor edx, edx
    syscall

    mov eax, 289                 # signalfd4(-1, &all, 8, SFD_CLOEXEC): blocked signals are read here
    mov edi, -1
    mov rsi, rsp
    mov edx, 8
    mov r10d, 0x80000
    syscall
    test rax, rax
    js .Lfailed
    mov r14, rax                 # r14 = the signalfd

    mov eax, 157                 # prctl(PR_SET_NAME, "bbl-init"): comm would be the memfd's number
    mov edi, 15
    lea rsi, [rip+.Lname]
    syscall

    xor r15d, r15d               # r15 = capability number
.Lbounding:
    mov eax, 157                 # prctl(PR_CAPBSET_DROP, cap): needs CAP_SETPCAP, so before capset
    mov edi, 24
    mov rsi, r15
    syscall                      # EINVAL past the last capability: ignored
    inc r15d
    cmp r15d, 64
    jb .Lbounding
    mov eax, 157                 # prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    mov edi, 47
    mov esi, 4
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    syscall
    mov dword ptr [rsp+16], 0x20080522  # capset header: _LINUX_CAPABILITY_VERSION_3
    mov dword ptr [rsp+20], 0    # pid 0: this process
    xor eax, eax
    mov [rsp+24], rax            # data[0..1] {effective, permitted, inheritable}: all zero
    mov [rsp+32], rax
    mov [rsp+40], rax
    mov eax, 126                 # capset(&header, &data): no capability left in any set
    lea rdi, [rsp+16]
    lea rsi, [rsp+24]
    syscall
    test rax, rax
    js .Lfailed
    mov eax, 157                 # prctl(PR_SET_NO_NEW_PRIVS, 1)
    mov edi, 38
    mov esi, 1
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    syscall
    test rax, rax
    js .Lfailed
    mov eax, 157                 # prctl(PR_SET_DUMPABLE, 0): no ptrace, no /proc/1/{exe,root,environ}
    mov edi, 4
    xor esi, esi
    syscall

.Lreap:
    mov eax, 61                  # wait4(-1, &status, WNOHANG, NULL): reap whatever has exited
    mov rdi, -1
    lea rsi, [rsp+8]
    mov edx, 1
    xor r10d, r10d
    syscall
    test rax, rax
    jz .Lsignal                  # children left, none exited: wait for a signal
    js .Lfailed                  # ECHILD: PID is gone without being seen
    cmp rax, r12
    jne .Lreap                   # an orphan: reaped, look again
    mov eax, [rsp+8]             # PID exited: its wait status
    mov edi, eax
    and edi, 0x7f                # the terminating signal, 0 for a normal exit
    jz .Lexited
    add edi, 128                 # killed by signal N: 128+N, as a shell reports it
    jmp .Lexit
.Lexited:
    shr eax, 8                   # exit code: bits 8-15
    movzx edi, al
    jmp .Lexit

.Lsignal:
    xor eax, eax                 # read(signalfd, &siginfo, 128)
    mov rdi, r14
    lea rsi, [rsp+64]
    mov edx, 128
    syscall
    cmp rax, 128
    jne .Lreap                   # nothing read: look at the children again
    mov esi, [rsp+64]            # ssi_signo
    cmp esi, 17                  # SIGCHLD: reap
    je .Lreap
    bt r13, rsi                  # forwarded?
    jnc .Lreap
    mov eax, 62                  # kill(PID, signo)
    mov rdi, r12
    syscall
    jmp .Lreap

.Lfailed:
    mov edi, 125                 # bbl's own failure
.Lexit:
    mov eax, 231                 # exit_group(code)
    syscall

# The decimal number at rdi (NUL-terminated) in rax.
.Lnumber:
    xor eax, eax
.Ldigit:
    movzx ecx, byte ptr [rdi]
    sub ecx, 48                  # '0'
    cmp ecx, 9
    ja .Ldone                    # NUL or not a digit: the end
    imul rax, rax, 10
    add rax, rcx
    inc rdi
    jmp .Ldigit
.Ldone:
    ret

.Lname:
    .asciz "bbl-init"
