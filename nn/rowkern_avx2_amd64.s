//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA row kernels: the AVX-512 kernels of rowkern_amd64.s for CPUs
// without AVX-512 (AMD Zen 1-3, Intel before Skylake-SP). Same signatures,
// same n (a multiple of 16, the Go wrappers do the tails) and the same
// operations in the same order; the sums keep 16 lanes in two 8-float
// registers, so their lane sums are bit for bit those of the AVX-512
// kernels. A ReLU mask m (an output of max(·, 0)) keeps g where m's bits
// are non-zero: VPCMPEQD against zero, then VPANDN.

// rowmask<>: 8 all-ones int32 then 8 zeros; the 8 ints at +32−4t have the
// first t lanes set (VMASKMOVPS masks for a row's last t floats).
DATA rowmask<>+0(SB)/8, $0xffffffffffffffff
DATA rowmask<>+8(SB)/8, $0xffffffffffffffff
DATA rowmask<>+16(SB)/8, $0xffffffffffffffff
DATA rowmask<>+24(SB)/8, $0xffffffffffffffff
DATA rowmask<>+32(SB)/8, $0
DATA rowmask<>+40(SB)/8, $0
DATA rowmask<>+48(SB)/8, $0
DATA rowmask<>+56(SB)/8, $0
GLOBL rowmask<>(SB), RODATA|NOPTR, $64

// func affineAVX2(y, x *float32, n int, scale, shift float32, relu bool)
TEXT ·affineAVX2(SB), NOSPLIT, $0-33
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y1
	VBROADCASTSS shift+28(FP), Y2
	MOVBLZX relu+32(FP), AX
	VXORPS Y3, Y3, Y3
	SHRQ $4, CX
	JZ a2_done
	TESTQ AX, AX
	JNZ a2_relu
a2_loop:
	VMULPS (SI), Y1, Y0
	VMULPS 32(SI), Y1, Y4
	VADDPS Y2, Y0, Y0
	VADDPS Y2, Y4, Y4
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ a2_loop
	JMP a2_done
a2_relu:
	VMULPS (SI), Y1, Y0
	VMULPS 32(SI), Y1, Y4
	VADDPS Y2, Y0, Y0
	VADDPS Y2, Y4, Y4
	VMAXPS Y0, Y3, Y0
	VMAXPS Y4, Y3, Y4
	VADDPS Y3, Y0, Y0 // −0 → +0, as Go's max(y, 0)
	VADDPS Y3, Y4, Y4
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ a2_relu
a2_done:
	VZEROUPPER
	RET

// func shiftedSumsAVX2(x *float32, n int, shift float32, out *[32]float32)
TEXT ·shiftedSumsAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Y1
	MOVQ out+24(FP), DI
	VXORPS Y2, Y2, Y2
	VXORPS Y6, Y6, Y6
	VXORPS Y3, Y3, Y3
	VXORPS Y7, Y7, Y7
	SHRQ $4, CX
	JZ ss2_done
ss2_loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VSUBPS Y1, Y0, Y0
	VSUBPS Y1, Y4, Y4
	VADDPS Y0, Y2, Y2
	VADDPS Y4, Y6, Y6
	VFMADD231PS Y0, Y0, Y3
	VFMADD231PS Y4, Y4, Y7
	ADDQ $64, SI
	DECQ CX
	JNZ ss2_loop
ss2_done:
	VMOVUPS Y2, (DI)
	VMOVUPS Y6, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET

// func dySumsAVX2(x, dy, mask *float32, n int, mu float32, out *[32]float32)
TEXT ·dySumsAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ mask+16(FP), R8
	MOVQ n+24(FP), CX
	VBROADCASTSS mu+32(FP), Y1
	MOVQ out+40(FP), DI
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y15, Y15, Y15
	SHRQ $4, CX
	JZ ds2_done
	TESTQ R8, R8
	JNZ ds2_masked
ds2_loop:
	VMOVUPS (DX), Y4
	VMOVUPS 32(DX), Y10
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y9
	VSUBPS Y1, Y0, Y0
	VSUBPS Y1, Y9, Y9
	VADDPS Y4, Y2, Y2
	VADDPS Y10, Y6, Y6
	VFMADD231PS Y0, Y4, Y3
	VFMADD231PS Y9, Y10, Y7
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNZ ds2_loop
	JMP ds2_done
ds2_masked:
	VMOVUPS (R8), Y11
	VMOVUPS 32(R8), Y12
	VPCMPEQD Y15, Y11, Y11
	VPCMPEQD Y15, Y12, Y12
	VPANDN (DX), Y11, Y4
	VPANDN 32(DX), Y12, Y10
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y9
	VSUBPS Y1, Y0, Y0
	VSUBPS Y1, Y9, Y9
	VADDPS Y4, Y2, Y2
	VADDPS Y10, Y6, Y6
	VFMADD231PS Y0, Y4, Y3
	VFMADD231PS Y9, Y10, Y7
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNZ ds2_masked
ds2_done:
	VMOVUPS Y2, (DI)
	VMOVUPS Y6, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET

// func bnDxAVX2(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool)
// dx may be dy itself: each 16 floats of dy are read before the same 16
// of dx are written.
TEXT ·bnDxAVX2(SB), NOSPLIT, $0-49
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ mask+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	MOVBLZX fresh+48(FP), BX
	VBROADCASTSS 0(AX), Y10
	VBROADCASTSS 4(AX), Y11
	VBROADCASTSS 8(AX), Y12
	VBROADCASTSS 12(AX), Y13
	VBROADCASTSS 16(AX), Y14
	VBROADCASTSS 20(AX), Y15
	VXORPS Y9, Y9, Y9
	SHRQ $4, CX
	JZ bd2_done
bd2_loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSUBPS Y10, Y0, Y0
	VSUBPS Y10, Y1, Y1
	VMULPS Y11, Y0, Y0
	VMULPS Y11, Y1, Y1
	VMULPS Y15, Y0, Y0
	VMULPS Y15, Y1, Y1
	TESTQ R8, R8
	JZ bd2_plain
	VMOVUPS (R8), Y6
	VMOVUPS 32(R8), Y7
	VPCMPEQD Y9, Y6, Y6
	VPCMPEQD Y9, Y7, Y7
	VPANDN (DX), Y6, Y4
	VPANDN 32(DX), Y7, Y5
	ADDQ $64, R8
	JMP bd2_have
bd2_plain:
	VMOVUPS (DX), Y4
	VMOVUPS 32(DX), Y5
bd2_have:
	VMULPS Y13, Y4, Y4
	VMULPS Y13, Y5, Y5
	VSUBPS Y14, Y4, Y4
	VSUBPS Y14, Y5, Y5
	VSUBPS Y0, Y4, Y4
	VSUBPS Y1, Y5, Y5
	VMULPS Y12, Y4, Y4
	VMULPS Y12, Y5, Y5
	TESTQ BX, BX
	JNZ bd2_store
	VADDPS (DI), Y4, Y4
	VADDPS 32(DI), Y5, Y5
bd2_store:
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ bd2_loop
bd2_done:
	VZEROUPPER
	RET

// func addReLUAVX2(y, a, b *float32, n int)
TEXT ·addReLUAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	VXORPS Y3, Y3, Y3
	SHRQ $4, CX
	JZ ar2_done
ar2_loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	VMAXPS Y0, Y3, Y0
	VMAXPS Y1, Y3, Y1
	VADDPS Y3, Y0, Y0
	VADDPS Y3, Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ ar2_loop
ar2_done:
	VZEROUPPER
	RET

// func gateAddAVX2(d, d2, dout, y *float32, n int, fresh, fresh2 bool)
TEXT ·gateAddAVX2(SB), NOSPLIT, $0-42
	MOVQ d+0(FP), DI
	MOVQ d2+8(FP), R9
	MOVQ dout+16(FP), SI
	MOVQ y+24(FP), DX
	MOVQ n+32(FP), CX
	MOVBLZX fresh+40(FP), AX
	MOVBLZX fresh2+41(FP), BX
	VXORPS Y3, Y3, Y3
	SHRQ $4, CX
	JZ ga2_done
ga2_loop:
	VMOVUPS (DX), Y5
	VMOVUPS 32(DX), Y6
	VPCMPEQD Y3, Y5, Y5
	VPCMPEQD Y3, Y6, Y6
	VPANDN (SI), Y5, Y4
	VPANDN 32(SI), Y6, Y7
	TESTQ AX, AX
	JNZ ga2_fresh
	VADDPS (DI), Y4, Y0
	VADDPS 32(DI), Y7, Y1
	JMP ga2_store
ga2_fresh:
	VADDPS Y3, Y4, Y0
	VADDPS Y3, Y7, Y1
ga2_store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	TESTQ R9, R9
	JZ ga2_next
	TESTQ BX, BX
	JNZ ga2_fresh2
	VADDPS (R9), Y4, Y0
	VADDPS 32(R9), Y7, Y1
	JMP ga2_store2
ga2_fresh2:
	VADDPS Y3, Y4, Y0
	VADDPS Y3, Y7, Y1
ga2_store2:
	VMOVUPS Y0, (R9)
	VMOVUPS Y1, 32(R9)
	ADDQ $64, R9
ga2_next:
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ ga2_loop
ga2_done:
	VZEROUPPER
	RET

// func copyRowsAVX2(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool)
// copyRowsAVX512 on 8-float vectors: the cols%8 tail through VMASKMOVPS
// (skipped when empty), the zero run (any length) float by float.
TEXT ·copyRowsAVX2(SB), NOSPLIT, $0-57
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
	MOVQ R9, R14
	ANDQ $7, R14 // tail floats
	LEAQ rowmask<>+32(SB), AX
	MOVQ R14, CX
	SHLQ $2, CX
	SUBQ CX, AX
	VMOVDQU (AX), Y8
	MOVQ R9, BX
	SHRQ $3, BX // full vectors per row
	TESTQ R8, R8
	JZ cr2_done
cr2_row:
	MOVQ DI, AX
	MOVQ SI, DX
	MOVQ BX, CX
	TESTQ CX, CX
	JZ cr2_tail
cr2_vec:
	VMOVUPS (DX), Y0
	TESTQ R13, R13
	JZ cr2_store
	VADDPS (AX), Y0, Y0
cr2_store:
	VMOVUPS Y0, (AX)
	ADDQ $32, AX
	ADDQ $32, DX
	DECQ CX
	JNZ cr2_vec
cr2_tail:
	TESTQ R14, R14
	JZ cr2_zeros
	VMASKMOVPS (DX), Y8, Y0
	TESTQ R13, R13
	JZ cr2_tstore
	VMASKMOVPS (AX), Y8, Y1
	VADDPS Y1, Y0, Y0
cr2_tstore:
	VMASKMOVPS Y0, Y8, (AX)
cr2_zeros:
	LEAQ (DI)(R9*4), AX
	MOVQ R12, CX
	TESTQ CX, CX
	JZ cr2_next
cr2_zero:
	MOVL $0, (AX)
	ADDQ $4, AX
	DECQ CX
	JNZ cr2_zero
cr2_next:
	ADDQ R10, DI
	ADDQ R11, SI
	DECQ R8
	JNZ cr2_row
cr2_done:
	VZEROUPPER
	RET
