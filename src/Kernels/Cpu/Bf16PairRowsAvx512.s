# Pair panel rows for the bf16 kernels: for each pair of k steps, lines [0, w) of rows k and k + 1 (float32,
# kstride floats apart, lines adjacent) rounded to bf16 by vcvtne2ps2bf16 and interleaved into w dwords (row k
# in the low half), then the next pair; an odd kc's last pair has a zero high half. w is a multiple of 16.
# System V: rdi = src, rsi = kstride (floats), rdx = kc, rcx = w, r8 = dst.
# Assemble: as --64 -o k.o Bf16PairRowsAvx512.s && objcopy -O binary -j .text k.o k.bin && base64 -w0 k.bin
    .intel_syntax noprefix
    .text
    .globl bf16_pair_rows
bf16_pair_rows:
    vmovdqu16 zmm31, [rip + interleave]
    shl rsi, 2
    shl rcx, 2
    mov r9, rdx
    shr r9, 1
    jz 3f
1:
    lea r10, [rdi + rsi]
    xor rax, rax
2:
    vmovups zmm0, [rdi + rax]
    vmovups zmm1, [r10 + rax]
    vcvtne2ps2bf16 zmm2, zmm1, zmm0
    vpermw zmm2, zmm31, zmm2
    vmovups [r8 + rax], zmm2
    add rax, 64
    cmp rax, rcx
    jb 2b
    lea rdi, [rdi + 2 * rsi]
    add r8, rcx
    dec r9
    jnz 1b
3:
    test rdx, 1
    jz 5f
    xor rax, rax
    vpxord zmm1, zmm1, zmm1
4:
    vmovups zmm0, [rdi + rax]
    vcvtne2ps2bf16 zmm2, zmm1, zmm0
    vpermw zmm2, zmm31, zmm2
    vmovups [r8 + rax], zmm2
    add rax, 64
    cmp rax, rcx
    jb 4b
5:
    vzeroupper
    ret
    .p2align 6
# Word 2j takes row k's value j (the low 16 words), word 2j + 1 row k + 1's (the high 16).
interleave:
    .short 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
    .short 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
