package rusage

import "testing"

func TestUsage(t *testing.T) {
	// Touch 64 MiB so the peak is at least that, then burn some CPU.
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i)
	}
	if got := PeakRSS(); got < 64<<20 {
		t.Errorf("PeakRSS = %d, want ≥ %d after touching 64 MiB", got, 64<<20)
	}
	x := 0
	for i := range 50_000_000 {
		x += i ^ int(b[i%len(b)])
	}
	if got := CPUSeconds(); got <= 0 {
		t.Errorf("CPUSeconds = %v after a busy loop (%d)", got, x)
	}
}
