# vdpbf16ps tile kernel for attention: C[8 x 32] (float32, rows ldc floats apart) = alpha * (sum over kpairs of
# packed A (per pair: 8 dwords, each 2 bf16 of one row) times packed B (per pair: 32 dwords, each 2 bf16 of one
# column)), plus C as it was when accumulate != 0. A's words are broadcast from memory ({1to16}), so 16
# accumulators and two B registers suffice. System V: rdi = kpairs, rsi = a, rdx = b, rcx = c, r8 = ldc (floats),
# r9 = accumulate, xmm0 = alpha.
# Assemble: as --64 -o k.o AttentionKernelBf16Avx512.s && objcopy -O binary -j .text k.o k.bin
    .intel_syntax noprefix
    .text
    .globl attention_bf16_8x32
attention_bf16_8x32:
    vbroadcastss zmm31, xmm0
    shl r8, 2
    vpxord zmm0, zmm0, zmm0
    vpxord zmm1, zmm1, zmm1
    vpxord zmm2, zmm2, zmm2
    vpxord zmm3, zmm3, zmm3
    vpxord zmm4, zmm4, zmm4
    vpxord zmm5, zmm5, zmm5
    vpxord zmm6, zmm6, zmm6
    vpxord zmm7, zmm7, zmm7
    vpxord zmm8, zmm8, zmm8
    vpxord zmm9, zmm9, zmm9
    vpxord zmm10, zmm10, zmm10
    vpxord zmm11, zmm11, zmm11
    vpxord zmm12, zmm12, zmm12
    vpxord zmm13, zmm13, zmm13
    vpxord zmm14, zmm14, zmm14
    vpxord zmm15, zmm15, zmm15
    test rdi, rdi
    jz 2f
1:
    vmovups zmm16, [rdx]
    vmovups zmm17, [rdx + 64]
    vdpbf16ps zmm0, zmm16, dword ptr [rsi + 0]{1to16}
    vdpbf16ps zmm1, zmm17, dword ptr [rsi + 0]{1to16}
    vdpbf16ps zmm2, zmm16, dword ptr [rsi + 4]{1to16}
    vdpbf16ps zmm3, zmm17, dword ptr [rsi + 4]{1to16}
    vdpbf16ps zmm4, zmm16, dword ptr [rsi + 8]{1to16}
    vdpbf16ps zmm5, zmm17, dword ptr [rsi + 8]{1to16}
    vdpbf16ps zmm6, zmm16, dword ptr [rsi + 12]{1to16}
    vdpbf16ps zmm7, zmm17, dword ptr [rsi + 12]{1to16}
    vdpbf16ps zmm8, zmm16, dword ptr [rsi + 16]{1to16}
    vdpbf16ps zmm9, zmm17, dword ptr [rsi + 16]{1to16}
    vdpbf16ps zmm10, zmm16, dword ptr [rsi + 20]{1to16}
    vdpbf16ps zmm11, zmm17, dword ptr [rsi + 20]{1to16}
    vdpbf16ps zmm12, zmm16, dword ptr [rsi + 24]{1to16}
    vdpbf16ps zmm13, zmm17, dword ptr [rsi + 24]{1to16}
    vdpbf16ps zmm14, zmm16, dword ptr [rsi + 28]{1to16}
    vdpbf16ps zmm15, zmm17, dword ptr [rsi + 28]{1to16}
    add rsi, 32
    add rdx, 128
    dec rdi
    jnz 1b
2:
    vmulps zmm0, zmm0, zmm31
    vmulps zmm1, zmm1, zmm31
    vmulps zmm2, zmm2, zmm31
    vmulps zmm3, zmm3, zmm31
    vmulps zmm4, zmm4, zmm31
    vmulps zmm5, zmm5, zmm31
    vmulps zmm6, zmm6, zmm31
    vmulps zmm7, zmm7, zmm31
    vmulps zmm8, zmm8, zmm31
    vmulps zmm9, zmm9, zmm31
    vmulps zmm10, zmm10, zmm31
    vmulps zmm11, zmm11, zmm31
    vmulps zmm12, zmm12, zmm31
    vmulps zmm13, zmm13, zmm31
    vmulps zmm14, zmm14, zmm31
    vmulps zmm15, zmm15, zmm31
    test r9, r9
    jz 3f
    vaddps zmm0, zmm0, [rcx]
    vaddps zmm1, zmm1, [rcx + 64]
    vmovups [rcx], zmm0
    vmovups [rcx + 64], zmm1
    add rcx, r8
    vaddps zmm2, zmm2, [rcx]
    vaddps zmm3, zmm3, [rcx + 64]
    vmovups [rcx], zmm2
    vmovups [rcx + 64], zmm3
    add rcx, r8
    vaddps zmm4, zmm4, [rcx]
    vaddps zmm5, zmm5, [rcx + 64]
    vmovups [rcx], zmm4
    vmovups [rcx + 64], zmm5
    add rcx, r8
    vaddps zmm6, zmm6, [rcx]
    vaddps zmm7, zmm7, [rcx + 64]
    vmovups [rcx], zmm6
    vmovups [rcx + 64], zmm7
    add rcx, r8
    vaddps zmm8, zmm8, [rcx]
    vaddps zmm9, zmm9, [rcx + 64]
    vmovups [rcx], zmm8
    vmovups [rcx + 64], zmm9
    add rcx, r8
    vaddps zmm10, zmm10, [rcx]
    vaddps zmm11, zmm11, [rcx + 64]
    vmovups [rcx], zmm10
    vmovups [rcx + 64], zmm11
    add rcx, r8
    vaddps zmm12, zmm12, [rcx]
    vaddps zmm13, zmm13, [rcx + 64]
    vmovups [rcx], zmm12
    vmovups [rcx + 64], zmm13
    add rcx, r8
    vaddps zmm14, zmm14, [rcx]
    vaddps zmm15, zmm15, [rcx + 64]
    vmovups [rcx], zmm14
    vmovups [rcx + 64], zmm15
    vzeroupper
    ret
3:
    vmovups [rcx], zmm0
    vmovups [rcx + 64], zmm1
    add rcx, r8
    vmovups [rcx], zmm2
    vmovups [rcx + 64], zmm3
    add rcx, r8
    vmovups [rcx], zmm4
    vmovups [rcx + 64], zmm5
    add rcx, r8
    vmovups [rcx], zmm6
    vmovups [rcx + 64], zmm7
    add rcx, r8
    vmovups [rcx], zmm8
    vmovups [rcx + 64], zmm9
    add rcx, r8
    vmovups [rcx], zmm10
    vmovups [rcx + 64], zmm11
    add rcx, r8
    vmovups [rcx], zmm12
    vmovups [rcx + 64], zmm13
    add rcx, r8
    vmovups [rcx], zmm14
    vmovups [rcx + 64], zmm15
    vzeroupper
    ret
