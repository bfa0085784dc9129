// Package kittest checks a method by what it learns: it plays the host on a
// small synthetic problem, in-process and in a second or two, and measures
// the kNN accuracy of the trained encoder against the same encoder at
// random init.
//
// The problem: each of Classes classes has a centre in a SignalDim-dim
// signal space (Spread times a unit axis); an instance is its class centre plus within-class noise,
// concatenated with NoiseDim nuisance coordinates of large variance. An
// augmented view keeps the instance's signal (plus a small jitter) and
// replaces the nuisance with a fresh draw, as colour jitter replaces colour.
// Nearest neighbours on raw inputs are dominated by the nuisance, so a
// random encoder is weak; a method that learns view invariance discards the
// nuisance and separates the classes. A collapsed method scores at chance.
//
// Shape legend: N=batch, I=input dim (SignalDim+NoiseDim), D=feature dim.
package kittest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// Config sets up a training run. Zero fields take the defaults in brackets.
type Config struct {
	Seed       int64
	Steps      int // training steps [400]
	Batch      int // images per step [128]
	FeatureDim int // D, the encoder's output width [32]
	Hidden     int // the encoder's hidden width [64]
	// LR is the peak lr of the encoder (SGD with the method's momentum and
	// weight decay, cosine decay to 0) and of the method's heads [0.1, the
	// same for every method: the methods' recommended lrs are for real
	// backbones and epochs, far longer than this toy run].
	LR float64
	// Options are passed to the method's Init.
	Options map[string]string

	Classes   int     // [4]
	SignalDim int     // [8]
	NoiseDim  int     // [24]
	Spread    float64 // distance of the class centres from the origin [3]
	Within    float64 // within-class std [0.5]
	Nuisance  float64 // nuisance std [3]
	Jitter    float64 // std of a view's jitter on the signal; local views get twice it [0.3]
	EvalN     int     // bank and query size of the kNN evaluation [512]
	K         int     // kNN neighbours [10]; the vote is eval.KNN's, the sweep's kNN monitor
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Steps, 400)
	def(&c.Batch, 128)
	def(&c.FeatureDim, 32)
	def(&c.Hidden, 64)
	def(&c.Classes, 4)
	def(&c.SignalDim, 8)
	def(&c.NoiseDim, 24)
	def(&c.EvalN, 512)
	def(&c.K, 10)
	deff(&c.Spread, 3)
	deff(&c.Within, 0.5)
	deff(&c.Nuisance, 3)
	deff(&c.Jitter, 0.3)
	deff(&c.LR, 0.1)
	return c
}

// Result is what a run measured.
type Result struct {
	RawAcc   float64 // kNN accuracy on the raw inputs
	InitAcc  float64 // kNN accuracy of the encoder at random init
	FinalAcc float64 // kNN accuracy of the trained encoder
	// Loss and OutputStd are the method's per-step loss and output_std metric.
	Loss, OutputStd []float64
	// OutputDim is the method's last "output_dim" metric (0 if absent).
	OutputDim float64
	// Metrics are the method's metrics of the last step.
	Metrics map[string]float64
	// FeatureStd is kit-style output_std of the trained encoder's features
	// on the evaluation queries (the host's view of collapse).
	FeatureStd float64
}

// Tail returns the mean of the last n entries of xs.
func Tail(xs []float64, n int) float64 {
	if n > len(xs) {
		n = len(xs)
	}
	if n == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs[len(xs)-n:] {
		s += x
	}
	return s / float64(n)
}

func (r Result) String() string {
	return fmt.Sprintf("kNN raw %.3f, init %.3f, final %.3f; loss %.4f → %.4f; output_std %.4f → %.4f; feature std %.4f",
		r.RawAcc, r.InitAcc, r.FinalAcc, Tail(r.Loss[:min(10, len(r.Loss))], 10), Tail(r.Loss, 10),
		Tail(r.OutputStd[:min(10, len(r.OutputStd))], 10), Tail(r.OutputStd, 10), r.FeatureStd)
}

// problem holds the class centres and draws instances and views.
type problem struct {
	c       Config
	centres [][]float64
	rng     *rand.Rand
}

type instance struct {
	label  int
	signal []float64
}

func (p *problem) draw() instance {
	y := p.rng.IntN(p.c.Classes)
	s := make([]float64, p.c.SignalDim)
	for j := range s {
		s[j] = p.centres[y][j] + p.c.Within*p.rng.NormFloat64()
	}
	return instance{label: y, signal: s}
}

// input writes an input row: signal (+ jitter) then fresh nuisance.
func (p *problem) input(dst []float32, in instance, jitter float64) {
	for j, v := range in.signal {
		dst[j] = float32(v + jitter*p.rng.NormFloat64())
	}
	for j := p.c.SignalDim; j < len(dst); j++ {
		dst[j] = float32(p.c.Nuisance * p.rng.NormFloat64())
	}
}

// Train initialises m (a fresh, uninitialised method), trains it and an
// encoder on the synthetic problem for cfg.Steps steps, and evaluates.
// Everything is seeded by cfg.Seed. m is run through sdk.InProcess.
func Train(ctx context.Context, m sdk.Method, cfg Config) (Result, error) {
	c := cfg.withDefaults()
	m = sdk.InProcess(m)
	spec := m.Describe()
	rng := rand.New(rand.NewPCG(uint64(c.Seed), 77))
	p := &problem{c: c, rng: rng}
	for k := 0; k < c.Classes; k++ {
		// Orthogonal centres at distance Spread·√2 from each other, so
		// the difficulty does not depend on the seed.
		ctr := make([]float64, c.SignalDim)
		ctr[k%c.SignalDim] = c.Spread
		p.centres = append(p.centres, ctr)
	}
	in := c.SignalDim + c.NoiseDim
	newEnc := func() *nn.Sequential {
		return nn.NewSequential("enc",
			nn.NewLinear(rng, in, c.Hidden, true), nn.NewReLU(), nn.NewLinear(rng, c.Hidden, c.FeatureDim, true))
	}
	enc := newEnc()
	var target *nn.Sequential
	if spec.Target != nil {
		target = newEnc()
		if err := optim.CopyParams(target, enc); err != nil {
			return Result{}, err
		}
	}

	// Evaluation sets: clean instances (signal + their own nuisance).
	evalSet := func() (*nn.Tensor, []int) {
		x := make([]float32, c.EvalN*in)
		y := make([]int, c.EvalN)
		for i := range y {
			ins := p.draw()
			y[i] = ins.label
			p.input(x[i*in:(i+1)*in], ins, 0)
		}
		return nn.New(x, c.EvalN, in), y
	}
	bankX, bankY := evalSet()
	qX, qY := evalSet()
	knn := func(bank, query *nn.Tensor) float64 {
		acc, err := eval.KNN(ctx, eval.Features{Data: bank.Data, Labels: bankY, N: bank.Dim(0), D: bank.Dim(1)},
			eval.Features{Data: query.Data, Labels: qY, N: query.Dim(0), D: query.Dim(1)}, c.Classes, eval.KNNConfig{K: c.K})
		if err != nil {
			return 0 // non-finite features (a diverged method) or a cancelled ctx: nothing is classified
		}
		return acc
	}
	evaluate := func() (float64, *nn.Tensor) {
		var fb, fq *nn.Tensor
		nn.NoGrad(func() { fb, fq = enc.Forward(bankX), enc.Forward(qX) })
		return knn(fb, fq), fq
	}
	res := Result{RawAcc: knn(bankX, qX)}
	res.InitAcc, _ = evaluate()

	h := spec.Hyper
	lr := c.LR
	tr := pluginhost.Trainee{Backbone: enc, Opt: optim.NewSGD([]optim.Group{{Params: enc.Params(), WeightDecay: h.WeightDecay}}, h.Momentum, false)}
	if target != nil {
		tr.Target = target // a nil *nn.Sequential would be a non-nil nn.Module
	}
	if err := m.Init(sdk.InitConfig{FeatureDim: c.FeatureDim, BatchSize: c.Batch, StepsPerEpoch: max(1, c.Steps/10),
		TotalSteps: c.Steps, Seed: c.Seed, Options: c.Options}); err != nil {
		return res, err
	}
	var jitters []float64
	for _, v := range spec.Views {
		j := c.Jitter
		if strings.HasSuffix(v.Preset, "-local") {
			j *= 2
		}
		for k := 0; k < v.Count; k++ {
			jitters = append(jitters, j)
		}
	}
	for step := 0; step < c.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		batch := make([]instance, c.Batch)
		for i := range batch {
			batch[i] = p.draw()
		}
		stepLR := optim.Cosine(step, c.Steps, 0, lr, 0)
		si := sdk.StepInput{Step: step, Epoch: step / max(1, c.Steps/10), LR: stepLR, BaseLR: lr}
		if target != nil {
			si.Momentum = spec.Target.MomentumAt(step, c.Steps)
		}
		xs := make([]*nn.Tensor, len(jitters))
		for v, j := range jitters {
			x := make([]float32, c.Batch*in)
			for i, ins := range batch {
				p.input(x[i*in:(i+1)*in], ins, j)
			}
			xs[v] = nn.New(x, c.Batch, in)
		}
		out, err := pluginhost.TrainStep(ctx, m, tr, xs, si)
		if err != nil {
			return res, fmt.Errorf("step %d: %w", step, err)
		}
		res.Loss = append(res.Loss, out.Loss)
		res.OutputStd = append(res.OutputStd, out.Metrics["output_std"])
		res.OutputDim = out.Metrics["output_dim"]
		res.Metrics = out.Metrics
	}
	var fq *nn.Tensor
	res.FinalAcc, fq = evaluate()
	res.FeatureStd = kit.OutputStd(fq)
	return res, nil
}
