//go:build amd64 && !purego

#include "textflag.h"

// AMX (Advanced Matrix Extensions) bf16 kernels, hand-written: Go's
// assembler knows no AMX instruction, so each is spelled in bytes (VEX
// encodings checked against GNU as 2.40; the register each uses is fixed
// and named in its comment).

// func amxTapsBF16(cfg *[64]byte, taps, kb int, a, b *float32, ldb int, offs *int, c *float32, ldc, nb int)
//
// For nb blocks of 32 columns, the 32×32 tile of C at c (rows ldc floats
// apart, block j at column 32j) is set to Σ_{t<taps} Σ_{i<kb} A(t,i)·B(t,i,j):
// A(t,i) is 32 rows × 16 bf16 pairs, two 1 KB tiles at a + (t·kb+i)·2048
// bytes; B(t,i,j) is 16 rows of bf16 pairs (ldb words apart) × 32 columns
// at b + offs[t] + 16·i·ldb + 32j words. Tiles: C in tmm0-3, A in tmm4-5,
// B in tmm6-7, as cfg configures (palette 1, all 16 rows × 64 bytes).
TEXT ·amxTapsBF16(SB), NOSPLIT, $0-80
	MOVQ cfg+0(FP), DI
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x07 // LDTILECFG (DI)
	MOVQ b+32(FP), R12
	MOVQ ldb+40(FP), BX
	SHLQ $2, BX
	MOVQ BX, R13
	SHLQ $4, R13 // 16 rows of B: one step of i
	MOVQ c+56(FP), R11
	MOVQ ldc+64(FP), R10
	SHLQ $2, R10
	MOVQ $64, DX
amx_block:
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc0 // TILEZERO tmm0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc8 // TILEZERO tmm1
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd0 // TILEZERO tmm2
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd8 // TILEZERO tmm3
	MOVQ a+24(FP), SI
	MOVQ offs+48(FP), R8
	MOVQ taps+8(FP), R9
amx_tap:
	MOVQ (R8), AX
	LEAQ (R12)(AX*4), DI
	MOVQ kb+16(FP), CX
amx_k:
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x16                                     // TILELOADD (SI)(DX*1), tmm4
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0xac; BYTE $0x16; BYTE $0x00; BYTE $0x04; BYTE $0x00; BYTE $0x00 // TILELOADD 1024(SI)(DX*1), tmm5
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x1f                                     // TILELOADD (DI)(BX*1), tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x7c; BYTE $0x1f; BYTE $0x40                         // TILELOADD 64(DI)(BX*1), tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xc4 // TDPBF16PS tmm0 += tmm4·tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xcc // TDPBF16PS tmm1 += tmm4·tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xd5 // TDPBF16PS tmm2 += tmm5·tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xdd // TDPBF16PS tmm3 += tmm5·tmm7
	ADDQ $2048, SI
	ADDQ R13, DI
	DECQ CX
	JNZ amx_k
	ADDQ $8, R8
	DECQ R9
	JNZ amx_tap
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x13             // TILESTORED tmm0, (R11)(R10*1)
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x4c; BYTE $0x13; BYTE $0x40 // TILESTORED tmm1, 64(R11)(R10*1)
	MOVQ R10, AX
	SHLQ $4, AX
	ADDQ R11, AX
	BYTE $0xc4; BYTE $0xa2; BYTE $0x7a; BYTE $0x4b; BYTE $0x14; BYTE $0x10             // TILESTORED tmm2, (AX)(R10*1)
	BYTE $0xc4; BYTE $0xa2; BYTE $0x7a; BYTE $0x4b; BYTE $0x5c; BYTE $0x10; BYTE $0x40 // TILESTORED tmm3, 64(AX)(R10*1)
	ADDQ $128, R12
	ADDQ $128, R11
	DECQ nb+72(FP)
	JNZ amx_block
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0 // TILERELEASE
	RET

// func pairsBF16AVX512(dst, lo, hi *float32, n int)
//
// dst[q] = bf16(lo[q]) | bf16(hi[q])<<16 for q < n (a multiple of 16),
// rounding to nearest, ties to even (x + 0x7fff + bit 16 of x, then the
// upper half), as gemm.BF16 does for every input but signalling NaNs.
TEXT ·pairsBF16AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ lo+8(FP), SI
	MOVQ hi+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z5
	MOVL $1, AX
	VPBROADCASTD AX, Z6
	MOVL $0xffff0000, AX
	VPBROADCASTD AX, Z7
	SHRQ $4, CX
	JZ pairs_done
pairs_loop:
	VMOVDQU32 (SI), Z0
	VMOVDQU32 (DX), Z1
	VPSRLD $16, Z0, Z2
	VPANDD Z6, Z2, Z2
	VPADDD Z5, Z0, Z0
	VPADDD Z2, Z0, Z0
	VPSRLD $16, Z0, Z0
	VPSRLD $16, Z1, Z3
	VPANDD Z6, Z3, Z3
	VPADDD Z5, Z1, Z1
	VPADDD Z3, Z1, Z1
	VPANDD Z7, Z1, Z1
	VPORD Z1, Z0, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ pairs_loop
pairs_done:
	VZEROUPPER
	RET

// func amxTapsNTBF16(cfg *[64]byte, taps, kb int, a *float32, lda int, offs *int, b *float32, ldb int, c *float32, ldc, tapStride int)
//
// The weight-gradient product on AMX, for one 32×32 block of each C_t
// (t < taps, C_t at c + t·tapStride bytes, rows ldc bytes apart):
// C_t += Σ_{i<kb} A_t(i)·B(i), where A_t(i) is 32 rows (lda bytes apart)
// of 32 consecutive bf16 values at a + 2·offs[t] + 64·i bytes (any
// alignment: pairs are whatever two values sit together), and B(i) is 16
// rows of pair words (ldb bytes apart) × 32 columns at b + 16·i·ldb.
// Tiles: C in tmm0-3 (loaded, added to, stored), A in tmm4-5, B in tmm6-7.
TEXT ·amxTapsNTBF16(SB), NOSPLIT, $0-88
	MOVQ cfg+0(FP), DI
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x07 // LDTILECFG (DI)
	MOVQ lda+32(FP), DX
	MOVQ ldb+56(FP), BX
	MOVQ BX, R13
	SHLQ $4, R13 // 16 pair rows of B: one step of i
	MOVQ ldc+72(FP), R10
	MOVQ c+64(FP), R11
	MOVQ offs+40(FP), R12
	MOVQ taps+8(FP), R9
ntamx_tap:
	MOVQ R10, AX
	SHLQ $4, AX
	ADDQ R11, AX
	BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x04; BYTE $0x13             // TILELOADD (R11)(R10*1), tmm0
	BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x4c; BYTE $0x13; BYTE $0x40 // TILELOADD 64(R11)(R10*1), tmm1
	BYTE $0xc4; BYTE $0xa2; BYTE $0x7b; BYTE $0x4b; BYTE $0x14; BYTE $0x10             // TILELOADD (AX)(R10*1), tmm2
	BYTE $0xc4; BYTE $0xa2; BYTE $0x7b; BYTE $0x4b; BYTE $0x5c; BYTE $0x10; BYTE $0x40 // TILELOADD 64(AX)(R10*1), tmm3
	MOVQ (R12), SI
	SHLQ $1, SI
	ADDQ a+24(FP), SI
	MOVQ DX, R8
	SHLQ $4, R8
	ADDQ SI, R8
	MOVQ b+48(FP), DI
	MOVQ kb+16(FP), CX
ntamx_k:
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x16             // TILELOADD (SI)(DX*1), tmm4
	BYTE $0xc4; BYTE $0xc2; BYTE $0x7b; BYTE $0x4b; BYTE $0x2c; BYTE $0x10             // TILELOADD (R8)(DX*1), tmm5
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x1f             // TILELOADD (DI)(BX*1), tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x7c; BYTE $0x1f; BYTE $0x40 // TILELOADD 64(DI)(BX*1), tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xc4 // TDPBF16PS tmm0 += tmm4·tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xcc // TDPBF16PS tmm1 += tmm4·tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xd5 // TDPBF16PS tmm2 += tmm5·tmm6
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xdd // TDPBF16PS tmm3 += tmm5·tmm7
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ R13, DI
	DECQ CX
	JNZ ntamx_k
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x13             // TILESTORED tmm0, (R11)(R10*1)
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x4c; BYTE $0x13; BYTE $0x40 // TILESTORED tmm1, 64(R11)(R10*1)
	BYTE $0xc4; BYTE $0xa2; BYTE $0x7a; BYTE $0x4b; BYTE $0x14; BYTE $0x10             // TILESTORED tmm2, (AX)(R10*1)
	BYTE $0xc4; BYTE $0xa2; BYTE $0x7a; BYTE $0x4b; BYTE $0x5c; BYTE $0x10; BYTE $0x40 // TILESTORED tmm3, 64(AX)(R10*1)
	ADDQ tapStride+80(FP), R11
	ADDQ $8, R12
	DECQ R9
	JNZ ntamx_tap
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0 // TILERELEASE
	RET

// func cvtBF16AVX512(dst, src *float32, n int)
//
// The bf16 of src[q] (rounded as pairsBF16AVX512) as the q-th 16-bit
// value from dst, for q < n (a multiple of 16).
TEXT ·cvtBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z5
	MOVL $1, AX
	VPBROADCASTD AX, Z6
	SHRQ $4, CX
	JZ cvt_done
cvt_loop:
	VMOVDQU32 (SI), Z0
	VPSRLD $16, Z0, Z2
	VPANDD Z6, Z2, Z2
	VPADDD Z5, Z0, Z0
	VPADDD Z2, Z0, Z0
	VPSRLD $16, Z0, Z0
	VPMOVDW Z0, Y1
	VMOVDQU Y1, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ cvt_loop
cvt_done:
	VZEROUPPER
	RET
