package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

const script = "../../scripts/bench_engine.py"

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		check  func(*options) bool
		errHas string
	}{
		{name: "defaults", args: nil, check: func(o *options) bool {
			return o.Batch == 256 && o.Rounds == 5 && o.Steps == 4 && o.Warmup == 2 && o.PyTorch && o.Python == "/usr/bin/python3" &&
				o.Model == "refnet" && o.C == 1 && o.H == 28 && o.W == 28
		}},
		{name: "model and input", args: []string{"-model", "resnet18-cifar", "-input", "3x32x32"}, check: func(o *options) bool {
			return o.Model == "resnet18-cifar" && o.C == 3 && o.H == 32 && o.W == 32
		}},
		{name: "unknown model", args: []string{"-model", "vit"}, errHas: "choose one of refnet"},
		{name: "bad input", args: []string{"-input", "3x32"}, errHas: "want CxHxW"},
		{name: "input with junk", args: []string{"-input", "3x32x32x1"}, errHas: "want CxHxW"},
		{name: "ours only", args: []string{"-pytorch=false", "-gemm", "go", "-cpuprofile", "x.prof"}, check: func(o *options) bool {
			return !o.PyTorch && o.Backend == "go" && o.CPUProfile == "x.prof"
		}},
		{name: "zero batch", args: []string{"-batch", "0"}, errHas: "-batch=0: must be at least 1"},
		{name: "negative warmup", args: []string{"-warmup", "-1"}, errHas: "-warmup=-1"},
		{name: "stray argument", args: []string{"fast"}, errHas: "takes only flags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, &bytes.Buffer{})
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Fatalf("options %+v", o)
			}
		})
	}
}

// TestConvTrainFlops pins DESIGN.md's count: 109.28 M conv FLOPs per 1×28×28
// image per training step, 27.98 GFLOP at batch 256.
func TestConvTrainFlops(t *testing.T) {
	if got := convTrainFlops(1, 1, 28); math.Abs(got-109.28e6) > 0.005e6 {
		t.Errorf("per image: %.0f, want 109.28 M", got)
	}
	if got := convTrainFlops(256, 1, 28); math.Abs(got-27.98e9) > 0.005e9 {
		t.Errorf("batch 256: %.0f, want 27.98 G", got)
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{5}, 5}, {nil, 0}}
	for _, tc := range cases {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTorchSideErrors(t *testing.T) {
	cases := []struct {
		name   string
		o      options
		errHas string
	}{
		{"missing script", options{Batch: 2, Python: "/usr/bin/python3", Script: "no/such/bench_engine.py"}, "pass -script"},
		{"missing interpreter", options{Batch: 2, Python: "/no/such/python3", Script: script}, "install Debian's python3-torch"},
		{"script crashes", options{Batch: 2, Python: "/bin/sh", Script: script}, "exited early"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := startTorch(context.Background(), &tc.o)
			if err == nil {
				p.close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %q lacks %q", err, tc.errHas)
			}
		})
	}
}
