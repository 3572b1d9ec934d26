/* initbin.S: the lunajail-init binary, embedded in core.so as bytes. */

        .section .rodata
        .balign 16
        .global lj_initbin
        .hidden lj_initbin
lj_initbin:
        .incbin INITBIN
lj_initbin_end:
        .balign 8
        .global lj_initbin_size
        .hidden lj_initbin_size
lj_initbin_size:                        /* its length, computed here */
        .quad lj_initbin_end - lj_initbin

        .section .note.GNU-stack,"",%progbits
