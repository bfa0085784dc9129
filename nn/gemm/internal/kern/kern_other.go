//go:build !amd64 || purego

package kern

// Available lists the assembly kernels this CPU can run: none on this
// architecture or with -tags purego.
func Available() []Kernel { return nil }

// DotNT4x4 lists the dot-product kernels this CPU can run: none here.
func DotNT4x4() []DotFunc { return nil }

// PackT32 returns nil: no assembly packing kernel here.
func PackT32() func(dst, src *float32, kl int, idx *[32]int32) { return nil }
