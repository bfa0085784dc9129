//go:build interop

// The tests that run the PyTorch side need Debian's python3-torch, which
// only the targets that compare against PyTorch install: `make test-interop`
// (and make bench-engine). Plain `go test` and `make test` leave them out.

package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn/models"
)

func havePyTorch(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Fatalf("the interop tests need Debian's python3-torch (%v): run `make test-interop`, which installs it", err)
	}
}

// TestTorchEndToEndSmallBatch runs the whole comparison, both engines, on a
// batch of 4: the parameter counts must match and the last line must be the
// ratio in the exact format the README and CI read.
func TestTorchEndToEndSmallBatch(t *testing.T) {
	havePyTorch(t)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"-batch", "4", "-rounds", "2", "-steps", "1", "-warmup", "1", "-script", script, "-gemm", "go"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", code, errb.String(), out.String())
	}
	s := out.String()
	for _, want := range []string{"parameters: ours 65834, pytorch 65834 (match)", "round 2/2: ours", "sgemm peak (go", "ours:    peak RSS", "pytorch: median", "ours/pytorch per-round step-time ratios: ", "ours/pytorch CPU-time ratio: "} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// one ratio per round (two here), and the range they span
	if m := regexp.MustCompile(`per-round step-time ratios: (\d+\.\d\d) (\d+\.\d\d) \(min (\d+\.\d\d), max (\d+\.\d\d)\)`).FindStringSubmatch(s); m == nil {
		t.Errorf("no per-round ratios for the 2 rounds:\n%s", s)
	} else {
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		if v[2] != min(v[0], v[1]) || v[3] != max(v[0], v[1]) {
			t.Errorf("per-round ratios %s %s, but min %s max %s", m[1], m[2], m[3], m[4])
		}
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^ours/pytorch step-time ratio: \d+\.\d\d$`).MatchString(last) {
		t.Errorf("last line %q is not the ratio line", last)
	}
	if !strings.Contains(errb.String(), `msg="gemm backend" name=go`) {
		t.Errorf("the gemm backend was not logged; stderr:\n%s", errb.String())
	}
}

// Every backbone of nn/models has the same parameter count in the PyTorch
// definitions the benchmark times, and the PyTorch side's hook-based conv
// FLOP count equals refnet's closed form.
func TestTorchSideReportsSameFlopsAndParams(t *testing.T) {
	havePyTorch(t)
	for _, m := range models.Names() {
		o := &options{Batch: 3, Model: m, C: 3, H: 32, W: 32, Seed: 1, Precision: "fp32", Python: "/usr/bin/python3", Script: script}
		p, err := startTorch(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := newOurBench(o, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p.info.Params != ours.params() {
			t.Errorf("%s: parameters: PyTorch %d, ours %d", m, p.info.Params, ours.params())
		}
		if m == "refnet" && p.info.ConvFlops != convTrainFlops(3, 3, 32) {
			t.Errorf("PyTorch side counts %.0f conv FLOPs for refnet, the closed form %.0f", p.info.ConvFlops, convTrainFlops(3, 3, 32))
		}
		p.close()
	}
	p, err := startTorch(context.Background(), &options{Batch: 3, Model: "refnet", C: 1, H: 28, W: 28, Seed: 1, Precision: "fp32", Python: "/usr/bin/python3", Script: script})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.info.ConvFlops != convTrainFlops(3, 1, 28) {
		t.Errorf("PyTorch side counts %.0f conv FLOPs, ours %.0f", p.info.ConvFlops, convTrainFlops(3, 1, 28))
	}
	times, cpu, err := p.steps(context.Background(), 2)
	if err != nil || len(times) != 2 || times[0] <= 0 || len(cpu) != 2 || cpu[0] <= 0 {
		t.Fatalf("steps: %v, %v, %v", times, cpu, err)
	}
	if p.peakRSS <= 0 {
		t.Errorf("peak RSS %d", p.peakRSS)
	}
}
