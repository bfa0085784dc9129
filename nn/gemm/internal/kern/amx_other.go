//go:build !amd64 || purego

package kern

import (
	"errors"
	"unsafe"
)

// AMXBF16 reports why the AMX bf16 kernels cannot run: not on this platform.
func AMXBF16() error {
	return errors.New("AMX bf16 needs an amd64 CPU with AMX-BF16 (Intel Sapphire Rapids or later)")
}

// AMXTapsBF16 is never called off amd64 (AMXBF16 is an error).
func AMXTapsBF16(taps, kb int, a, b []float32, ldb int, offs []int, c []float32, ldc, nb int) {
	panic("unreachable")
}

// PairsBF16 sets dst[q] to the bf16 pair word of lo[q] and hi[q].
func PairsBF16(dst, lo, hi []float32, fallback func(lo, hi float32) float32) {
	for q := range dst {
		dst[q] = fallback(lo[q], hi[q])
	}
}

// AMXTapsNTBF16 is never called off amd64 (AMXBF16 is an error).
func AMXTapsNTBF16(taps, kb int, a []float32, lda int, offs []int, b []float32, ldb int, c []float32, ldc, tapStride int) {
	panic("unreachable")
}

// ConvertBF16 writes the bf16 of src[q] as the q-th 16-bit value of dst.
func ConvertBF16(dst, src []float32, one func(float32) uint16) {
	d16 := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))[:len(src)]
	for q, f := range src {
		d16[q] = one(f)
	}
}
