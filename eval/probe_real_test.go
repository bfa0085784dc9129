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
