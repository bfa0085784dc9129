package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// gaussianClusters draws n points per class around well-separated random
// centres in d dimensions (noise std sigma).
func gaussianClusters(rng *rand.Rand, classes, perClass, d int, sigma float64, centres [][]float64) Features {
	f := Features{N: classes * perClass, D: d}
	for c := 0; c < classes; c++ {
		for i := 0; i < perClass; i++ {
			for j := 0; j < d; j++ {
				f.Data = append(f.Data, float32(centres[c][j]+sigma*rng.NormFloat64()))
			}
			f.Labels = append(f.Labels, c)
		}
	}
	return f
}

func randomCentres(rng *rand.Rand, classes, d int) [][]float64 {
	out := make([][]float64, classes)
	for c := range out {
		out[c] = make([]float64, d)
		for j := range out[c] {
			out[c][j] = rng.NormFloat64()
		}
	}
	return out
}

// knnReference is an independent, obviously-correct kNN: full sort per query.
func knnReference(bank, q Features, classes, k int, T float64) float64 {
	norm := func(x []float32) []float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = float64(v) / math.Sqrt(s)
		}
		return out
	}
	correct := 0
	for i := 0; i < q.N; i++ {
		qi := norm(q.Data[i*q.D : (i+1)*q.D])
		type nb struct {
			sim float64
			idx int
		}
		var nbs []nb
		for j := 0; j < bank.N; j++ {
			bj := norm(bank.Data[j*bank.D : (j+1)*bank.D])
			var s float64
			for t := range qi {
				s += qi[t] * bj[t]
			}
			nbs = append(nbs, nb{s, j})
		}
		sort.SliceStable(nbs, func(a, b int) bool { return nbs[a].sim > nbs[b].sim })
		votes := make([]float64, classes)
		for _, n := range nbs[:min(k, len(nbs))] {
			votes[bank.Labels[n.idx]] += math.Exp(n.sim / T)
		}
		best := 0
		for c := range votes {
			if votes[c] > votes[best] {
				best = c
			}
		}
		if best == q.Labels[i] {
			correct++
		}
	}
	return float64(correct) / float64(q.N)
}

func TestKNNMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name        string
		classes, d  int
		perClass    int
		sigma       float64
		k           int
		temperature float64
	}{
		{"default protocol", 5, 8, 60, 1.5, 0, 0},
		{"k=1", 3, 4, 30, 2.0, 1, 0.1},
		{"k larger than bank", 4, 6, 10, 1.0, 500, 0.5},
		{"odd width, 300 queries crosses a chunk", 3, 7, 100, 3.0, 15, 0.07},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			centres := randomCentres(rng, tc.classes, tc.d)
			bank := gaussianClusters(rng, tc.classes, tc.perClass, tc.d, tc.sigma, centres)
			q := gaussianClusters(rng, tc.classes, tc.perClass, tc.d, tc.sigma, centres)
			got, err := KNN(context.Background(), bank, q, tc.classes, KNNConfig{K: tc.k, Temperature: tc.temperature})
			if err != nil {
				t.Fatal(err)
			}
			cfg := KNNConfig{K: tc.k, Temperature: tc.temperature}.withDefaults()
			want := knnReference(bank, q, tc.classes, cfg.K, cfg.Temperature)
			// float32 vs float64 similarities may reorder near-ties: allow one query.
			if math.Abs(got-want) > 1.0/float64(q.N)+1e-12 {
				t.Errorf("knn top-1: want %.4f (reference), got %.4f", want, got)
			}
			if got < 1.0/float64(tc.classes) {
				t.Errorf("knn top-1 %.3f is at or below chance on separable clusters", got)
			}
		})
	}
}

func TestKNNWeightedVoting(t *testing.T) {
	// Query along +x. One bank point of class 0 nearly identical to it, two
	// of class 1 at 60°: a plain majority of the 3 neighbours says class 1;
	// with T = 0.1 the weights exp(0.999/0.1) ≫ 2·exp(0.5/0.1) say class 0.
	bank := Features{N: 3, D: 2, Labels: []int{0, 1, 1}, Data: []float32{
		1, 0.04,
		0.5, 0.866,
		0.5, -0.866,
	}}
	q := Features{N: 1, D: 2, Labels: []int{0}, Data: []float32{1, 0}}
	got, err := KNN(context.Background(), bank, q, 2, KNNConfig{K: 3, Temperature: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if got != 1 {
		t.Errorf("T=0.1: want class 0 by weighted vote (acc 1), got acc %v", got)
	}
	// With a large temperature every neighbour weighs ≈ the same: majority wins.
	got, err = KNN(context.Background(), bank, q, 2, KNNConfig{K: 3, Temperature: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got != 0 {
		t.Errorf("T=100: want class 1 by majority (acc 0), got acc %v", got)
	}
}

func TestKNNBadInput(t *testing.T) {
	ok := Features{N: 2, D: 2, Labels: []int{0, 1}, Data: []float32{1, 0, 0, 1}}
	cases := []struct {
		name    string
		bank, q Features
		classes int
		cfg     KNNConfig
		want    string
	}{
		{"width mismatch", ok, Features{N: 1, D: 3, Labels: []int{0}, Data: []float32{1, 2, 3}}, 2, KNNConfig{}, "width"},
		{"label out of range", ok, Features{N: 1, D: 2, Labels: []int{5}, Data: []float32{1, 2}}, 2, KNNConfig{}, "label 5"},
		{"NaN feature", Features{N: 2, D: 2, Labels: []int{0, 1}, Data: []float32{float32(math.NaN()), 0, 0, 1}}, ok, 2, KNNConfig{}, "non-finite"},
		{"short data", Features{N: 2, D: 2, Labels: []int{0, 1}, Data: []float32{1}}, ok, 2, KNNConfig{}, "values"},
		{"empty", Features{}, ok, 2, KNNConfig{}, "empty"},
		{"one class", ok, ok, 1, KNNConfig{}, "2 classes"},
		{"negative temperature", ok, ok, 2, KNNConfig{Temperature: -1}, "temperature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KNN(context.Background(), tc.bank, tc.q, tc.classes, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestKNNCancelled(t *testing.T) {
	ok := Features{N: 2, D: 2, Labels: []int{0, 1}, Data: []float32{1, 0, 0, 1}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := KNN(ctx, ok, ok, 2, KNNConfig{}); err == nil {
		t.Fatal("want context error")
	}
}

// --- linear probe

func TestSoftmaxGradientFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, d, c := 7, 3, 4
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := []int{0, 1, 2, 3, 0, 2, 1}
	p := &softmaxProblem{x: x, labels: labels, n: n, d: d, c: c, l2: 0.3}
	p.alloc()
	w := make([]float64, c*d+c)
	for i := range w {
		w[i] = 0.5 * rng.NormFloat64()
	}
	g := make([]float64, len(w))
	p.eval(w, g)
	scratch := make([]float64, len(w))
	const h = 1e-2 // float32 logits: a large step keeps rounding error small
	for j := range w {
		orig := w[j]
		w[j] = orig + h
		fp := p.eval(w, scratch)
		w[j] = orig - h
		fm := p.eval(w, scratch)
		w[j] = orig
		fd := (fp - fm) / (2 * h)
		if math.Abs(fd-g[j]) > 2e-3*math.Max(1, math.Abs(fd)) {
			t.Errorf("∂loss/∂w[%d]: want %.6f (finite differences), got %.6f", j, fd, g[j])
		}
	}
}

func TestLBFGSQuadraticAndRosenbrock(t *testing.T) {
	t.Run("ill-conditioned quadratic", func(t *testing.T) {
		scales := []float64{1, 10, 100, 1000}
		fg := func(x, g []float64) float64 {
			var f float64
			for i, s := range scales {
				d := x[i] - float64(i)
				f += 0.5 * s * d * d
				g[i] = s * d
			}
			return f
		}
		x := make([]float64, 4)
		_, _, err := lbfgs(context.Background(), fg, x, lbfgsConfig{MaxIter: 200, Mem: 10, GradTol: 1e-9, RelTol: 1e-14})
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if math.Abs(x[i]-float64(i)) > 1e-5 {
				t.Errorf("x[%d]: want %d, got %v", i, i, x[i])
			}
		}
	})
	t.Run("rosenbrock", func(t *testing.T) {
		fg := func(x, g []float64) float64 {
			a, b := 1-x[0], x[1]-x[0]*x[0]
			g[0] = -2*a - 400*x[0]*b
			g[1] = 200 * b
			return a*a + 100*b*b
		}
		x := []float64{-1.2, 1}
		f, _, err := lbfgs(context.Background(), fg, x, lbfgsConfig{MaxIter: 500, Mem: 10, GradTol: 1e-9, RelTol: 1e-14})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(x[0]-1) > 1e-3 || math.Abs(x[1]-1) > 1e-3 {
			t.Errorf("want minimum (1,1), got (%v,%v), f=%v", x[0], x[1], f)
		}
	})
}

func TestWolfeSearchStrongWolfe(t *testing.T) {
	// f(x) = x⁴/4 − x along d = +1 from x = −1 (slope −2): the steps tried
	// range from far too short to far too long; every returned step must
	// satisfy both strong Wolfe conditions.
	fg := func(x, g []float64) float64 {
		g[0] = x[0]*x[0]*x[0] - 1
		return x[0]*x[0]*x[0]*x[0]/4 - x[0]
	}
	x, g := []float64{-1}, make([]float64, 1)
	f0 := fg(x, g)
	d := []float64{1}
	gtd0 := g[0] * d[0]
	for _, t0 := range []float64{1e-4, 0.1, 1, 3, 100} {
		ws := newWolfeSearch(fg, 1)
		step, f, gt, ok := ws.search(x, f0, g, d, gtd0, t0)
		if !ok {
			t.Errorf("t0=%g: no decrease found", t0)
			continue
		}
		if f > f0+1e-4*step*gtd0 {
			t.Errorf("t0=%g: step %g breaks sufficient decrease: f %g > %g", t0, step, f, f0+1e-4*step*gtd0)
		}
		if math.Abs(gt[0]*d[0]) > 0.9*math.Abs(gtd0) {
			t.Errorf("t0=%g: step %g breaks the curvature condition: |slope| %g > %g", t0, step, math.Abs(gt[0]), 0.9*math.Abs(gtd0))
		}
		if g[0] != -2 {
			t.Fatalf("the caller's gradient was overwritten: %v", g)
		}
	}
}

func TestLinearProbe(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	t.Run("separable clusters", func(t *testing.T) {
		centres := randomCentres(rng, 4, 10)
		tr := gaussianClusters(rng, 4, 80, 10, 0.3, centres)
		te := gaussianClusters(rng, 4, 50, 10, 0.3, centres)
		res, err := LinearProbe(context.Background(), tr, te, 4, ProbeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Top1 < 0.98 {
			t.Errorf("top-1 on well-separated clusters: want ≥ 0.98, got %.3f", res.Top1)
		}
		if res.Top5 != nil {
			t.Errorf("top-5 must be absent with ≤ 10 classes, got %v", *res.Top5)
		}
	})
	t.Run("linear but not nearest-centre: a probe beats chance only if it learns", func(t *testing.T) {
		// Label = sign of one coordinate drowned in 20 noisy ones with large variance.
		n := 400
		mk := func() Features {
			f := Features{N: n, D: 21}
			for i := 0; i < n; i++ {
				sig := rng.NormFloat64()
				f.Data = append(f.Data, float32(sig))
				for j := 0; j < 20; j++ {
					f.Data = append(f.Data, float32(10*rng.NormFloat64()))
				}
				l := 0
				if sig > 0 {
					l = 1
				}
				f.Labels = append(f.Labels, l)
			}
			return f
		}
		res, err := LinearProbe(context.Background(), mk(), mk(), 2, ProbeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Top1 < 0.9 {
			t.Errorf("top-1: want ≥ 0.9, got %.3f", res.Top1)
		}
	})
	t.Run("random labels stay near chance on test", func(t *testing.T) {
		mk := func() Features {
			f := Features{N: 600, D: 5}
			for i := 0; i < f.N*f.D; i++ {
				f.Data = append(f.Data, float32(rng.NormFloat64()))
			}
			for i := 0; i < f.N; i++ {
				f.Labels = append(f.Labels, rng.IntN(3))
			}
			return f
		}
		res, err := LinearProbe(context.Background(), mk(), mk(), 3, ProbeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Top1 > 0.45 {
			t.Errorf("random labels: want ≈ 1/3, got %.3f", res.Top1)
		}
	})
	t.Run("top-5 with 12 classes, deterministic", func(t *testing.T) {
		centres := randomCentres(rng, 12, 6)
		tr := gaussianClusters(rng, 12, 30, 6, 0.8, centres)
		te := gaussianClusters(rng, 12, 20, 6, 0.8, centres)
		a, err := LinearProbe(context.Background(), tr, te, 12, ProbeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := LinearProbe(context.Background(), tr, te, 12, ProbeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Top5 == nil {
			t.Fatal("top-5 missing with 12 classes")
		}
		if *a.Top5 < a.Top1 || *a.Top5 > 1 {
			t.Errorf("top-5 %.3f must lie in [top-1 %.3f, 1]", *a.Top5, a.Top1)
		}
		if a.Top1 != b.Top1 || *a.Top5 != *b.Top5 || a.TrainLoss != b.TrainLoss {
			t.Errorf("not deterministic: %+v vs %+v", a, b)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		ok := Features{N: 2, D: 2, Labels: []int{0, 1}, Data: []float32{1, 0, 0, 1}}
		wide := Features{N: 1, D: 3, Labels: []int{0}, Data: []float32{1, 2, 3}}
		if _, err := LinearProbe(context.Background(), ok, wide, 2, ProbeConfig{}); err == nil || !strings.Contains(err.Error(), "width") {
			t.Errorf("width mismatch: got %v", err)
		}
		if _, err := LinearProbe(context.Background(), ok, ok, 1, ProbeConfig{}); err == nil {
			t.Error("one class: want error")
		}
	})
}

// --- collapse monitor

func TestChannelStd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{16, 128, 512} {
		n := 4000
		x := make([]float32, n*d)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		got := ChannelStd(x, n, d)
		want := 1 / math.Sqrt(float64(d))
		if math.Abs(got-want) > 0.03*want {
			t.Errorf("isotropic d=%d: want ≈ 1/√d = %.5f, got %.5f", d, want, got)
		}
		if Collapsed(got, d) {
			t.Errorf("isotropic d=%d flagged collapsed", d)
		}
	}
	t.Run("identical rows collapse to 0", func(t *testing.T) {
		x := []float32{1, 2, 3, 2, 4, 6, 0.5, 1, 1.5} // the same direction, scaled
		if got := ChannelStd(x, 3, 3); got > 1e-7 {
			t.Errorf("want 0, got %v", got)
		}
		if !Collapsed(ChannelStd(x, 3, 3), 3) {
			t.Error("identical rows not flagged collapsed")
		}
	})
	t.Run("hand-computed", func(t *testing.T) {
		// rows (1,0) and (0,1): each channel takes values {1,0}, std 0.5.
		if got := ChannelStd([]float32{1, 0, 0, 1}, 2, 2); math.Abs(got-0.5) > 1e-7 {
			t.Errorf("want 0.5, got %v", got)
		}
	})
	t.Run("near-constant outputs: 99.5% shared", func(t *testing.T) {
		// z = c + small noise with ‖noise‖² ≈ 0.005 ‖c‖²: V ≈ 0.5% < 1%.
		d, n := 64, 2000
		c := make([]float64, d)
		for j := range c {
			c[j] = rng.NormFloat64()
		}
		x := make([]float32, n*d)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				x[i*d+j] = float32(c[j] + 0.07*rng.NormFloat64())
			}
		}
		std := ChannelStd(x, n, d)
		if !Collapsed(std, d) {
			t.Errorf("std %.5f (threshold %.5f) should be flagged collapsed", std, CollapseThreshold(d))
		}
		// Ten times more noise (V ≈ 33%): healthy.
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				x[i*d+j] = float32(c[j] + 0.7*rng.NormFloat64())
			}
		}
		std = ChannelStd(x, n, d)
		if Collapsed(std, d) {
			t.Errorf("std %.5f (threshold %.5f) flagged collapsed but a third of the output varies", std, CollapseThreshold(d))
		}
	})
	t.Run("non-finite counts as collapsed", func(t *testing.T) {
		if !Collapsed(math.NaN(), 8) {
			t.Error("NaN std not flagged")
		}
	})
}
