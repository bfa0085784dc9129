//go:build !linux

package nn

// physicalMemory is unknown off Linux: the free lists keep their 1 GiB floor.
func physicalMemory() int64 { return 0 }
