# vdpbf16ps tile kernel for attention: C[8 x 32] (float32, rows ldc floats apart) = alpha * (sum over kpairs of
# packed A (per pair: 8 dwords, each 2 bf16 of one row) times packed B (per pair: 32 dwords, each 2 bf16 of one
# column)), plus C as it was when accumulate != 0. A's words are broadcast from memory ({1to16}), so 16
# accumulators and two B registers suffice. System V: rdi = kpairs, rsi = a, rdx = b, rcx = c, r8 = ldc (floats),
# r9 = accumulate, xmm0 = alpha.
# Assemble: as --64 -o k.o AttentionKernelBf16Avx512.s && objcopy -O binary -j .text k.o k.bin && base64 -w0 k.bin
    .intel_syntax noprefix
    .macro dot lo, hi, at
    vdpbf16ps zmm\lo, zmm16, dword ptr [rsi + \at]{1to16}
    vdpbf16ps zmm\hi, zmm17, dword ptr [rsi + \at]{1to16}
    .endm
    # One row of C: (lo, hi) plus C's row when add, stored; then the next row.
    .macro row lo, hi, add
    .if \add
    vaddps zmm\lo, zmm\lo, [rcx]
    vaddps zmm\hi, zmm\hi, [rcx + 64]
    .endif
    vmovups [rcx], zmm\lo
    vmovups [rcx + 64], zmm\hi
    add rcx, r8
    .endm
    .macro rows add
    row 0, 1, \add
    row 2, 3, \add
    row 4, 5, \add
    row 6, 7, \add
    row 8, 9, \add
    row 10, 11, \add
    row 12, 13, \add
    row 14, 15, \add
    vzeroupper
    ret
    .endm
    .text
    .globl attention_bf16_8x32
attention_bf16_8x32:
    vbroadcastss zmm31, xmm0
    shl r8, 2
    .irp r, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    vpxord zmm\r, zmm\r, zmm\r
    .endr
    test rdi, rdi
    jz 2f
1:
    vmovups zmm16, [rdx]
    vmovups zmm17, [rdx + 64]
    dot 0, 1, 0
    dot 2, 3, 4
    dot 4, 5, 8
    dot 6, 7, 12
    dot 8, 9, 16
    dot 10, 11, 20
    dot 12, 13, 24
    dot 14, 15, 28
    add rsi, 32
    add rdx, 128
    dec rdi
    jnz 1b
2:
    .irp r, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    vmulps zmm\r, zmm\r, zmm31
    .endr
    test r9, r9
    jz 3f
    rows 1
3:
    rows 0
