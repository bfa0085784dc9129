//go:build amd64 && !purego

package kern

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

//go:noescape
func kernAVX512x8x32(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernAVX2x6x16(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// Detect returns the instruction sets of this CPU that the kernels use.
func Detect() Features {
	return Features{AVX512: cpu.X86.HasAVX512F, AVX2FMA: cpu.X86.HasAVX2 && cpu.X86.HasFMA}
}

// Available lists the assembly kernels this CPU can run, fastest first
// (AVX-512 8×32, AVX2+FMA 6×16); empty when it supports neither.
func Available() []Kernel { return AvailableFor(Detect()) }

// AvailableFor lists the assembly kernels a CPU with features f can run,
// fastest first. Tests use it to check the choice for CPU classes other
// than this one; only the kernels of Available may be called.
func AvailableFor(f Features) []Kernel {
	var ks []Kernel
	if f.AVX512 {
		ks = append(ks, Kernel{Name: "avx512-8x32", MR: 8, NR: 32, Fn: kernAVX512x8x32})
	}
	if f.AVX2FMA {
		ks = append(ks, Kernel{Name: "avx2-6x16", MR: 6, NR: 16, Fn: kernAVX2x6x16})
	}
	return ks
}

//go:noescape
func dotNT4x4AVX512(k int, a *float32, lda int, b *float32, ldb int, out *[16]float32)

//go:noescape
func dotNT4x4AVX2(k int, a *float32, lda int, b *float32, ldb int, out *[16]float32)

// DotNT4x4 lists the dot-product kernels this CPU can run, fastest first:
// each computes, for i, j < 4, out[4i+j] = Σ_{p<k} a[i·lda+p]·b[j·ldb+p],
// reading four rows of A and four of B along k (any k ≥ 0; nothing past a
// row's k-th element is read). Empty without AVX2/FMA.
func DotNT4x4() []DotFunc {
	var ks []DotFunc
	if cpu.X86.HasAVX512F {
		ks = append(ks, DotFunc{Name: "avx512-dot4x4", Fn: dotNT4x4AVX512})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, DotFunc{Name: "avx2-dot4x4", Fn: dotNT4x4AVX2})
	}
	return ks
}

//go:noescape
func packT32AVX512(dst, src *float32, kl int, idx *[32]int32)

// HasPackT32 reports whether PackT32 can run on this CPU (AVX-512).
func HasPackT32() bool { return cpu.X86.HasAVX512F }

// PackT32 packs a 32-column panel of a transposed B: dst[p·32 + j] =
// src[idx[j] + p] for p < kl, j < 32 (AVX-512 gathers). Call it only when
// HasPackT32. A plain function, not a func value, so that callers' idx
// arrays stay on the stack.
func PackT32(dst, src *float32, kl int, idx *[32]int32) { packT32AVX512(dst, src, kl, idx) }

//go:noescape
func packT8AVX(dst, src *float32, kl, ldb, nr int)

// HasPackT8 reports whether PackT8 can run on this CPU (AVX).
func HasPackT8() bool { return cpu.X86.HasAVX }

// PackT8 packs eight columns of a panel of a transposed B: dst[p·nr + j]
// = src[j·ldb + p] for j < 8, p < kl, kl a multiple of 8 (8×8 register
// transposes). Call it only when HasPackT8; the caller checks the bounds.
func PackT8(dst, src *float32, kl, ldb, nr int) { packT8AVX(dst, src, kl, ldb, nr) }

//go:noescape
func packA6AVX(dst, src *float32, kl, lda int)

// HasPackA6 reports whether PackA6 can run on this CPU (AVX).
func HasPackA6() bool { return cpu.X86.HasAVX }

// PackA6 packs a 6-row panel of A: dst[p·6 + i] = src[i·lda + p] for
// i < 6, p < kl, kl a multiple of 8. It also writes dst[kl·6] and
// dst[kl·6+1] (junk): the caller gives it that room and overwrites them.
// Call it only when HasPackA6; the caller checks the bounds.
func PackA6(dst, src *float32, kl, lda int) { packA6AVX(dst, src, kl, lda) }

//go:noescape
func packA8TAVX(dst, src *float32, kl, lda int)

// HasPackA8T reports whether PackA8T can run on this CPU (AVX).
func HasPackA8T() bool { return cpu.X86.HasAVX }

// PackA8T packs an 8-row panel of a transposed A: dst[p·8 + i] =
// src[p·lda + i] for p < kl, i < 8. Call it only when HasPackA8T; the
// caller checks the bounds.
func PackA8T(dst, src *float32, kl, lda int) { packA8TAVX(dst, src, kl, lda) }

//go:noescape
func tapsAVX512x8x48(taps, k int, a, b *float32, ldb int, offs *int, c *float32, ldc int)

//go:noescape
func tapsAVX2x6x16(taps, k int, a, b *float32, ldb int, offs *int, c *float32, ldc int)

//go:noescape
func tapsAccAVX2x6x16(taps, k int, a, b *float32, ldb int, offs *int, c *float32, ldc int)

// TapKernels lists the tap kernels this CPU can run, each named after the
// GEMM kernel of the same instruction set that it goes with (see TapFunc);
// the AVX-512 one has a wider tile than its GEMM kernel (8×48: the tap
// product never packs B, so a wider tile only saves broadcasts).
func TapKernels() []TapKernel {
	var ks []TapKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, TapKernel{Name: "avx512-8x32", MR: 8, NR: 48, Fn: tapsAVX512x8x48})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, TapKernel{Name: "avx2-6x16", MR: 6, NR: 16, Fn: tapsAVX2x6x16, Acc: tapsAccAVX2x6x16})
	}
	return ks
}
