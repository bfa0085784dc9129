package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/siambench/siambench/internal/rusage"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/nn/optim"
)

// options are the command's flags.
type options struct {
	Batch      int
	Model      string // a backbone of nn/models
	Input      string // CxHxW as given
	C, H, W    int    // parsed from Input
	Rounds     int    // alternating rounds of ours then PyTorch
	Steps      int    // timed steps per engine per round
	Warmup     int    // untimed steps per engine before the first round
	Seed       uint64
	PyTorch    bool   // run the PyTorch side (false: ours only, e.g. for profiling)
	Python     string // interpreter with torch
	Script     string // scripts/bench_engine.py
	CPUProfile string // write a CPU profile of our timed steps here
	Backend    string // gemm backend name; "" reads $SIAMBENCH_GEMM
	Precision  string // fp32 or bf16 (nn.SetPrecision; PyTorch autocast)
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench-engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Batch, "batch", 256, "batch size")
	fs.StringVar(&o.Model, "model", "refnet", "backbone (with Linear(D→10) on top): "+strings.Join(models.Names(), ", "))
	fs.StringVar(&o.Input, "input", "1x28x28", "one image's shape, CxHxW (e.g. 3x32x32)")
	fs.IntVar(&o.Rounds, "rounds", 5, "alternating rounds (ours, then PyTorch)")
	fs.IntVar(&o.Steps, "steps", 4, "timed training steps per engine per round")
	fs.IntVar(&o.Warmup, "warmup", 2, "untimed warm-up steps per engine")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of weights and input")
	fs.BoolVar(&o.PyTorch, "pytorch", true, "also time PyTorch (false: ours only)")
	fs.StringVar(&o.Python, "python", "/usr/bin/python3", "Python interpreter with torch (Debian python3-torch)")
	fs.StringVar(&o.Script, "script", "scripts/bench_engine.py", "the PyTorch side")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of our timed steps to this file")
	fs.StringVar(&o.Precision, "precision", "fp32", "precision of the convolution products on both sides: fp32, or bf16 (ours on AMX, PyTorch's CPU autocast)")
	fs.StringVar(&o.Backend, "gemm", "", "gemm backend: go, go:KERNEL (e.g. go:avx2-6x16), gonum, naive (default: $"+gemm.EnvVar+", else go)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: bench-engine takes only flags", fs.Args())
	}
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{{"batch", o.Batch, 1}, {"rounds", o.Rounds, 1}, {"steps", o.Steps, 1}, {"warmup", o.Warmup, 0}} {
		if f.v < f.min {
			return nil, fmt.Errorf("-%s=%d: must be at least %d", f.name, f.v, f.min)
		}
	}
	if !slices.Contains(models.Names(), o.Model) {
		return nil, fmt.Errorf("-model %q: choose one of %s", o.Model, strings.Join(models.Names(), ", "))
	}
	if n, err := fmt.Sscanf(strings.ToLower(o.Input), "%dx%dx%d", &o.C, &o.H, &o.W); err != nil || n != 3 || o.C < 1 || o.H < 4 || o.W < 4 ||
		fmt.Sprintf("%dx%dx%d", o.C, o.H, o.W) != strings.ToLower(o.Input) {
		return nil, fmt.Errorf("-input %q: want CxHxW with C ≥ 1 and H, W ≥ 4, e.g. 1x28x28 or 3x32x32", o.Input)
	}
	return o, nil
}

// Main runs the command and returns its exit code: 0 on success, 2 for bad
// flags, 1 for any other failure (reported on stderr).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-engine:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := run(ctx, o, stdout, log); err != nil {
		fmt.Fprintln(stderr, "bench-engine:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, o *options, out io.Writer, log *slog.Logger) error {
	be, err := pickBackend(o.Backend)
	if err != nil {
		return err
	}
	gemm.Use(be)
	gemm.LogChoice(log)
	if err := nn.SetPrecision(nn.Precision(o.Precision)); err != nil {
		return fmt.Errorf("-precision %s: %w", o.Precision, err)
	}

	ours, err := newOurBench(o, o.Seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "gemm backend: %s (%s), GOMAXPROCS=%d, precision %s\n", be.Name(), be.Info(), runtime.GOMAXPROCS(0), nn.CurrentPrecision())
	var py *torchProc
	if o.PyTorch {
		py, err = startTorch(ctx, o)
		if err != nil {
			return err
		}
		defer py.close()
		if py.info.Params != ours.params() {
			return fmt.Errorf("the two %s networks differ: ours has %d parameters, PyTorch's %d; fix scripts/torch_backbones.py or nn/models so they match", o.Model, ours.params(), py.info.Params)
		}
		fmt.Fprintf(out, "parameters: ours %d, pytorch %d (match); torch %s with %d threads\n",
			ours.params(), py.info.Params, py.info.Torch, py.info.Threads)
	} else {
		fmt.Fprintf(out, "parameters: ours %d (PyTorch side off)\n", ours.params())
	}
	// Conv FLOPs per step: PyTorch's count (forward hooks on every conv);
	// without it, the closed form for refnet on square images.
	flops := 0.0
	switch {
	case py != nil:
		flops = py.info.ConvFlops
	case o.Model == "refnet" && o.H == o.W:
		flops = convTrainFlops(o.Batch, o.C, o.H)
	}
	if flops > 0 {
		fmt.Fprintf(out, "%s, batch %d, %dx%dx%d input: %.2f GFLOP of convolution per training step\n", o.Model, o.Batch, o.C, o.H, o.W, flops/1e9)
	} else {
		fmt.Fprintf(out, "%s, batch %d, %dx%dx%d input (conv FLOPs are counted by the PyTorch side)\n", o.Model, o.Batch, o.C, o.H, o.W)
	}

	// Warm-up: first steps allocate, fault pages in and fill pools.
	ours.timed(o.Warmup)
	if py != nil && o.Warmup > 0 {
		if _, _, err := py.steps(ctx, o.Warmup); err != nil {
			return err
		}
	}

	var stopProfile func()
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		stopProfile = pprof.StopCPUProfile
	}

	var ourTimes, ourCPU, torchTimes, torchCPU, roundRatios []float64
	for r := 1; r <= o.Rounds; r++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		ot, oc := ours.timed(o.Steps)
		ourTimes = append(ourTimes, ot...)
		ourCPU = append(ourCPU, oc...)
		line := fmt.Sprintf("round %d/%d: ours %.1f ms", r, o.Rounds, median(ot)*1e3)
		if py != nil {
			// The profile keeps running: this process sleeps on the pipe
			// meanwhile, and a CPU profile samples only CPU time.
			tt, tc, err := py.steps(ctx, o.Steps)
			if err != nil {
				return err
			}
			torchTimes = append(torchTimes, tt...)
			torchCPU = append(torchCPU, tc...)
			line += fmt.Sprintf(", pytorch %.1f ms", median(tt)*1e3)
			roundRatios = append(roundRatios, median(ot)/median(tt))
		}
		fmt.Fprintln(out, line+" (medians of", o.Steps, "steps)")
	}
	if stopProfile != nil {
		stopProfile()
	}

	peak := sgemmPeak(be)
	om := median(ourTimes)
	fmt.Fprintf(out, "sgemm peak (%s, 1024×1024×1024, best of 5): %.1f GFLOP/s\n", be.Name(), peak)
	eff := "conv FLOPs unknown without the PyTorch side"
	if flops > 0 {
		eff = fmt.Sprintf("%.1f GFLOP/s effective = %.0f%% of the sgemm peak", flops/om/1e9, 100*flops/om/1e9/peak)
	}
	fmt.Fprintf(out, "ours:    median %.1f ms/step over %d steps (min %.1f, max %.1f), %s\n",
		om*1e3, len(ourTimes), slices.Min(ourTimes)*1e3, slices.Max(ourTimes)*1e3, eff)
	fmt.Fprintf(out, "ours:    peak RSS %.0f MiB, median CPU time %.2f s/step (all threads)\n", float64(rusage.PeakRSS())/(1<<20), median(ourCPU))
	if py == nil {
		return nil
	}
	tm := median(torchTimes)
	fmt.Fprintf(out, "pytorch: median %.1f ms/step over %d steps (min %.1f, max %.1f), %.1f GFLOP/s effective, peak RSS %.0f MiB, median CPU time %.2f s/step (all threads)\n",
		tm*1e3, len(torchTimes), slices.Min(torchTimes)*1e3, slices.Max(torchTimes)*1e3, flops/tm/1e9, float64(py.peakRSS)/(1<<20), median(torchCPU))
	// the rounds alternate, so each round's ratio is a paired sample of
	// the same minutes: their spread is how far the machine's drift moves
	// the ratio in this run
	rs := make([]string, len(roundRatios))
	for i, r := range roundRatios {
		rs[i] = fmt.Sprintf("%.2f", r)
	}
	fmt.Fprintf(out, "ours/pytorch per-round step-time ratios: %s (min %.2f, max %.2f)\n",
		strings.Join(rs, " "), slices.Min(roundRatios), slices.Max(roundRatios))
	// CPU time per step does not depend on what else runs on the machine;
	// compare it with the wall-time ratio to judge whether the run was disturbed.
	fmt.Fprintf(out, "ours/pytorch CPU-time ratio: %.2f, best-step ratio: %.2f (least disturbed steps)\n",
		median(ourCPU)/median(torchCPU), slices.Min(ourTimes)/slices.Min(torchTimes))
	fmt.Fprintf(out, "ours/pytorch step-time ratio: %.2f\n", om/tm)
	return nil
}

func pickBackend(name string) (gemm.Backend, error) {
	if name == "" {
		return gemm.FromEnv()
	}
	b, err := gemm.Parse(name)
	if err != nil {
		return nil, fmt.Errorf("-gemm: %w", err)
	}
	return b, nil
}

// ---------------------------------------------------------------------------
// our side

// ourBench holds the network (-model with Linear(D→10) on top), its
// optimizer and one fixed batch.
type ourBench struct {
	model  *models.Classifier
	opt    *optim.SGD
	x      *nn.Tensor // (batch, C, H, W), N(0,1)
	labels []int
}

func newOurBench(o *options, seed uint64) (*ourBench, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b, err := models.New(o.Model, o.C, rng)
	if err != nil {
		return nil, err
	}
	m := models.NewClassifier(b, 10, rng)
	m.SetTraining(true)
	labels := make([]int, o.Batch)
	for i := range labels {
		labels[i] = rng.IntN(10)
	}
	return &ourBench{
		model:  m,
		opt:    optim.NewSGD([]optim.Group{{Params: m.Params()}}, 0.9, false),
		x:      nn.Randn(rng, 1, o.Batch, o.C, o.H, o.W),
		labels: labels,
	}, nil
}

func (b *ourBench) params() int {
	n := 0
	for _, p := range b.model.Params() {
		n += p.T.Len()
	}
	return n
}

// step is one training step: zero grads, forward, cross-entropy, backward
// handing the activations back to the engine's pools as it goes (as the
// harness's training loop does), SGD. It returns the loss.
func (b *ourBench) step() float32 {
	b.opt.ZeroGrad()
	loss := nn.CrossEntropy(b.model.Forward(b.x), b.labels)
	l := loss.Item()
	loss.BackwardFree()
	b.opt.Step(0.01)
	return l
}

// timed runs k steps and returns their wall times and this process's CPU
// times (all threads) in seconds.
func (b *ourBench) timed(k int) (wall, cpu []float64) {
	wall, cpu = make([]float64, k), make([]float64, k)
	for i := range wall {
		t0, c0 := time.Now(), rusage.CPUSeconds()
		b.step()
		wall[i], cpu[i] = time.Since(t0).Seconds(), rusage.CPUSeconds()-c0
	}
	return wall, cpu
}

// convTrainFlops is the convolution FLOP count of one training step of the
// reference network (2 FLOPs per multiply-add): every conv's forward and
// weight gradient, and the input gradient of convs 2-4 (conv 1's input
// needs none). 109.28 M per 1×28×28 image.
func convTrainFlops(batch, inChannels, size int) float64 {
	s2 := (size + 1) / 2
	layers := []struct {
		cin, cout, pix int
		dx             bool
	}{
		{inChannels, 32, size * size, false},
		{32, 32, size * size, true},
		{32, 64, s2 * s2, true},
		{64, 64, s2 * s2, true},
	}
	var total float64
	for _, l := range layers {
		fwd := 2 * float64(l.cin*9*l.cout*l.pix)
		if l.dx {
			total += 3 * fwd
		} else {
			total += 2 * fwd
		}
	}
	return total * float64(batch)
}

// sgemmPeak measures the backend's best GFLOP/s on a 1024³ product.
func sgemmPeak(be gemm.Backend) float64 {
	const n = 1024
	rng := rand.New(rand.NewPCG(7, 7))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = rng.Float32(), rng.Float32()
	}
	best := 0.0
	for range 5 {
		t0 := time.Now()
		be.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		best = max(best, 2*n*n*n/time.Since(t0).Seconds()/1e9)
	}
	return best
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
