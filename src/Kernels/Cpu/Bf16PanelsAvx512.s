# bf16 pair panels (GemmPackBf16's layout) from float32, rounded by vcvtne2ps2bf16, two functions:
# bf16_along_lines: lines adjacent in memory. For each pair of k steps, lines [0, w) of rows k and k + 1 (kstride
# floats apart) rounded and interleaved by vpermw into w dwords (row k in the low half), then the next pair; an
# odd kc's last pair has a zero high half (row k + 1 loaded under an empty mask). w is a multiple of 16; kc >= 1.
# System V: rdi = src, rsi = kstride (floats), rdx = kc, rcx = w, r8 = dst.
# bf16_along_lines8: as bf16_along_lines for panels of 8 lines, 16 lines (two panels) at a time, each pair's
# 16 dwords split between the two panels. m is a multiple of 16.
# System V: rdi = src, rsi = kstride (floats), rdx = kc, rcx = m, r8 = dst.
# bf16_along_k: lines contiguous along k, panels of 8 lines. For each 16 values of k, 8 lines are rounded two at a
# time into [line a's 8 pairs | line b's 8 pairs] and transposed by vpermt2d into 8 pairs × 8 lines; then the next
# 8 lines' panel. kc is a multiple of 16, m of 8.
# System V: rdi = src, rsi = line stride (floats), rdx = kc, rcx = m, r8 = dst.
# bf16_along_k32: as bf16_along_k into panels of 32 lines, 8 lines at a time; m is a multiple of 32.
# Assemble: as --64 -o k.o Bf16PanelsAvx512.s && objcopy -O binary -j .text k.o k.bin && base64 -w0 k.bin
# (nm k.o gives the entry offsets, Bf16PanelsAvx512's Lines8Offset, AlongKOffset and AlongK32Offset).
    .intel_syntax noprefix
    # k1 (all 16 lanes, set at the start) emptied for an odd kc's last step (r9 = 1 left), whose second row is zero.
    .macro second_row
    cmp r9, 1
    jne 9f
    kxorw k1, k1, k1
9:
    .endm
    # bf16_along_k's registers: the index vectors, rsi and rdx in bytes, r11 = 3 line strides.
    .macro along_k_setup
    vmovdqu32 zmm28, [rip + fours_low]
    vmovdqu32 zmm29, [rip + fours_high]
    vmovdqu32 zmm30, [rip + eights_low]
    vmovdqu32 zmm31, [rip + eights_high]
    shl rsi, 2
    shl rdx, 2
    lea r11, [rsi + 2 * rsi]
    .endm
    # 16 values of k of 8 lines (rax: lines 0-3, r10: lines 4-7) as pairs 0-1, 2-3, 4-5, 6-7 in zmm0, 10, 8, 11.
    .macro along_k_block
    # zmm0, 2, 4, 6: lines (0, 1), (2, 3), (4, 5), (6, 7), each [first line's 8 pairs | second's].
    vmovups zmm1, [rax + rsi]
    vcvtne2ps2bf16 zmm0, zmm1, [rax]
    vmovups zmm3, [rax + r11]
    vcvtne2ps2bf16 zmm2, zmm3, [rax + 2 * rsi]
    vmovups zmm5, [r10 + rsi]
    vcvtne2ps2bf16 zmm4, zmm5, [r10]
    vmovups zmm7, [r10 + r11]
    vcvtne2ps2bf16 zmm6, zmm7, [r10 + 2 * rsi]
    # Pairs 0-3 (zmm0, zmm4) and 4-7 (zmm8, zmm9) of lines 0-3 and of lines 4-7, 4 lines a pair.
    vmovdqa32 zmm8, zmm0
    vpermt2d zmm0, zmm28, zmm2
    vpermt2d zmm8, zmm29, zmm2
    vmovdqa32 zmm9, zmm4
    vpermt2d zmm4, zmm28, zmm6
    vpermt2d zmm9, zmm29, zmm6
    # 8 lines a pair: pairs 0-1, 2-3, 4-5, 6-7.
    vmovdqa32 zmm10, zmm0
    vpermt2d zmm0, zmm30, zmm4
    vpermt2d zmm10, zmm31, zmm4
    vmovdqa32 zmm11, zmm8
    vpermt2d zmm8, zmm30, zmm9
    vpermt2d zmm11, zmm31, zmm9
    .endm
    # Two pairs of 8 lines (zmm\r) into a panel 32 lines wide (128 bytes a pair) at rbx, which moves on.
    .macro two_pairs r
    vmovups [rbx], ymm\r
    vextracti64x4 [rbx + 128], zmm\r, 1
    add rbx, 256
    .endm
    .text
    .globl bf16_along_lines
bf16_along_lines:
    vmovdqu16 zmm31, [rip + interleave]
    shl rsi, 2
    shl rcx, 2
    mov r9, rdx
    kxnorw k1, k1, k1
1:
    second_row
    lea r10, [rdi + rsi]
    xor rax, rax
2:
    vmovups zmm0, [rdi + rax]
    vmovups zmm1{k1}{z}, [r10 + rax]
    vcvtne2ps2bf16 zmm2, zmm1, zmm0
    vpermw zmm2, zmm31, zmm2
    vmovups [r8 + rax], zmm2
    add rax, 64
    cmp rax, rcx
    jb 2b
    lea rdi, [rdi + 2 * rsi]
    add r8, rcx
    sub r9, 2
    jg 1b
    vzeroupper
    ret

    .globl bf16_along_lines8
bf16_along_lines8:
    vmovdqu16 zmm31, [rip + interleave]
    shl rsi, 2
    # r11: bytes of one panel, 8 dwords a pair.
    lea r11, [rdx + 1]
    shr r11, 1
    shl r11, 5
1:
    mov rax, rdi
    mov r10, r8
    mov r9, rdx
    kxnorw k1, k1, k1
2:
    second_row
    vmovups zmm0, [rax]
    vmovups zmm1{k1}{z}, [rax + rsi]
    vcvtne2ps2bf16 zmm2, zmm1, zmm0
    vpermw zmm2, zmm31, zmm2
    vmovups [r10], ymm2
    vextracti64x4 [r10 + r11], zmm2, 1
    lea rax, [rax + 2 * rsi]
    add r10, 32
    sub r9, 2
    jg 2b
    add rdi, 64
    lea r8, [r8 + 2 * r11]
    sub rcx, 16
    jnz 1b
    vzeroupper
    ret

    .globl bf16_along_k
bf16_along_k:
    along_k_setup
1:
    mov rax, rdi
    lea r10, [rdi + 4 * rsi]
    lea r9, [rdi + rdx]
2:
    along_k_block
    vmovups [r8], zmm0
    vmovups [r8 + 64], zmm10
    vmovups [r8 + 128], zmm8
    vmovups [r8 + 192], zmm11
    add r8, 256
    add rax, 64
    add r10, 64
    cmp rax, r9
    jb 2b
    lea rdi, [rdi + 8 * rsi]
    sub rcx, 8
    jnz 1b
    vzeroupper
    ret

    .globl bf16_along_k32
bf16_along_k32:
    push rbx
    push r12
    # r12: from a panel's fifth 8-line group to the next panel (panels of 32 lines, 32 dwords a pair).
    mov r12, rdx
    shl r12, 6
    sub r12, 128
    along_k_setup
1:
    mov rax, rdi
    lea r10, [rdi + 4 * rsi]
    lea r9, [rdi + rdx]
    mov rbx, r8
2:
    along_k_block
    two_pairs 0
    two_pairs 10
    two_pairs 8
    two_pairs 11
    add rax, 64
    add r10, 64
    cmp rax, r9
    jb 2b
    lea rdi, [rdi + 8 * rsi]
    add r8, 32
    sub rcx, 8
    test rcx, 31
    jnz 1b
    add r8, r12
    test rcx, rcx
    jnz 1b
    pop r12
    pop rbx
    vzeroupper
    ret

    .p2align 6
# Word 2j takes row k's value j (the low 16 words), word 2j + 1 row k + 1's (the high 16).
interleave:
    .short 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
    .short 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
# Dword 4p + r: pair p (0-3, or 4-7 for fours_high) of line r of two [line | line] registers (index 16+ the second).
fours_low:
    .long 0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27
fours_high:
    .long 4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31
# Dword 8q + r: pair q (0-1, or 2-3 for eights_high) of line r of lines 0-3 and lines 4-7 (index 16+), 4 lines a pair.
eights_low:
    .long 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23
eights_high:
    .long 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31
