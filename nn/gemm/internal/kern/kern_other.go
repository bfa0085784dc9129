//go:build !amd64 || purego

package kern

// Available lists the assembly kernels this CPU can run: none on this
// architecture or with -tags purego.
func Available() []Kernel { return nil }

// DotNT4x4 returns nil: no assembly kernels here.
func DotNT4x4() func(k int, a *float32, lda int, b *float32, ldb int, out *[16]float32) {
	return nil
}
