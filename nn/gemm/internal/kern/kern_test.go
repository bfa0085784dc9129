package kern

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedAssemblyIsCurrent regenerates the kernels and compares them
// with the committed kernel_amd64.s, so a hand edit of the assembly or a
// generator change without `go generate` fails here.
func TestGeneratedAssemblyIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "kernel_amd64.s")
	cmd := exec.Command("go", "run", "gen_kernels.go", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen_kernels.go: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("kernel_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("kernel_amd64.s differs from what gen_kernels.go writes: run `go generate ./nn/gemm/internal/kern`")
	}
}
