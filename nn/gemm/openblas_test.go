//go:build cgo && !noopenblas

package gemm

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestOpenBLASIsDefaultAndReportsItsKernel(t *testing.T) {
	if got := Default().Name(); got != "openblas" {
		t.Fatalf("Default() = %s, want openblas when cgo is on", got)
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
