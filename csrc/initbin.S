/* initbin.S: the lunajail-init binary, embedded in core.so as bytes. */

        .section .rodata
        .balign 16
        .global lj_initbin
        .hidden lj_initbin
lj_initbin:
        .incbin INITBIN
        .global lj_initbin_end
        .hidden lj_initbin_end
lj_initbin_end:

        .section .note.GNU-stack,"",%progbits
