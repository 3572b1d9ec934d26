/* runnerbin.S: the lunajail-runner binary, embedded in core.so as bytes. */

        .section .rodata
        .balign 16
        .global lj_runnerbin
        .hidden lj_runnerbin
lj_runnerbin:
        .incbin RUNNERBIN
lj_runnerbin_end:
        .balign 8
        .global lj_runnerbin_size
        .hidden lj_runnerbin_size
lj_runnerbin_size:                      /* its length, computed here */
        .quad lj_runnerbin_end - lj_runnerbin

        .section .note.GNU-stack,"",%progbits
