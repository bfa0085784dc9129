//go:build amd64 && !purego

package kern

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func amxTapsBF16(cfg *[64]byte, taps, kb int, a, b *float32, ldb int, offs *int, c *float32, ldc, nb int)

//go:noescape
func pairsBF16AVX512(dst, lo, hi *float32, n int)

// amxConfig is the tile configuration amxTapsBF16 loads: palette 1, eight
// tiles of 16 rows × 64 bytes.
var amxConfig = func() (c [64]byte) {
	c[0] = 1
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

// amxPermission asks Linux for the AMX tile state (arch_prctl
// ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA: once per process, Linux 5.16+);
// until it is granted the tile instructions fault.
var amxPermission = sync.OnceValue(func() error {
	if !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 {
		return errors.New("this CPU lacks AMX-BF16 (Intel Sapphire Rapids or later)")
	}
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	if _, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0); e != 0 {
		return fmt.Errorf("the kernel refused AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM: %v; Linux 5.16 or later is needed)", e)
	}
	return nil
})

// AMXBF16 reports whether the AMX bf16 kernels can run here, and if not why.
func AMXBF16() error { return amxPermission() }

// AMXTapsBF16 computes nb blocks of 32×32 of C (rows ldc floats apart) as
// Σ_{t<taps} Σ_{i<kb} A(t,i)·B(t,i,j) on bf16 pairs with float32 sums:
// A(t,i) is 32 rows × 32 values of k packed as two 16×16-word tiles at
// a[(t·kb+i)·512:], B(t,i,j) is 16 rows of pair words ldb apart from
// b[offs[t]+16·i·ldb+32·j]. Call it only when AMXBF16 is nil; the caller
// checks the bounds.
func AMXTapsBF16(taps, kb int, a, b []float32, ldb int, offs []int, c []float32, ldc, nb int) {
	amxTapsBF16(&amxConfig, taps, kb, &a[0], &b[0], ldb, &offs[0], &c[0], ldc, nb)
}

// PairsBF16 sets dst[q] to the bf16 pair word of lo[q] (lower half) and
// hi[q] for q < len(dst), with AVX-512 where there is some (n ≥ 16).
func PairsBF16(dst, lo, hi []float32, fallback func(lo, hi float32) float32) {
	lo, hi = lo[:len(dst)], hi[:len(dst)]
	if v := len(dst) &^ 15; v > 0 && cpu.X86.HasAVX512F {
		pairsBF16AVX512(&dst[0], &lo[0], &hi[0], v)
		dst, lo, hi = dst[v:], lo[v:], hi[v:]
	}
	for q := range dst {
		dst[q] = fallback(lo[q], hi[q])
	}
}

//go:noescape
func amxTapsNTBF16(cfg *[64]byte, taps, kb int, a *float32, lda int, offs *int, b *float32, ldb int, c *float32, ldc, tapStride int)

//go:noescape
func cvtBF16AVX512(dst, src *float32, n int)

// AMXTapsNTBF16 adds, for t < taps, Σ_{i<kb} A_t(i)·B(i) into the 32×32
// block of C_t at c[t·tapStride:] (rows ldc floats apart): A_t(i) is 32
// rows (lda bf16 values apart) of 32 consecutive bf16 values starting at
// value offs[t] + 32·i of a (a holds two bf16 values per float32 slot);
// B(i) is 16 rows of pair words (ldb apart) × 32 columns from b[16·i·ldb].
// Call it only when AMXBF16 is nil; the caller checks the bounds.
func AMXTapsNTBF16(taps, kb int, a []float32, lda int, offs []int, b []float32, ldb int, c []float32, ldc, tapStride int) {
	amxTapsNTBF16(&amxConfig, taps, kb, &a[0], 2*lda, &offs[0], &b[0], 4*ldb, &c[0], 4*ldc, 4*tapStride)
}

// ConvertBF16 writes the bf16 of src[q] as the q-th 16-bit value of dst
// (which holds two per float32 slot: len(dst) ≥ ceil(len(src)/2)), with
// AVX-512 where there is some.
func ConvertBF16(dst, src []float32, one func(float32) uint16) {
	d16 := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))[:len(src)]
	if v := len(src) &^ 15; v > 0 && cpu.X86.HasAVX512F {
		cvtBF16AVX512(&dst[0], &src[0], v)
		d16, src = d16[v:], src[v:]
	}
	for q, f := range src {
		d16[q] = one(f)
	}
}
