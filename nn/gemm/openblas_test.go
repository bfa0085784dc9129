//go:build cgo && !noopenblas

package gemm

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestOpenBLASIsDefaultAndReportsItsKernel(t *testing.T) {
	want := "openblas"
	if openBLASPassedOver() != "" {
		want = "go"
	}
	if got := Default().Name(); got != want {
		t.Fatalf("Default() = %s, want %s (OpenBLAS core %s, Go kernel %s)", got, want, OpenBLASCore(), cpuKernels()[0].name)
	}
	info := OpenBLAS{}.Info()
	for _, want := range []string{"threads=", "core=" + OpenBLASCore(), "config=OpenBLAS"} {
		if !strings.Contains(info, want) {
			t.Errorf("OpenBLAS.Info() = %q, missing %q", info, want)
		}
	}
	if OpenBLASThreads() < 1 || OpenBLASCore() == "" {
		t.Errorf("threads=%d core=%q", OpenBLASThreads(), OpenBLASCore())
	}
}

func TestLogChoiceWarnsAboutCoreType(t *testing.T) {
	cases := []struct {
		name     string
		coretype string // "" leaves OPENBLAS_CORETYPE unset
		warn     bool
	}{
		{"unset", "", false},
		{"haswell", "Haswell", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OPENBLAS_CORETYPE", tc.coretype)
			var buf bytes.Buffer
			logChoice(slog.New(slog.NewTextHandler(&buf, nil)), OpenBLAS{})
			out := buf.String()
			if !strings.Contains(out, "name=openblas") || !strings.Contains(out, "core=") {
				t.Fatalf("log %q does not name the backend and kernel core", out)
			}
			if got := strings.Contains(out, "level=WARN") && strings.Contains(out, "OPENBLAS_CORETYPE="+tc.coretype); got != tc.warn {
				t.Fatalf("warning logged = %v, want %v; log:\n%s", got, tc.warn, out)
			}
		})
	}
}

// TestOpenBLASPassedOverOnlyForOldCores runs a child test process under
// OPENBLAS_CORETYPE (OpenBLAS reads it at load time) and checks Default's
// choice: an AVX-512 core keeps OpenBLAS, Prescott hands over to Go when Go
// has an AVX2/AVX-512 kernel.
func TestOpenBLASPassedOverOnlyForOldCores(t *testing.T) {
	if os.Getenv("GEMM_TEST_CHILD") == "1" {
		fmt.Printf("CHOICE core=%s default=%s\n", OpenBLASCore(), Default().Name())
		return
	}
	cases := []struct{ coretype, wantCore, wantDefault string }{
		{"Prescott", "Prescott", "go"},
		{"SkylakeX", "SkylakeX", "openblas"},
		{"Haswell", "Haswell", "openblas"},
	}
	for _, tc := range cases {
		t.Run(tc.coretype, func(t *testing.T) {
			want := tc.wantDefault
			if cpuKernels()[0] == kernelGeneric {
				want = "openblas"
			}
			cmd := exec.Command(os.Args[0], "-test.run", "^TestOpenBLASPassedOverOnlyForOldCores$", "-test.v")
			cmd.Env = append(os.Environ(), "GEMM_TEST_CHILD=1", "OPENBLAS_CORETYPE="+tc.coretype)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			wantLine := fmt.Sprintf("CHOICE core=%s default=%s", tc.wantCore, want)
			if !strings.Contains(string(out), wantLine) {
				t.Fatalf("child output lacks %q:\n%s", wantLine, out)
			}
		})
	}
}

func TestLogChoiceExplainsPassingOverOpenBLAS(t *testing.T) {
	var buf bytes.Buffer
	logChoice(slog.New(slog.NewTextHandler(&buf, nil)), Default())
	passed := openBLASPassedOver() != ""
	if got := strings.Contains(buf.String(), "OpenBLAS is compiled in but not the default"); got != passed {
		t.Fatalf("explanation logged = %v, want %v (core %s); log:\n%s", got, passed, OpenBLASCore(), buf.String())
	}
}
