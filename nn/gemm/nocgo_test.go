//go:build !cgo || noopenblas

package gemm

import (
	"strings"
	"testing"
)

func TestWithoutCgoTheGoBackendIsDefault(t *testing.T) {
	if got := Default().Name(); got != "go" {
		t.Fatalf("Default() = %s, want go in a build without OpenBLAS", got)
	}
	_, err := Parse("openblas")
	if err == nil || !strings.Contains(err.Error(), "not compiled into this binary") {
		t.Fatalf("Parse(openblas) without cgo: error %v should say it is not compiled in", err)
	}
}
