//go:build !unix

package gemm

// processCPUSeconds is unavailable here; the CPU-time metric reads 0.
func processCPUSeconds() float64 { return 0 }
