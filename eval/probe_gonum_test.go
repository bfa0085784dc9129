// This test checks our L-BFGS against gonum's (an independent
// implementation with its own line search): ours must end at or below
// gonum's loss on the same problem.

package eval

import (
	"context"
	"math"
	"testing"

	"gonum.org/v1/gonum/optimize"
)

func TestLinearProbeMatchesGonumLBFGS(t *testing.T) {
	feats, err := realFeatures()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pooled pixels", "random-init refnet"} {
		t.Run(name, func(t *testing.T) {
			tr, te := feats[name][0], feats[name][1]
			ours, err := LinearProbe(context.Background(), tr, te, 10, ProbeConfig{})
			if err != nil {
				t.Fatal(err)
			}
			// the same objective, minimised by gonum from the same start
			xtr, xte := standardize(tr, te)
			p := &softmaxProblem{x: xtr, labels: tr.Labels, n: tr.N, d: tr.D, c: 10, l2: 1e-4}
			p.alloc()
			scratch := make([]float64, 10*tr.D+10)
			prob := optimize.Problem{
				Func: func(x []float64) float64 { return p.eval(x, scratch) },
				Grad: func(g, x []float64) { p.eval(x, g) },
			}
			res, err := optimize.Minimize(prob, make([]float64, len(scratch)),
				&optimize.Settings{MajorIterations: 5000, GradientThreshold: 1e-7},
				&optimize.LBFGS{Store: 20, Linesearcher: &optimize.MoreThuente{}})
			if res == nil {
				t.Fatal(err)
			}
			// float32 logits end gonum's line search with an error near the optimum
			t.Logf("gonum: %v (status %v), f %.7f after %d iterations", err, res.Status, res.F, res.Stats.MajorIterations)
			top1, _ := p.accuracy(res.X, xte, te.Labels, te.N)
			t.Logf("ours: f %.7f top-1 %.4f (%d iterations); gonum: f %.7f top-1 %.4f", ours.TrainLoss, ours.Top1, ours.Iterations, res.F, top1)
			if d := ours.TrainLoss - res.F; d > 1e-5*res.F {
				t.Errorf("our minimum %.7f is above gonum's %.7f by %.2g relative (want ≤ 1e-5)", ours.TrainLoss, res.F, d/res.F)
			}
			if d := math.Abs(ours.Top1 - top1); d > 0.001 {
				t.Errorf("top-1 differs from gonum's minimiser by %.2f points (want ≤ 0.1)", 100*d)
			}
		})
	}
}
