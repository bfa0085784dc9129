package run

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/results"
)

// TestExitCodes runs the real bench binary with the real toy and simsiam
// plugins and checks the documented exit codes: 0 when every run has a
// result, 3 when any run failed (with "failed" and the reason in the
// printed table and the report), 2 for usage errors found before anything
// runs — including option values out of their range, NaN, and a
// non-integer epoch budget in sweep.yaml, all rejected by --dry-run.
//
// toy.dim=-1 fails in the toy method's Init (the toy spec declares no
// range), so it is a run failure rather than a plan-time error.
func TestExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bench binary")
	}
	bin := buildBinaries(t)
	tmp := t.TempDir()
	yml := filepath.Join(tmp, "sweep.yaml")
	if err := os.WriteFile(yml, []byte("methods: [toy]\nepochs: [2.5]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	small := []string{"--epochs", "1", "--batch-sizes", "64", "--train-limit", "256", "--test-limit", "100", "--transfer", "none", "--no-baselines"}
	cases := []struct {
		name     string
		args     []string // after "run", before --out
		wantCode int
		wantOut  []string // substrings of stdout+stderr
		notOut   []string
		report   []string // substrings of report.md; nil: not checked
		noDir    bool     // the results directory must not be created
		env      []string // added to the environment
	}{
		{name: "all completed", args: []string{"--methods", "toy"}, wantCode: 0,
			wantOut: []string{"completed"}, notOut: []string{"failed"}},
		{name: "all failed", args: []string{"--methods", "toy", "--set", "toy.dim=-1"}, wantCode: 3,
			wantOut: []string{"failed      failed  failed", "why: init method toy", "1 of 1 runs failed"},
			notOut:  []string{"0.0%"},
			report:  []string{"failed ‡", "option dim = -1"}},
		{name: "partly failed", args: []string{"--methods", "toy", "--set", "toy.dim=-1,16"}, wantCode: 3,
			wantOut: []string{"completed", "failed      failed  failed", "1 of 2 runs failed"},
			report:  []string{"failed ‡"}},
		{name: "unknown flag", args: []string{"--nosuch"}, wantCode: 2, wantOut: []string{"unknown flag: --nosuch"}, noDir: true},
		{name: "bad flag value", args: []string{"--epochs", "two"}, wantCode: 2, wantOut: []string{"--epochs"}, noDir: true},
		{name: "extra argument", args: []string{"extra"}, wantCode: 2, noDir: true},
		{name: "option below its range, dry run", args: []string{"--methods", "simsiam", "--set", "simsiam.dim=-1", "--dry-run"}, wantCode: 2,
			wantOut: []string{"method simsiam: option dim=-1: must be ≥ 1"}, notOut: []string{"estimated time"}, noDir: true},
		{name: "one variant out of range", args: []string{"--methods", "simsiam", "--set", "simsiam.hidden=64,0"}, wantCode: 2,
			wantOut: []string{"option hidden=0: must be ≥ 1"}, noDir: true},
		{name: "NaN hyperparameter, dry run", args: []string{"--methods", "simsiam", "--set", "simsiam.base_lr=NaN", "--dry-run"}, wantCode: 2,
			wantOut: []string{"base_lr=NaN: not a finite number"}, notOut: []string{"json: unsupported value"}, noDir: true},
		{name: "unknown precision", args: []string{"--methods", "toy", "--precision", "fp16", "--dry-run"}, wantCode: 2,
			wantOut: []string{`precision "fp16": use fp32 or bf16`}, noDir: true},
		// bf16 where it cannot run (here a backend without AMX products;
		// on a CPU without AMX the reason is the CPU): refused, not emulated
		{name: "bf16 on the naive backend", args: []string{"--methods", "toy", "--precision", "bf16"}, wantCode: 2,
			env: []string{"SIAMBENCH_GEMM=naive"}, wantOut: []string{"--precision bf16: bf16", "use fp32"}, noDir: true},
		{name: "YAML epochs 2.5", args: []string{"--config", yml, "--dry-run"}, wantCode: 2,
			wantOut: []string{"epochs: 2.5 is not an integer"}, noDir: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(tmp, "out", string(rune('a'+i)))
			args := append(append([]string{"run"}, tc.args...), small...)
			args = append(args, "--out", out)
			cmd := exec.Command(filepath.Join(bin, "bench"), args...)
			cmd.Env = append(append(os.Environ(), "SIAMBENCH_PLUGIN_PATH="), tc.env...)
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d:\n%s", code, tc.wantCode, &buf)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, &buf)
				}
			}
			for _, w := range tc.notOut {
				if strings.Contains(buf.String(), w) {
					t.Errorf("output has %q:\n%s", w, &buf)
				}
			}
			if tc.noDir {
				if _, err := os.Stat(out); err == nil {
					t.Error("a usage error created the results directory")
				}
			}
			if tc.report != nil {
				md, err := os.ReadFile(filepath.Join(out, "report.md"))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range tc.report {
					if !strings.Contains(string(md), w) {
						t.Errorf("report.md lacks %q:\n%s", w, md)
					}
				}
				if strings.Contains(string(md), "no result (n=0") {
					t.Errorf("report.md shows a failed run as 'no result':\n%s", md)
				}
				var s results.Summary
				if err := results.ReadJSON(filepath.Join(out, results.SummaryFile), &s); err != nil {
					t.Fatal(err)
				}
				for _, r := range s.Runs {
					if r.Status == results.StatusFailed && r.Error == "" {
						t.Errorf("failed run without a reason: %+v", r)
					}
				}
			}
		})
	}
}
