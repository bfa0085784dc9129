//go:build cgo && !noopenblas

package gemm

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
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
// choice (an AVX-512 core keeps OpenBLAS, Prescott hands over to Go when Go
// has an AVX2/AVX-512 kernel) and that the forced kernel computes correct
// products on this CPU.
func TestOpenBLASPassedOverOnlyForOldCores(t *testing.T) {
	if os.Getenv("GEMM_TEST_CHILD") == "1" {
		fmt.Printf("CHOICE core=%s default=%s\n", OpenBLASCore(), Default().Name())
		// Is this forced kernel correct on this CPU? Compare with the
		// float64 reference on every transpose combination.
		rng := rand.New(rand.NewPCG(9, 9))
		for _, tc := range []gemmCase{{m: 129, n: 257, k: 300, alpha: 1, beta: 0.5}, {m: 33, n: 7, k: 1025, alpha: -1, beta: 0}} {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				aR, aC, bR, bC := tc.m, tc.k, tc.k, tc.n
				if tr[0] {
					aR, aC = aC, aR
				}
				if tr[1] {
					bR, bC = bC, bR
				}
				a, b, c := newMatrix(rng, aR, aC, 0), newMatrix(rng, bR, bC, 0), newMatrix(rng, tc.m, tc.n, 0)
				want, scale := refGemm(tr[0], tr[1], tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c)
				OpenBLAS{}.Sgemm(tr[0], tr[1], tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, c.data, c.ld)
				for i, w := range want {
					if math.Abs(float64(c.data[i])-w) > float64(tc.k+2)*0x1p-23*scale[i]+1e-30 {
						fmt.Printf("WRONG %s tA=%v tB=%v C[%d] = %g, want %g\n", tc, tr[0], tr[1], i, c.data[i], w)
						return
					}
				}
			}
		}
		fmt.Println("RESULTS OK")
		return
	}
	cases := []struct{ coretype, wantCore, wantDefault string }{
		{"Prescott", "Prescott", "go"},
		{"SkylakeX", "SkylakeX", "openblas"},
		{"Cooperlake", "Cooperlake", "openblas"},
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
			if !strings.Contains(string(out), "RESULTS OK") {
				t.Fatalf("OpenBLAS with OPENBLAS_CORETYPE=%s computed a wrong product on this CPU:\n%s", tc.coretype, out)
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
