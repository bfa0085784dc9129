package mocov2

import (
	"testing"

	"github.com/siambench/siambench/sdk/sdktest"
)

// BenchmarkStep times one in-process step at the default options with a
// 64-wide backbone output and batch 256 (go test -bench Step -run '^$').
func BenchmarkStep(b *testing.B) { sdktest.BenchStep(b, New()) }
