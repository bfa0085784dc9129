// Package rusage reads this process's resource usage (getrusage), for the
// numbers bench run records per run and bench-engine prints.
package rusage

import "syscall"

// PeakRSS is this process's peak resident set size in bytes (0 when the
// system does not say).
func PeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // KiB on Linux
}

// CPUSeconds is this process's user+system CPU time in seconds, all
// threads together (0 when the system does not say).
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
