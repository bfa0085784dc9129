package data

import "syscall"

// threadCPU returns the CPU time (user+system, seconds) of the calling OS
// thread; benchmarks lock their goroutine to a thread so that a loaded
// machine shows up as wall time, not as fewer views per CPU-second.
func threadCPU() float64 {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
