# vdpbf16ps micro-kernel: C[14 x 32] (float32, rows ldc bytes apart) = (accumulate ? C : 0) + sum over
# kpairs of packed A (per pair: 14 dwords, each 2 bf16 of one row) times packed B (per pair: 32 dwords,
# each 2 bf16 of one column). System V: rdi = kpairs, rsi = a, rdx = b, rcx = c, r8 = ldc in bytes,
# r9 = accumulate (0: C is only written). Storing into C here, not through a tile, saves a pass per tile.
# Assemble: as --64 -o k.o GemmKernelBf16Avx512.s && objcopy -O binary -j .text k.o k.bin
    .intel_syntax noprefix
    .text
    .globl gemm_bf16_14x32
gemm_bf16_14x32:
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
    vpxord zmm16, zmm16, zmm16
    vpxord zmm17, zmm17, zmm17
    vpxord zmm18, zmm18, zmm18
    vpxord zmm19, zmm19, zmm19
    vpxord zmm20, zmm20, zmm20
    vpxord zmm21, zmm21, zmm21
    vpxord zmm22, zmm22, zmm22
    vpxord zmm23, zmm23, zmm23
    vpxord zmm24, zmm24, zmm24
    vpxord zmm25, zmm25, zmm25
    vpxord zmm26, zmm26, zmm26
    vpxord zmm27, zmm27, zmm27
    test rdi, rdi
    jz 2f
1:
    vmovups zmm28, [rdx]
    vmovups zmm29, [rdx + 64]
    vpbroadcastd zmm30, dword ptr [rsi + 0]
    vdpbf16ps zmm0, zmm28, zmm30
    vdpbf16ps zmm1, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 4]
    vdpbf16ps zmm2, zmm28, zmm31
    vdpbf16ps zmm3, zmm29, zmm31
    vpbroadcastd zmm30, dword ptr [rsi + 8]
    vdpbf16ps zmm4, zmm28, zmm30
    vdpbf16ps zmm5, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 12]
    vdpbf16ps zmm6, zmm28, zmm31
    vdpbf16ps zmm7, zmm29, zmm31
    vpbroadcastd zmm30, dword ptr [rsi + 16]
    vdpbf16ps zmm8, zmm28, zmm30
    vdpbf16ps zmm9, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 20]
    vdpbf16ps zmm10, zmm28, zmm31
    vdpbf16ps zmm11, zmm29, zmm31
    vpbroadcastd zmm30, dword ptr [rsi + 24]
    vdpbf16ps zmm12, zmm28, zmm30
    vdpbf16ps zmm13, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 28]
    vdpbf16ps zmm14, zmm28, zmm31
    vdpbf16ps zmm15, zmm29, zmm31
    vpbroadcastd zmm30, dword ptr [rsi + 32]
    vdpbf16ps zmm16, zmm28, zmm30
    vdpbf16ps zmm17, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 36]
    vdpbf16ps zmm18, zmm28, zmm31
    vdpbf16ps zmm19, zmm29, zmm31
    vpbroadcastd zmm30, dword ptr [rsi + 40]
    vdpbf16ps zmm20, zmm28, zmm30
    vdpbf16ps zmm21, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 44]
    vdpbf16ps zmm22, zmm28, zmm31
    vdpbf16ps zmm23, zmm29, zmm31
    vpbroadcastd zmm30, dword ptr [rsi + 48]
    vdpbf16ps zmm24, zmm28, zmm30
    vdpbf16ps zmm25, zmm29, zmm30
    vpbroadcastd zmm31, dword ptr [rsi + 52]
    vdpbf16ps zmm26, zmm28, zmm31
    vdpbf16ps zmm27, zmm29, zmm31
    add rsi, 56
    add rdx, 128
    dec rdi
    jnz 1b
2:
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
    add rcx, r8
    vaddps zmm16, zmm16, [rcx]
    vaddps zmm17, zmm17, [rcx + 64]
    vmovups [rcx], zmm16
    vmovups [rcx + 64], zmm17
    add rcx, r8
    vaddps zmm18, zmm18, [rcx]
    vaddps zmm19, zmm19, [rcx + 64]
    vmovups [rcx], zmm18
    vmovups [rcx + 64], zmm19
    add rcx, r8
    vaddps zmm20, zmm20, [rcx]
    vaddps zmm21, zmm21, [rcx + 64]
    vmovups [rcx], zmm20
    vmovups [rcx + 64], zmm21
    add rcx, r8
    vaddps zmm22, zmm22, [rcx]
    vaddps zmm23, zmm23, [rcx + 64]
    vmovups [rcx], zmm22
    vmovups [rcx + 64], zmm23
    add rcx, r8
    vaddps zmm24, zmm24, [rcx]
    vaddps zmm25, zmm25, [rcx + 64]
    vmovups [rcx], zmm24
    vmovups [rcx + 64], zmm25
    add rcx, r8
    vaddps zmm26, zmm26, [rcx]
    vaddps zmm27, zmm27, [rcx + 64]
    vmovups [rcx], zmm26
    vmovups [rcx + 64], zmm27
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
    add rcx, r8
    vmovups [rcx], zmm16
    vmovups [rcx + 64], zmm17
    add rcx, r8
    vmovups [rcx], zmm18
    vmovups [rcx + 64], zmm19
    add rcx, r8
    vmovups [rcx], zmm20
    vmovups [rcx + 64], zmm21
    add rcx, r8
    vmovups [rcx], zmm22
    vmovups [rcx + 64], zmm23
    add rcx, r8
    vmovups [rcx], zmm24
    vmovups [rcx + 64], zmm25
    add rcx, r8
    vmovups [rcx], zmm26
    vmovups [rcx + 64], zmm27
    vzeroupper
    ret
