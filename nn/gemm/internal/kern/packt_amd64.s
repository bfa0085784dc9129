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
