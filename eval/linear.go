package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/siambench/siambench/nn/gemm"
)

// ProbeConfig configures the linear probe. The zero value is the protocol
// used for every table: penalty 1e-4·‖W‖², at most 500 L-BFGS iterations —
// the recipe of the reference PyTorch probe (docs/harness.md), run to its
// optimum (TestLinearProbeConverged).
type ProbeConfig struct {
	L2      float64 // penalty L2·‖W‖² (not on the bias); 0 means 1e-4, < 0 means none
	MaxIter int     // L-BFGS major iterations; 0 means 500
}

func (c ProbeConfig) withDefaults() ProbeConfig {
	if c.L2 == 0 {
		c.L2 = 1e-4
	}
	if c.L2 < 0 {
		c.L2 = 0
	}
	if c.MaxIter == 0 {
		c.MaxIter = 500
	}
	return c
}

// ProbeResult is a linear probe's test accuracy.
type ProbeResult struct {
	Top1 float64 // in [0,1]
	// Top5 is set only when there are more than 10 classes.
	Top5 *float64
	// TrainLoss is the final regularised training loss (for diagnostics).
	TrainLoss  float64
	Iterations int
}

// LinearProbe trains a softmax-regression classifier on the frozen train
// features and returns its accuracy on the test features. Features are first
// standardised per dimension with the train split's mean and std, then the
// regularised mean cross-entropy is minimised by full-batch L-BFGS with a
// strong-Wolfe line search (lbfgs.go) from zero weights, so the result is deterministic: the same features give the same
// number. Neither input is modified.
func LinearProbe(ctx context.Context, train, test Features, classes int, cfg ProbeConfig) (ProbeResult, error) {
	cfg = cfg.withDefaults()
	if classes < 2 {
		return ProbeResult{}, fmt.Errorf("linear probe: need at least 2 classes, got %d", classes)
	}
	if err := train.Check("linear probe train", classes); err != nil {
		return ProbeResult{}, err
	}
	if err := test.Check("linear probe test", classes); err != nil {
		return ProbeResult{}, err
	}
	if train.D != test.D {
		return ProbeResult{}, fmt.Errorf("linear probe: train width %d differs from test width %d", train.D, test.D)
	}
	xtr, xte := standardize(train, test)
	p := &softmaxProblem{x: xtr, labels: train.Labels, n: train.N, d: train.D, c: classes, l2: cfg.L2}
	p.alloc()
	w := make([]float64, classes*train.D+classes)
	f, iters, err := lbfgs(ctx, p.eval, w, defaultLBFGS(cfg.MaxIter, len(w)))
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: %w", err)
	}
	out := ProbeResult{TrainLoss: f, Iterations: iters}
	top1, top5 := p.accuracy(w, xte, test.Labels, test.N)
	out.Top1 = top1
	if classes > 10 {
		out.Top5 = &top5
	}
	return out, nil
}

// standardize returns train and test data shifted and scaled per dimension by
// the train split's mean and std (a constant dimension is only centred).
func standardize(train, test Features) (xtr, xte []float32) {
	d := train.D
	mean := make([]float64, d)
	for i := 0; i < train.N; i++ {
		for j, v := range train.Data[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(train.N)
	}
	inv := make([]float64, d)
	for i := 0; i < train.N; i++ {
		for j, v := range train.Data[i*d : (i+1)*d] {
			dv := float64(v) - mean[j]
			inv[j] += dv * dv
		}
	}
	for j := range inv {
		sd := math.Sqrt(inv[j] / float64(train.N))
		if sd < 1e-8 {
			inv[j] = 1
		} else {
			inv[j] = 1 / sd
		}
	}
	apply := func(f Features) []float32 {
		out := make([]float32, len(f.Data))
		for i := 0; i < f.N; i++ {
			for j, v := range f.Data[i*d : (i+1)*d] {
				out[i*d+j] = float32((float64(v) - mean[j]) * inv[j])
			}
		}
		return out
	}
	return apply(train), apply(test)
}

// softmaxProblem is mean softmax cross-entropy + l2·‖W‖² over
// parameters laid out as W (C,D) followed by b (C).
type softmaxProblem struct {
	x      []float32 // (N,D) standardised
	labels []int
	n, d   int
	c      int
	l2     float64

	w      []float32 // (C,D)
	logits []float32 // (N,C), then dlogits
	dw     []float32 // (C,D)
}

func (p *softmaxProblem) alloc() {
	p.w = make([]float32, p.c*p.d)
	p.logits = make([]float32, p.n*p.c)
	p.dw = make([]float32, p.c*p.d)
}

// forward fills p.logits (N,C) = X·Wᵀ + b for parameters x.
func (p *softmaxProblem) forward(x []float64, xs []float32, n int, logits []float32) {
	for i := range p.w {
		p.w[i] = float32(x[i])
	}
	gemm.Current().Sgemm(false, true, n, p.c, p.d, 1, xs, p.d, p.w, p.d, 0, logits, p.c)
	b := x[p.c*p.d:]
	for i := 0; i < n; i++ {
		row := logits[i*p.c : (i+1)*p.c]
		for k := range row {
			row[k] += float32(b[k])
		}
	}
}

// eval returns the objective at x and writes its gradient into g.
func (p *softmaxProblem) eval(x, g []float64) float64 {
	p.forward(x, p.x, p.n, p.logits)
	nc, cd := p.c, p.c*p.d
	db := g[cd:]
	clear(db)
	var loss float64
	invN := 1 / float64(p.n)
	for i := 0; i < p.n; i++ {
		row := p.logits[i*nc : (i+1)*nc]
		mx := row[0]
		for _, v := range row[1:] {
			mx = max(mx, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v - mx))
		}
		lse := float64(mx) + math.Log(s)
		loss += lse - float64(row[p.labels[i]])
		// dlogits = (softmax − onehot)/N, written over the logits
		for k, v := range row {
			pk := math.Exp(float64(v) - lse)
			if k == p.labels[i] {
				pk--
			}
			row[k] = float32(pk * invN)
			db[k] += pk * invN
		}
	}
	// dW (C,D) = dlogitsᵀ (C,N) · X (N,D)
	gemm.Current().Sgemm(true, false, p.c, p.d, p.n, 1, p.logits, p.c, p.x, p.d, 0, p.dw, p.d)
	var reg float64
	for i := 0; i < cd; i++ {
		reg += x[i] * x[i]
		g[i] = float64(p.dw[i]) + 2*p.l2*x[i]
	}
	return loss*invN + p.l2*reg
}

// accuracy returns top-1 and top-5 accuracy of parameters x on xs (n,D).
func (p *softmaxProblem) accuracy(x []float64, xs []float32, labels []int, n int) (top1, top5 float64) {
	logits := make([]float32, n*p.c)
	p.forward(x, xs, n, logits)
	var c1, c5 int
	for i := 0; i < n; i++ {
		row := logits[i*p.c : (i+1)*p.c]
		y := labels[i]
		// rank of the true class: how many classes score strictly higher
		// (ties broken towards the lower index, like argmax)
		rank := 0
		for k, v := range row {
			if v > row[y] || (v == row[y] && k < y) {
				rank++
			}
		}
		if rank == 0 {
			c1++
		}
		if rank < 5 {
			c5++
		}
	}
	return float64(c1) / float64(n), float64(c5) / float64(n)
}
