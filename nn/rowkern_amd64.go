//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// The row kernels: AVX-512 (rowkern_amd64.s) where the CPU has it, else
// AVX2+FMA (rowkern_avx2_amd64.s), else none (the Go loops). useAVX512
// alone also selects the stride-2 gather and scatter, which have no AVX2
// kernel.
// rowKernBuild: this build has the assembly kernels (amd64, not purego).
const rowKernBuild = true

var (
	useAVX512  = cpu.X86.HasAVX512F
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useRowKern = useAVX512 || hasAVX2FMA
)

// The row* functions run the AVX-512 kernel where the CPU has it, else the
// AVX2 one; callers check useRowKern (and n a multiple of 16) first.

func rowAffine(y, x *float32, n int, scale, shift float32, relu bool) {
	if useAVX512 {
		affineAVX512(y, x, n, scale, shift, relu)
		return
	}
	affineAVX2(y, x, n, scale, shift, relu)
}

func rowShiftedSums(x *float32, n int, shift float32, out *[32]float32) {
	if useAVX512 {
		shiftedSumsAVX512(x, n, shift, out)
		return
	}
	shiftedSumsAVX2(x, n, shift, out)
}

func rowDySums(x, dy, mask *float32, n int, mu float32, out *[32]float32) {
	if useAVX512 {
		dySumsAVX512(x, dy, mask, n, mu, out)
		return
	}
	dySumsAVX2(x, dy, mask, n, mu, out)
}

func rowBnDx(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool) {
	if useAVX512 {
		bnDxAVX512(dx, x, dy, mask, n, c, fresh)
		return
	}
	bnDxAVX2(dx, x, dy, mask, n, c, fresh)
}

func rowAddReLU(y, a, b *float32, n int) {
	if useAVX512 {
		addReLUAVX512(y, a, b, n)
		return
	}
	addReLUAVX2(y, a, b, n)
}

func rowGateAdd(d, d2, dout, y *float32, n int, fresh, fresh2 bool) {
	if useAVX512 {
		gateAddAVX512(d, d2, dout, y, n, fresh, fresh2)
		return
	}
	gateAddAVX2(d, d2, dout, y, n, fresh, fresh2)
}

func rowCopyRows(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool) {
	if useAVX512 {
		copyRowsAVX512(dst, src, rows, cols, dstStride, srcStride, zero, add)
		return
	}
	copyRowsAVX2(dst, src, rows, cols, dstStride, srcStride, zero, add)
}

//go:noescape
func affineAVX512(y, x *float32, n int, scale, shift float32, relu bool)

//go:noescape
func shiftedSumsAVX512(x *float32, n int, shift float32, out *[32]float32)

//go:noescape
func dySumsAVX512(x, dy, mask *float32, n int, mu float32, out *[32]float32)

//go:noescape
func bnDxAVX512(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool)

//go:noescape
func addReLUAVX512(y, a, b *float32, n int)

//go:noescape
func gateAddAVX512(d, d2, dout, y *float32, n int, fresh, fresh2 bool)

//go:noescape
func gather2AVX512(dst, src *float32, rows, n, dstStride, srcStride int, idx *[16]int32)

//go:noescape
func scatterAdd2AVX512(dst, src *float32, rows, n, dstStride, srcStride int)

//go:noescape
func copyRowsAVX512(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool)

//go:noescape
func affineAVX2(y, x *float32, n int, scale, shift float32, relu bool)

//go:noescape
func shiftedSumsAVX2(x *float32, n int, shift float32, out *[32]float32)

//go:noescape
func dySumsAVX2(x, dy, mask *float32, n int, mu float32, out *[32]float32)

//go:noescape
func bnDxAVX2(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool)

//go:noescape
func addReLUAVX2(y, a, b *float32, n int)

//go:noescape
func gateAddAVX2(d, d2, dout, y *float32, n int, fresh, fresh2 bool)

//go:noescape
func copyRowsAVX2(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool)
