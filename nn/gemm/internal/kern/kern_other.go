//go:build !amd64 || purego

package kern

// Available lists the assembly kernels this CPU can run: none on this
// architecture or with -tags purego.
func Available() []Kernel { return nil }
