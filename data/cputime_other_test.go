//go:build !linux

package data

// threadCPU is not available here; benchmarks then report wall time only.
func threadCPU() float64 { return 0 }
