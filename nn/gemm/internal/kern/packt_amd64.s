//go:build amd64 && !purego

#include "textflag.h"

// func packT32AVX512(dst, src *float32, kl int, idx *[32]int32)
// dst[p·32 + j] = src[idx[j] + p] for p < kl, j < 32: a 32-column panel of
// a transposed B (idx[j] = j·ldb), two 16-lane gathers per panel row.
TEXT ·packT32AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kl+16(FP), CX
	MOVQ idx+24(FP), AX
	VMOVDQU32 (AX), Z1
	VMOVDQU32 64(AX), Z2
	TESTQ CX, CX
	JZ pt_done
pt_loop:
	KXNORW K1, K1, K1
	KXNORW K2, K2, K2
	VGATHERDPS (SI)(Z1*4), K1, Z3
	VGATHERDPS (SI)(Z2*4), K2, Z4
	VMOVUPS Z3, (DI)
	VMOVUPS Z4, 64(DI)
	ADDQ $4, SI
	ADDQ $128, DI
	DECQ CX
	JNZ pt_loop
pt_done:
	VZEROUPPER
	RET

// func packA8TAVX(dst, src *float32, kl, lda int)
// dst[p·8 + i] = src[p·lda + i] for p < kl, i < 8: an 8-row panel of a
// transposed A (stored k×m), one 32-byte move per k.
TEXT ·packA8TAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kl+16(FP), CX
	MOVQ lda+24(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JZ pa8_done
pa8_loop:
	VMOVUPS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ R8, SI
	ADDQ $32, DI
	DECQ CX
	JNZ pa8_loop
pa8_done:
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8×8 block in Y0-Y7 (row i in Yi) into
// Y8-Y15 (column j in Y8+j), clobbering Y0-Y7.
#define TRANSPOSE8 \
	VUNPCKLPS Y1, Y0, Y8 \
	VUNPCKHPS Y1, Y0, Y9 \
	VUNPCKLPS Y3, Y2, Y10 \
	VUNPCKHPS Y3, Y2, Y11 \
	VUNPCKLPS Y5, Y4, Y12 \
	VUNPCKHPS Y5, Y4, Y13 \
	VUNPCKLPS Y7, Y6, Y14 \
	VUNPCKHPS Y7, Y6, Y15 \
	VSHUFPS $0x44, Y10, Y8, Y0 \
	VSHUFPS $0xEE, Y10, Y8, Y1 \
	VSHUFPS $0x44, Y11, Y9, Y2 \
	VSHUFPS $0xEE, Y11, Y9, Y3 \
	VSHUFPS $0x44, Y14, Y12, Y4 \
	VSHUFPS $0xEE, Y14, Y12, Y5 \
	VSHUFPS $0x44, Y15, Y13, Y6 \
	VSHUFPS $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func packT8AVX(dst, src *float32, kl, ldb, nr int)
// dst[p·nr + j] = src[j·ldb + p] for j < 8, p < kl (kl a multiple of 8):
// eight rows of a transposed B into eight columns of an nr-wide panel, an
// 8×8 block at a time (unpack, shuffle, 128-bit permute: the CPU's
// shuffle ports, no gathers).
TEXT ·packT8AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kl+16(FP), CX
	MOVQ ldb+24(FP), R8
	MOVQ nr+32(FP), R12
	SHLQ $2, R8
	SHLQ $2, R12
	LEAQ (R8)(R8*2), R9   // 3 rows of src
	LEAQ (R8)(R8*4), R10  // 5
	LEAQ (R9)(R8*4), R11  // 7
	LEAQ (R12)(R12*2), R13 // 3 rows of dst
	LEAQ (R12)(R12*4), R14 // 5
	LEAQ (R13)(R12*4), R15 // 7
	SHRQ $3, CX
	JZ p8_done
p8_loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (SI)(R8*4), Y4
	VMOVUPS (SI)(R10*1), Y5
	VMOVUPS (SI)(R9*2), Y6
	VMOVUPS (SI)(R11*1), Y7
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R12*1)
	VMOVUPS Y10, (DI)(R12*2)
	VMOVUPS Y11, (DI)(R13*1)
	VMOVUPS Y12, (DI)(R12*4)
	VMOVUPS Y13, (DI)(R14*1)
	VMOVUPS Y14, (DI)(R13*2)
	VMOVUPS Y15, (DI)(R15*1)
	LEAQ (DI)(R12*8), DI
	ADDQ $32, SI
	DECQ CX
	JNZ p8_loop
p8_done:
	VZEROUPPER
	RET

// func packA6AVX(dst, src *float32, kl, lda int)
// dst[p·6 + i] = src[i·lda + p] for i < 6, p < kl (kl a multiple of 8):
// a 6-row panel of A (the AVX2 kernel's), an 8×8 transpose per eight p
// (rows 6 and 7 are whatever Y6 and Y7 hold) and eight overlapping 8-float
// stores 6 floats apart, in order, so each store's last two floats are
// overwritten by the next. The last writes dst[kl·6] and dst[kl·6+1]:
// the caller gives the panel at least two floats more and writes them.
TEXT ·packA6AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kl+16(FP), CX
	MOVQ lda+24(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9  // 3 rows
	LEAQ (R8)(R8*4), R10 // 5
	SHRQ $3, CX
	JZ pa6_done
pa6_loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (SI)(R8*4), Y4
	VMOVUPS (SI)(R10*1), Y5
	TRANSPOSE8
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y14, 144(DI)
	VMOVUPS Y15, 168(DI)
	ADDQ $192, DI
	ADDQ $32, SI
	DECQ CX
	JNZ pa6_loop
pa6_done:
	VZEROUPPER
	RET
