package eval

import (
	"context"
	"fmt"
	"math"
)

// lbfgsConfig holds the stopping rules of lbfgs. The zero value is not
// usable; the probe's values are in defaultLBFGS.
type lbfgsConfig struct {
	MaxIter int     // major iterations
	Mem     int     // (s, y) pairs kept
	GradTol float64 // stop when max|∇f| ≤ GradTol
	// RelTol: stop when an iteration lowers f by at most RelTol·max(1,|f|)
	// or moves no coordinate by more than RelTol (the line search can do
	// no better at the objective's precision).
	RelTol float64
}

// defaultLBFGS mirrors torch.optim.LBFGS as the reference probe uses it
// (history 100, tolerance_grad 1e-7, tolerance_change 1e-9; the change is
// measured relative to f because our logits are float32) for n parameters.
// The history shrinks (never below 20 pairs) to keep it under 64 MiB for
// wide probes (e.g. 2048-d features, 100 classes); standardised pixels need
// the long history to converge in 500 iterations.
func defaultLBFGS(maxIter, n int) lbfgsConfig {
	mem := min(100, max(20, (64<<20)/(16*max(n, 1))))
	return lbfgsConfig{MaxIter: maxIter, Mem: mem, GradTol: 1e-7, RelTol: 1e-9}
}

// lbfgs minimises a smooth function in place of x with limited-memory BFGS
// (Nocedal & Wright, Algorithm 7.4: two-loop recursion) and a line search
// that returns a step satisfying the strong Wolfe conditions (c1 = 1e-4,
// c2 = 0.9; Algorithms 3.5 and 3.6 with cubic interpolation, as in minFunc
// and torch.optim.LBFGS). fg returns f(x) and writes ∇f(x) into g. It
// returns the final f and the major iterations done. Everything is
// sequential, so the result is deterministic.
func lbfgs(ctx context.Context, fg func(x, g []float64) float64, x []float64, cfg lbfgsConfig) (float64, int, error) {
	n := len(x)
	g := make([]float64, n)
	f := fg(x, g)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f, 0, fmt.Errorf("objective is %v at the start (non-finite features?)", f)
	}
	type pair struct {
		s, y []float64
		rho  float64
	}
	var hist []pair
	dir := make([]float64, n)
	alpha := make([]float64, cfg.Mem)
	ls := newWolfeSearch(fg, n)
	iter := 0
	for ; iter < cfg.MaxIter; iter++ {
		if err := ctx.Err(); err != nil {
			return f, iter, err
		}
		if maxAbs(g) <= cfg.GradTol {
			break
		}
		// dir = −H·g by the two-loop recursion
		copy(dir, g)
		for i := len(hist) - 1; i >= 0; i-- {
			alpha[i] = hist[i].rho * dot(hist[i].s, dir)
			axpy(-alpha[i], hist[i].y, dir)
		}
		gamma := 1.0
		if k := len(hist); k > 0 {
			gamma = dot(hist[k-1].s, hist[k-1].y) / dot(hist[k-1].y, hist[k-1].y)
		}
		for i := range dir {
			dir[i] *= gamma
		}
		for i := range hist {
			beta := hist[i].rho * dot(hist[i].y, dir)
			axpy(alpha[i]-beta, hist[i].s, dir)
		}
		for i := range dir {
			dir[i] = -dir[i]
		}
		slope := dot(g, dir)
		if slope >= 0 { // not a descent direction: restart from steepest descent
			hist = hist[:0]
			for i := range dir {
				dir[i] = -g[i]
			}
			slope = dot(g, dir)
		}
		step := 1.0
		if len(hist) == 0 {
			// first step or restart: the first trial moves by at most 1 (in l1, as torch)
			var l1 float64
			for _, v := range g {
				l1 += math.Abs(v)
			}
			step = math.Min(1, 1/l1)
		}
		t, fNew, gNew, ok := ls.search(x, f, g, dir, slope, step)
		if !ok {
			break // no decrease possible at the objective's precision: x is the best point
		}
		s := make([]float64, n)
		y := make([]float64, n)
		var moved float64
		for i := range s {
			s[i] = t * dir[i]
			y[i] = gNew[i] - g[i]
			x[i] += s[i]
			moved = math.Max(moved, math.Abs(s[i]))
		}
		copy(g, gNew)
		improved := f - fNew
		f = fNew
		if sy := dot(s, y); sy > 1e-12 {
			if len(hist) == cfg.Mem {
				hist = append(hist[:0], hist[1:]...)
			}
			hist = append(hist, pair{s, y, 1 / sy})
		}
		if improved <= cfg.RelTol*math.Max(1, math.Abs(f)) || moved <= cfg.RelTol {
			iter++
			break
		}
	}
	return f, iter, nil
}

// --- strong-Wolfe line search

// wolfePoint is one trial of the line search: step t, f and slope ∇f·d there.
type wolfePoint struct {
	t, f, gtd float64
	g         []float64
}

// wolfeSearch holds the line search's scratch: three trial points, so that
// the two ends of a bracket and a new trial never share a gradient buffer.
type wolfeSearch struct {
	fg     func(x, g []float64) float64
	xt     []float64
	pts    [3]wolfePoint
	maxEvs int
}

func newWolfeSearch(fg func(x, g []float64) float64, n int) *wolfeSearch {
	w := &wolfeSearch{fg: fg, xt: make([]float64, n), maxEvs: 25}
	for i := range w.pts {
		w.pts[i].g = make([]float64, n)
	}
	return w
}

// eval fills p with t, f and the slope at x + t·d.
func (w *wolfeSearch) eval(p *wolfePoint, x, d []float64, t float64) {
	for i := range x {
		w.xt[i] = x[i] + t*d[i]
	}
	p.t = t
	p.f = w.fg(w.xt, p.g)
	p.gtd = dot(p.g, d)
	if math.IsNaN(p.f) || math.IsNaN(p.gtd) { // an infinitely bad point: the search shrinks
		p.f, p.gtd = math.Inf(1), 0
	}
}

// free returns a scratch point that is neither a nor b.
func (w *wolfeSearch) free(a, b *wolfePoint) *wolfePoint {
	for i := range w.pts {
		if p := &w.pts[i]; p != a && p != b {
			return p
		}
	}
	panic("wolfe search: no free point")
}

// search looks along d from x (value f0, gradient g0, slope gtd0 < 0) for a
// step t with f(t) ≤ f0 + c1·t·gtd0 and |∇f(t)·d| ≤ c2·|gtd0|, starting at
// t0 (Nocedal & Wright Algorithms 3.5 and 3.6). It returns the step, f and
// the gradient there (scratch, valid until the next call), and false when
// no trial lowered f. After 25 evaluations it returns the best point of the
// bracket.
func (w *wolfeSearch) search(x []float64, f0 float64, g0, d []float64, gtd0, t0 float64) (float64, float64, []float64, bool) {
	const c1, c2 = 1e-4, 0.9
	armijo := func(p *wolfePoint) bool { return p.f <= f0+c1*p.t*gtd0 }
	curv := func(p *wolfePoint) bool { return math.Abs(p.gtd) <= -c2*gtd0 }
	done := func(p *wolfePoint) (float64, float64, []float64, bool) { return p.t, p.f, p.g, p.f < f0 }

	// origin is never written: only scratch points are evaluated into.
	origin := &wolfePoint{t: 0, f: f0, gtd: gtd0, g: g0}
	prev, cur := origin, &w.pts[0]
	w.eval(cur, x, d, t0)
	evals := 1

	// Bracketing: grow the step until cur is acceptable or [lo, hi]
	// brackets acceptable steps (lo: the end with the lower f).
	var lo, hi *wolfePoint
	for {
		if !armijo(cur) || (prev != origin && cur.f >= prev.f) {
			lo, hi = prev, cur
			break
		}
		if curv(cur) {
			return done(cur)
		}
		if cur.gtd >= 0 {
			lo, hi = cur, prev
			break
		}
		if evals >= w.maxEvs {
			return done(cur)
		}
		// extrapolate: the cubic's minimiser, kept in [cur + 0.01(cur − prev), 10·cur]
		t := cubicMin(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd, cur.t+0.01*(cur.t-prev.t), 10*cur.t)
		next := w.free(prev, cur)
		w.eval(next, x, d, t)
		evals++
		prev, cur = cur, next
	}

	// Zoom: shrink [lo, hi] by safeguarded cubic interpolation.
	insufficient := false
	for evals < w.maxEvs {
		a, b := math.Min(lo.t, hi.t), math.Max(lo.t, hi.t)
		if (b-a)*maxAbs(d) < 1e-12*math.Max(1, maxAbs(x)) {
			break // the bracket is below the resolution of x
		}
		t := cubicMin(lo.t, lo.f, lo.gtd, hi.t, hi.f, hi.gtd, a, b)
		// keep the trial away from the ends, so the bracket shrinks
		if eps := 0.1 * (b - a); math.Min(b-t, t-a) < eps {
			if insufficient || t >= b || t <= a {
				if math.Abs(t-b) < math.Abs(t-a) {
					t = b - eps
				} else {
					t = a + eps
				}
				insufficient = false
			} else {
				insufficient = true
			}
		} else {
			insufficient = false
		}
		p := w.free(lo, hi)
		w.eval(p, x, d, t)
		evals++
		if !armijo(p) || p.f >= lo.f {
			hi = p
		} else {
			if curv(p) {
				return done(p)
			}
			if p.gtd*(hi.t-lo.t) >= 0 {
				hi = lo
			}
			lo = p
		}
	}
	return done(lo)
}

// cubicMin returns the minimiser of the cubic interpolating (t1, f1, g1)
// and (t2, f2, g2) (values and slopes), clamped to [lo, hi]; the midpoint of
// [lo, hi] when the cubic has no minimiser.
func cubicMin(t1, f1, g1, t2, f2, g2, lo, hi float64) float64 {
	d1 := g1 + g2 - 3*(f1-f2)/(t1-t2)
	sq := d1*d1 - g1*g2
	if sq < 0 || math.IsNaN(sq) || math.IsInf(f1, 0) || math.IsInf(f2, 0) {
		return (lo + hi) / 2
	}
	d2 := math.Sqrt(sq)
	var m float64
	if t1 <= t2 {
		m = t2 - (t2-t1)*((g2+d2-d1)/(g2-g1+2*d2))
	} else {
		m = t1 - (t1-t2)*((g1+d2-d1)/(g1-g2+2*d2))
	}
	if math.IsNaN(m) {
		return (lo + hi) / 2
	}
	return math.Min(math.Max(m, lo), hi)
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func maxAbs(a []float64) float64 {
	var m float64
	for _, v := range a {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
