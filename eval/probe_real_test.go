package eval

// Shape legend: N = images, D = feature width.

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"gonum.org/v1/gonum/mat"
)

// realFeatures holds features of the embedded dataset for the probe's
// convergence tests, computed once per test binary.
var realFeatures = sync.OnceValues(func() (map[string][2]Features, error) {
	s, err := data.Open(context.Background(), "default", data.OpenOptions{})
	if err != nil {
		return nil, err
	}
	pix := func(ds data.Dataset, n int) Features {
		x, total, c, h, w := data.Normalized(ds)
		n = min(n, total)
		f := Features{N: n, D: c * h * w, Data: x[:n*c*h*w], Labels: make([]int, n)}
		for i := range f.Labels {
			f.Labels[i] = ds.Label(i)
		}
		return f
	}
	// pooled: 2×2 average-pooled pixels (N,196), a correlated,
	// ill-conditioned input like a collapsed representation's.
	pooled := func(f Features) Features {
		o := Features{N: f.N, D: 196, Labels: f.Labels}
		for i := 0; i < f.N; i++ {
			p := f.Data[i*784 : (i+1)*784]
			for y := 0; y < 14; y++ {
				for x := 0; x < 14; x++ {
					o.Data = append(o.Data, (p[2*y*28+2*x]+p[2*y*28+2*x+1]+p[(2*y+1)*28+2*x]+p[(2*y+1)*28+2*x+1])/4)
				}
			}
		}
		return o
	}
	// refnet: the default backbone at random init, BN in eval mode (N,64).
	bb := models.NewRefNet(1, rand.New(rand.NewPCG(1, 2)))
	bb.SetTraining(false)
	refnet := func(f Features) Features {
		o := Features{N: f.N, D: bb.OutDim(), Labels: f.Labels}
		const b = 250
		for i := 0; i < f.N; i += b {
			out := bb.Forward(nn.New(f.Data[i*784:(i+b)*784], b, 1, 28, 28))
			o.Data = append(o.Data, out.Data...)
		}
		return o
	}
	tr, te := pix(s.Train, 3000), pix(s.Test, 1000)
	return map[string][2]Features{
		"pooled pixels":      {pooled(tr), pooled(te)},
		"random-init refnet": {refnet(tr), refnet(te)},
	}, nil
})

func TestLinearProbeConverged(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded-dataset features: a few seconds")
	}
	feats, err := realFeatures()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pooled pixels", "random-init refnet"} {
		t.Run(name, func(t *testing.T) {
			tr, te := feats[name][0], feats[name][1]
			def, err := LinearProbe(context.Background(), tr, te, 10, ProbeConfig{})
			if err != nil {
				t.Fatal(err)
			}
			long, err := LinearProbe(context.Background(), tr, te, 10, ProbeConfig{MaxIter: 1000})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("default: top-1 %.4f loss %.7f (%d iterations); cap 1000: top-1 %.4f loss %.7f (%d)",
				def.Top1, def.TrainLoss, def.Iterations, long.Top1, long.TrainLoss, long.Iterations)
			if d := math.Abs(def.Top1 - long.Top1); d > 0.001 {
				t.Errorf("doubling the iteration cap moved top-1 by %.2f points (want ≤ 0.1)", 100*d)
			}
			if d := def.TrainLoss - long.TrainLoss; d > 1e-4*long.TrainLoss {
				t.Errorf("doubling the iteration cap lowered the loss by %.2g (relative %.2g; want ≤ 1e-4)", d, d/long.TrainLoss)
			}
		})
	}
}

// TestLinearProbeMatchesNewton checks the probe against an independent
// minimiser of the same objective that runs everywhere (the gonum L-BFGS
// check needs a build tag): Newton's method in float64 with the exact
// softmax Hessian, solved by gonum's Cholesky, on the first 16 channels of
// the random-init RefNet features (170 parameters, so the Hessian is small).
func TestLinearProbeMatchesNewton(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded-dataset features")
	}
	feats, err := realFeatures()
	if err != nil {
		t.Fatal(err)
	}
	const d, c, l2 = 16, 10, 1e-4
	narrow := func(f Features) Features {
		o := Features{N: f.N, D: d, Labels: f.Labels}
		for i := 0; i < f.N; i++ {
			o.Data = append(o.Data, f.Data[i*f.D:i*f.D+d]...)
		}
		return o
	}
	tr, te := narrow(feats["random-init refnet"][0]), narrow(feats["random-init refnet"][1])
	ours, err := LinearProbe(context.Background(), tr, te, c, ProbeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	xtr, xte := standardize(tr, te)
	theta, f := newtonSoftmax(t, xtr, tr.Labels, tr.N, d, c, l2)
	// test accuracy of Newton's minimiser, in float64
	correct := 0
	for i := 0; i < te.N; i++ {
		best, bestS := 0, math.Inf(-1)
		for k := 0; k < c; k++ {
			s := theta[c*d+k]
			for j := 0; j < d; j++ {
				s += theta[k*d+j] * float64(xte[i*d+j])
			}
			if s > bestS {
				best, bestS = k, s
			}
		}
		if best == te.Labels[i] {
			correct++
		}
	}
	top1 := float64(correct) / float64(te.N)
	t.Logf("ours: loss %.9f top-1 %.4f (%d iterations); Newton: loss %.9f top-1 %.4f", ours.TrainLoss, ours.Top1, ours.Iterations, f, top1)
	if ours.TrainLoss-f > 1e-6*f {
		t.Errorf("our minimum %.9f is above Newton's %.9f by %.2g relative (want ≤ 1e-6)", ours.TrainLoss, f, (ours.TrainLoss-f)/f)
	}
	if dd := math.Abs(ours.Top1 - top1); dd > 0.001 {
		t.Errorf("top-1 differs from Newton's minimiser by %.2f points (want ≤ 0.1)", 100*dd)
	}
}

// newtonSoftmax minimises mean cross-entropy + l2·‖W‖² over θ = [W (C,D), b (C)]
// on x (N,D) by damped Newton steps with a backtracking line search, all in
// float64, and returns θ and the minimum.
func newtonSoftmax(t *testing.T, x []float32, labels []int, n, d, c int, l2 float64) ([]float64, float64) {
	t.Helper()
	np := c*d + c
	theta := make([]float64, np)
	probs := make([]float64, n*c)
	// value fills probs and returns the objective at th.
	value := func(th []float64) float64 {
		var loss, reg float64
		for i := 0; i < n; i++ {
			p := probs[i*c : (i+1)*c]
			mx := math.Inf(-1)
			for k := range p {
				s := th[c*d+k]
				for j := 0; j < d; j++ {
					s += th[k*d+j] * float64(x[i*d+j])
				}
				p[k] = s
				mx = math.Max(mx, s)
			}
			var z float64
			for k := range p {
				p[k] = math.Exp(p[k] - mx)
				z += p[k]
			}
			for k := range p {
				p[k] /= z
			}
			loss -= math.Log(p[labels[i]])
		}
		for _, w := range th[:c*d] {
			reg += w * w
		}
		return loss/float64(n) + l2*reg
	}
	xt := func(i, j int) float64 { // x̃: the features, then 1 for the bias
		if j == d {
			return 1
		}
		return float64(x[i*d+j])
	}
	idx := func(k, j int) int { // θ index of W[k,j], or b[k] for j == d
		if j == d {
			return c*d + k
		}
		return k*d + j
	}
	f := value(theta)
	for it := 0; it < 50; it++ {
		g := make([]float64, np)
		hh := make([]float64, np*np) // upper triangle, row-major
		for i := 0; i < n; i++ {
			p := probs[i*c : (i+1)*c]
			for k := 0; k < c; k++ {
				r := p[k]
				if k == labels[i] {
					r--
				}
				for j := 0; j <= d; j++ {
					g[idx(k, j)] += r * xt(i, j) / float64(n)
				}
				for l := k; l < c; l++ {
					w := -p[k] * p[l]
					if k == l {
						w += p[k]
					}
					w /= float64(n)
					for j := 0; j <= d; j++ {
						for m := 0; m <= d; m++ {
							a, b := idx(k, j), idx(l, m)
							if k == l && m < j {
								continue
							}
							v := w * xt(i, j) * xt(i, m)
							if a <= b {
								hh[a*np+b] += v
							} else {
								hh[b*np+a] += v
							}
						}
					}
				}
			}
		}
		for q := 0; q < c*d; q++ {
			g[q] += 2 * l2 * theta[q]
			hh[q*np+q] += 2 * l2
		}
		gmax := 0.0
		for _, v := range g {
			gmax = math.Max(gmax, math.Abs(v))
		}
		if gmax < 1e-11 {
			break
		}
		for q := 0; q < np; q++ { // the bias is shift-invariant: damp its null direction
			hh[q*np+q] += 1e-12
		}
		h := mat.NewSymDense(np, hh) // reads the upper triangle
		var ch mat.Cholesky
		if !ch.Factorize(h) {
			t.Fatal("Newton: Hessian not positive definite")
		}
		var step mat.VecDense
		if err := ch.SolveVecTo(&step, mat.NewVecDense(np, g)); err != nil {
			t.Fatal(err)
		}
		slope := -mat.Dot(&step, mat.NewVecDense(np, g))
		next := make([]float64, np)
		for a := 1.0; ; a /= 2 {
			for q := range next {
				next[q] = theta[q] - a*step.AtVec(q)
			}
			if fn := value(next); fn <= f+1e-4*a*slope || a < 1e-10 {
				theta, f = next, fn
				break
			}
		}
	}
	value(theta)
	return theta, f
}
