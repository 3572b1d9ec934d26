/*
** clone3.S: long lj_clone3 (struct clone_args *args, size_t size,
**                           int (*fn) (void *), void *arg)
** clone3(2) starting the child on args->stack with fn(arg), then exit --
** what glibc's clone() does for clone(2), which glibc does not offer for
** clone3.  Returns the child's pid, or -errno.  Only the registers the
** kernel preserves across the system call carry fn and arg over.
**
** long lj_rawsys (long nr, long a, long b, long c, long d, long e, long f)
** a system call that returns -errno and touches nothing else: a child
** running in our memory beside us (netpool.c's maker) must not write the
** errno it shares with us.
*/

#if defined(__x86_64__)

        .text
        .global lj_clone3
        .hidden lj_clone3
        .type lj_clone3, @function
lj_clone3:
        mov     %rcx, %r8               /* arg: r8 survives syscall */
        mov     $435, %eax              /* __NR_clone3 */
        syscall
        test    %rax, %rax
        jz      1f
        ret                             /* parent: pid or -errno */
1:      xor     %ebp, %ebp              /* child, on its own stack */
        mov     %r8, %rdi
        call    *%rdx                   /* rdx survives syscall too */
        mov     %eax, %edi
        mov     $60, %eax               /* __NR_exit */
        syscall
        hlt
        .size lj_clone3, .-lj_clone3

        .global lj_rawsys
        .hidden lj_rawsys
        .type lj_rawsys, @function
lj_rawsys:
        mov     %rdi, %rax
        mov     %rsi, %rdi
        mov     %rdx, %rsi
        mov     %rcx, %rdx
        mov     %r8, %r10
        mov     %r9, %r8
        mov     8(%rsp), %r9
        syscall
        ret
        .size lj_rawsys, .-lj_rawsys

#elif defined(__aarch64__)

        .text
        .global lj_clone3
        .hidden lj_clone3
        .type lj_clone3, %function
lj_clone3:
        mov     x10, x2                 /* fn, arg: kept across svc */
        mov     x11, x3
        mov     x8, #435                /* __NR_clone3 */
        svc     #0
        cbz     x0, 1f
        ret
1:      mov     x29, #0
        mov     x30, #0
        mov     x0, x11
        blr     x10
        mov     x8, #93                 /* __NR_exit */
        svc     #0
        brk     #0
        .size lj_clone3, .-lj_clone3

        .global lj_rawsys
        .hidden lj_rawsys
        .type lj_rawsys, %function
lj_rawsys:
        mov     x8, x0
        mov     x0, x1
        mov     x1, x2
        mov     x2, x3
        mov     x3, x4
        mov     x4, x5
        mov     x5, x6
        svc     #0
        ret
        .size lj_rawsys, .-lj_rawsys

#endif

        .section .note.GNU-stack,"",%progbits
