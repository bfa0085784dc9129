//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 row kernels for batch norm (see rowkern.go). Each processes n
// floats, n a multiple of 16 (the Go wrappers do the tails), unaligned.

// func affineAVX512(y, x *float32, n int, scale, shift float32, relu bool)
// y = x·scale + shift (a multiply then an add, as the Go loop), then
// max(y, 0) when relu (as Go's max: NaN propagates, −0 gives +0).
TEXT ·affineAVX512(SB), NOSPLIT, $0-33
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS scale+24(FP), Z1
	VBROADCASTSS shift+28(FP), Z2
	MOVBLZX relu+32(FP), AX
	VPXORD Z3, Z3, Z3
	SHRQ $4, CX
	JZ affine_done
	TESTQ AX, AX
	JNZ affine_relu
affine_loop:
	VMULPS (SI), Z1, Z0
	VADDPS Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ affine_loop
	JMP affine_done
affine_relu:
	VMULPS (SI), Z1, Z0
	VADDPS Z2, Z0, Z0
	VMAXPS Z0, Z3, Z0
	VADDPS Z3, Z0, Z0 // −0 → +0, as Go's max(y, 0)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ affine_relu
affine_done:
	VZEROUPPER
	RET

// func shiftedSumsAVX512(x *float32, n int, shift float32, out *[32]float32)
// out[0:16] = lane sums of x−shift, out[16:32] = lane sums of (x−shift)².
TEXT ·shiftedSumsAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Z1
	MOVQ out+24(FP), DI
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	SHRQ $4, CX
	JZ ss_done
ss_loop:
	VMOVUPS (SI), Z0
	VSUBPS Z1, Z0, Z0
	VADDPS Z0, Z2, Z2
	VFMADD231PS Z0, Z0, Z3
	ADDQ $64, SI
	DECQ CX
	JNZ ss_loop
ss_done:
	VMOVUPS Z2, (DI)
	VMOVUPS Z3, 64(DI)
	VZEROUPPER
	RET

// func dySumsAVX512(x, dy, mask *float32, n int, mu float32, out *[32]float32)
// out[0:16] = lane sums of g, out[16:32] = lane sums of g·(x−mu), where
// g = dy, or dy where mask ≠ 0 (else 0) when mask is non-nil.
TEXT ·dySumsAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ mask+16(FP), R8
	MOVQ n+24(FP), CX
	VBROADCASTSS mu+32(FP), Z1
	MOVQ out+40(FP), DI
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	SHRQ $4, CX
	JZ ds_done
	TESTQ R8, R8
	JNZ ds_masked
ds_loop:
	VMOVUPS (DX), Z4
	VMOVUPS (SI), Z0
	VSUBPS Z1, Z0, Z0
	VADDPS Z4, Z2, Z2
	VFMADD231PS Z0, Z4, Z3
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNZ ds_loop
	JMP ds_done
ds_masked:
	VMOVUPS (R8), Z5
	VPTESTMD Z5, Z5, K1
	VMOVUPS.Z (DX), K1, Z4
	VMOVUPS (SI), Z0
	VSUBPS Z1, Z0, Z0
	VADDPS Z4, Z2, Z2
	VFMADD231PS Z0, Z4, Z3
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNZ ds_masked
ds_done:
	VMOVUPS Z2, (DI)
	VMOVUPS Z3, 64(DI)
	VZEROUPPER
	RET

// func bnDxAVX512(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool)
// c = {mu, invstd, k, m, a, b}: with g = dy (gated by mask ≠ 0 when mask
// is non-nil) and xhat = (x−mu)·invstd, dx += k·((m·g − a) − xhat·b)
// (dx = … when fresh), in the Go loop's order of operations.
TEXT ·bnDxAVX512(SB), NOSPLIT, $0-49
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ mask+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	MOVBLZX fresh+48(FP), BX
	VBROADCASTSS 0(AX), Z10
	VBROADCASTSS 4(AX), Z11
	VBROADCASTSS 8(AX), Z12
	VBROADCASTSS 12(AX), Z13
	VBROADCASTSS 16(AX), Z14
	VBROADCASTSS 20(AX), Z15
	SHRQ $4, CX
	JZ dx_done
dx_loop:
	VMOVUPS (SI), Z0
	VSUBPS Z10, Z0, Z0
	VMULPS Z11, Z0, Z0
	VMULPS Z15, Z0, Z0
	TESTQ R8, R8
	JZ dx_plain
	VMOVUPS (R8), Z5
	VPTESTMD Z5, Z5, K1
	VMOVUPS.Z (DX), K1, Z4
	ADDQ $64, R8
	JMP dx_have
dx_plain:
	VMOVUPS (DX), Z4
dx_have:
	VMULPS Z13, Z4, Z4
	VSUBPS Z14, Z4, Z4
	VSUBPS Z0, Z4, Z4
	VMULPS Z12, Z4, Z4
	TESTQ BX, BX
	JNZ dx_store
	VADDPS (DI), Z4, Z4
dx_store:
	VMOVUPS Z4, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ dx_loop
dx_done:
	VZEROUPPER
	RET

// func addReLUAVX512(y, a, b *float32, n int)
// y = max(a+b, 0), as Go's max (NaN propagates, −0 gives +0).
TEXT ·addReLUAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	VPXORD Z3, Z3, Z3
	SHRQ $4, CX
	JZ ar_done
ar_loop:
	VMOVUPS (SI), Z0
	VADDPS (DX), Z0, Z0
	VMAXPS Z0, Z3, Z0
	VADDPS Z3, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ ar_loop
ar_done:
	VZEROUPPER
	RET

// func gateAddAVX512(d, d2, dout, y *float32, n int, fresh, fresh2 bool)
// d += dout where y ≠ 0 (y is a ReLU output), likewise d2 when non-nil;
// a fresh destination is overwritten instead (0 + …).
TEXT ·gateAddAVX512(SB), NOSPLIT, $0-42
	MOVQ d+0(FP), DI
	MOVQ d2+8(FP), R9
	MOVQ dout+16(FP), SI
	MOVQ y+24(FP), DX
	MOVQ n+32(FP), CX
	MOVBLZX fresh+40(FP), AX
	MOVBLZX fresh2+41(FP), BX
	VPXORD Z3, Z3, Z3
	SHRQ $4, CX
	JZ ga_done
ga_loop:
	VMOVUPS (DX), Z5
	VPTESTMD Z5, Z5, K1
	VMOVUPS.Z (SI), K1, Z4
	VMOVAPS Z4, Z0
	TESTQ AX, AX
	JNZ ga_fresh
	VADDPS (DI), Z4, Z0
	JMP ga_store
ga_fresh:
	VADDPS Z3, Z4, Z0
ga_store:
	VMOVUPS Z0, (DI)
	TESTQ R9, R9
	JZ ga_next
	TESTQ BX, BX
	JNZ ga_fresh2
	VADDPS (R9), Z4, Z1
	JMP ga_store2
ga_fresh2:
	VADDPS Z3, Z4, Z1
ga_store2:
	VMOVUPS Z1, (R9)
	ADDQ $64, R9
ga_next:
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ ga_loop
ga_done:
	VZEROUPPER
	RET

// func gather2AVX512(dst, src *float32, rows, n, dstStride, srcStride int, idx *[16]int32)
// dst[r·dstStride + j] = src[r·srcStride + 2j] for r < rows, j < n (n ≥ 1):
// a stride-2 im2col row, 16 outputs per step from two masked 16-float
// loads and one VPERMI2PS (idx = 0, 2, …, 30). Nothing past src[r·srcStride
// + 2(n−1)] is read and nothing past dst[r·dstStride + n − 1] written.
TEXT ·gather2AVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), R10
	MOVQ dstStride+32(FP), R14
	MOVQ srcStride+40(FP), R15
	MOVQ idx+48(FP), AX
	VMOVDQU32 (AX), Z9
	SHLQ $2, R14
	SHLQ $2, R15
	TESTQ R8, R8
	JZ g2_done
	TESTQ R10, R10
	JZ g2_done
g2_row:
	XORQ R11, R11
g2_chunk:
	MOVQ R10, AX
	SUBQ R11, AX
	CMPQ AX, $16
	JLE g2_c
	MOVQ $16, AX
g2_c:
	MOVQ AX, CX
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K1
	LEAQ -1(AX)(AX*1), DX
	MOVQ DX, CX
	CMPQ CX, $16
	JLE g2_m1
	MOVQ $16, CX
g2_m1:
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K2
	SUBQ $16, DX
	JG g2_m2
	XORQ DX, DX
g2_m2:
	MOVQ DX, CX
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K3
	LEAQ (SI)(R11*8), R12
	LEAQ (DI)(R11*4), R13
	VMOVUPS.Z (R12), K2, Z1
	VMOVUPS.Z 64(R12), K3, Z2
	VMOVDQA32 Z9, Z0
	VPERMI2PS Z2, Z1, Z0
	VMOVUPS Z0, K1, (R13)
	ADDQ $16, R11
	CMPQ R11, R10
	JLT g2_chunk
	ADDQ R15, SI
	ADDQ R14, DI
	DECQ R8
	JNZ g2_row
g2_done:
	VZEROUPPER
	RET

// func scatterAdd2AVX512(dst, src *float32, rows, n, dstStride, srcStride int)
// dst[r·dstStride + 2j] += src[r·srcStride + j] for r < rows, j < n (the
// adjoint of gather2AVX512): per 16 sources, VEXPANDPS spreads them over
// the even lanes of two 16-float vectors, added (merge-masked, odd lanes
// untouched) into masked loads of dst. Nothing past dst[r·dstStride +
// 2(n−1)] or src[r·srcStride + n − 1] is touched.
TEXT ·scatterAdd2AVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), R10
	MOVQ dstStride+32(FP), R14
	MOVQ srcStride+40(FP), R15
	SHLQ $2, R14
	SHLQ $2, R15
	TESTQ R8, R8
	JZ s2_done
	TESTQ R10, R10
	JZ s2_done
s2_row:
	XORQ R11, R11
s2_chunk:
	MOVQ R10, AX
	SUBQ R11, AX
	CMPQ AX, $16
	JLE s2_c
	MOVQ $16, AX
s2_c:
	LEAQ -1(AX)(AX*1), DX
	MOVQ DX, CX
	CMPQ CX, $16
	JLE s2_m1
	MOVQ $16, CX
s2_m1:
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K2
	ANDQ $0x5555, BX
	KMOVW BX, K4
	SUBQ $16, DX
	JG s2_m2
	XORQ DX, DX
s2_m2:
	MOVQ DX, CX
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K3
	ANDQ $0x5555, BX
	KMOVW BX, K5
	LEAQ (DI)(R11*8), R12
	LEAQ (SI)(R11*4), R13
	VMOVUPS.Z (R12), K2, Z0
	VEXPANDPS.Z (R13), K4, Z1
	VADDPS Z1, Z0, K4, Z0
	VMOVUPS Z0, K2, (R12)
	KORTESTW K5, K5
	JZ s2_next
	VMOVUPS.Z 64(R12), K3, Z2
	VEXPANDPS.Z 32(R13), K5, Z3
	VADDPS Z3, Z2, K5, Z2
	VMOVUPS Z2, K3, 64(R12)
s2_next:
	ADDQ $16, R11
	CMPQ R11, R10
	JLT s2_chunk
	ADDQ R15, SI
	ADDQ R14, DI
	DECQ R8
	JNZ s2_row
s2_done:
	VZEROUPPER
	RET

// func copyRowsAVX512(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool)
// For r < rows: dst[r·dstStride + j] = src[r·srcStride + j] (+= when add)
// for j < cols, then dst[r·dstStride + cols + j] = 0 for j < zero (0 ≤
// zero ≤ 16). The row tails go through masks: nothing outside those
// ranges is read or written. (Padding planes for the implicit-GEMM
// convolution and compacting its output grid.)
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-57
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ cols+24(FP), R9
	MOVQ dstStride+32(FP), R10
	MOVQ srcStride+40(FP), R11
	MOVQ zero+48(FP), R12
	MOVBLZX add+56(FP), R13
	SHLQ $2, R10
	SHLQ $2, R11
	// K1: the cols%16 tail lanes; K2: the zero lanes
	MOVQ R9, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ R12, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	VPXORD Z3, Z3, Z3
	MOVQ R9, BX
	SHRQ $4, BX // full vectors per row
	TESTQ R8, R8
	JZ cr_done
cr_row:
	MOVQ DI, AX
	MOVQ SI, DX
	MOVQ BX, CX
	TESTQ CX, CX
	JZ cr_tail
cr_vec:
	VMOVUPS (DX), Z0
	TESTQ R13, R13
	JZ cr_store
	VADDPS (AX), Z0, Z0
cr_store:
	VMOVUPS Z0, (AX)
	ADDQ $64, AX
	ADDQ $64, DX
	DECQ CX
	JNZ cr_vec
cr_tail:
	VMOVUPS.Z (DX), K1, Z0
	TESTQ R13, R13
	JZ cr_tstore
	VMOVUPS.Z (AX), K1, Z1
	VADDPS Z1, Z0, Z0
cr_tstore:
	VMOVUPS Z0, K1, (AX)
	// the zero run starts right after the row's cols floats
	MOVQ R9, CX
	SHLQ $2, CX
	VMOVUPS Z3, K2, (DI)(CX*1)
	ADDQ R10, DI
	ADDQ R11, SI
	DECQ R8
	JNZ cr_row
cr_done:
	VZEROUPPER
	RET
