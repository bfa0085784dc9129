//go:build !amd64 || purego

package kern

// Available lists the assembly kernels this CPU can run: none on this
// architecture or with -tags purego.
func Available() []Kernel { return nil }

// Detect reports no instruction set the kernels use: none are compiled in.
func Detect() Features { return Features{} }

// AvailableFor lists no kernels: none are compiled into this build.
func AvailableFor(Features) []Kernel { return nil }

// DotNT4x4 lists the dot-product kernels this CPU can run: none here.
func DotNT4x4() []DotFunc { return nil }

// HasPackT32 reports false: no assembly packing kernel here.
func HasPackT32() bool { return false }

// PackT32 is never called in this build (HasPackT32 is false).
func PackT32(dst, src *float32, kl int, idx *[32]int32) { panic("kern: no PackT32 in this build") }

// HasPackA8T reports false: no assembly packing kernel here.
func HasPackA8T() bool { return false }

// PackA8T is never called in this build (HasPackA8T is false).
func PackA8T(dst, src *float32, kl, lda int) { panic("kern: no PackA8T in this build") }

// TapKernels lists the tap kernels this CPU can run: none here.
func TapKernels() []TapKernel { return nil }

// HasPackT8 reports false: no assembly packing kernel here.
func HasPackT8() bool { return false }

// PackT8 is never called in this build (HasPackT8 is false).
func PackT8(dst, src *float32, kl, ldb, nr int) { panic("kern: no PackT8 in this build") }

// HasPackA6 reports false: no assembly packing kernel here.
func HasPackA6() bool { return false }

// PackA6 is never called in this build (HasPackA6 is false).
func PackA6(dst, src *float32, kl, lda int) { panic("kern: no PackA6 in this build") }
