//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX512 selects the AVX-512 row kernels of rowkern_amd64.s.
var useAVX512 = cpu.X86.HasAVX512F

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
