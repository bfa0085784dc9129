//go:build !amd64 || purego

package nn

// No assembly row kernels in this build.
const (
	rowKernBuild = false
	useAVX512    = false
	hasAVX2FMA   = false
	useRowKern   = false
)

func affineAVX512(y, x *float32, n int, scale, shift float32, relu bool) { panic("unreachable") }

func shiftedSumsAVX512(x *float32, n int, shift float32, out *[32]float32) { panic("unreachable") }

func dySumsAVX512(x, dy, mask *float32, n int, mu float32, out *[32]float32) {
	panic("unreachable")
}

func bnDxAVX512(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool) { panic("unreachable") }

func addReLUAVX512(y, a, b *float32, n int) { panic("unreachable") }

func gateAddAVX512(d, d2, dout, y *float32, n int, fresh, fresh2 bool) { panic("unreachable") }

func gather2AVX512(dst, src *float32, rows, n, dstStride, srcStride int, idx *[16]int32) {
	panic("unreachable")
}

func scatterAdd2AVX512(dst, src *float32, rows, n, dstStride, srcStride int) {
	panic("unreachable")
}

func copyRowsAVX512(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool) {
	panic("unreachable")
}

func affineAVX2(y, x *float32, n int, scale, shift float32, relu bool) { panic("unreachable") }

func rowAffine(y, x *float32, n int, scale, shift float32, relu bool) { panic("unreachable") }

func shiftedSumsAVX2(x *float32, n int, shift float32, out *[32]float32) { panic("unreachable") }

func rowShiftedSums(x *float32, n int, shift float32, out *[32]float32) { panic("unreachable") }

func dySumsAVX2(x, dy, mask *float32, n int, mu float32, out *[32]float32) { panic("unreachable") }

func rowDySums(x, dy, mask *float32, n int, mu float32, out *[32]float32) { panic("unreachable") }

func bnDxAVX2(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool) { panic("unreachable") }

func rowBnDx(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool) { panic("unreachable") }

func addReLUAVX2(y, a, b *float32, n int) { panic("unreachable") }

func rowAddReLU(y, a, b *float32, n int) { panic("unreachable") }

func gateAddAVX2(d, d2, dout, y *float32, n int, fresh, fresh2 bool) { panic("unreachable") }

func rowGateAdd(d, d2, dout, y *float32, n int, fresh, fresh2 bool) { panic("unreachable") }

func copyRowsAVX2(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool) {
	panic("unreachable")
}

func rowCopyRows(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool) {
	panic("unreachable")
}
