package eval

import (
	"context"
	"fmt"
	"math"
)

// lbfgs minimises a smooth function in place of x with limited-memory BFGS
// (Nocedal & Wright, Algorithm 7.4: two-loop recursion) and a backtracking
// line search under the Armijo condition. fg returns f(x) and writes ∇f(x)
// into g. It stops after maxIter iterations, when the gradient's max-norm
// falls below 1e-6, or when an iteration improves f by less than 1e-10
// relative; it returns the final f and the iterations done. Everything is
// sequential, so the result is deterministic.
func lbfgs(ctx context.Context, fg func(x, g []float64) float64, x []float64, maxIter, mem int) (float64, int, error) {
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
	alpha := make([]float64, mem)
	xNew := make([]float64, n)
	gNew := make([]float64, n)
	iter := 0
	for ; iter < maxIter; iter++ {
		if err := ctx.Err(); err != nil {
			return f, iter, err
		}
		if maxAbs(g) < 1e-6 {
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
			// first step or restart: scale so the first trial moves by at most 1
			step = math.Min(1, 1/math.Sqrt(dot(dir, dir)))
		}
		var fNew float64
		accepted := false
		for try := 0; try < 40; try++ {
			for i := range x {
				xNew[i] = x[i] + step*dir[i]
			}
			fNew = fg(xNew, gNew)
			if !math.IsNaN(fNew) && fNew <= f+1e-4*step*slope {
				accepted = true
				break
			}
			step *= 0.5
		}
		if !accepted {
			break // no progress possible at float precision: x is the best point
		}
		s := make([]float64, n)
		y := make([]float64, n)
		for i := range s {
			s[i] = xNew[i] - x[i]
			y[i] = gNew[i] - g[i]
		}
		copy(x, xNew)
		copy(g, gNew)
		improved := f - fNew
		f = fNew
		if sy := dot(s, y); sy > 1e-12 {
			if len(hist) == mem {
				hist = append(hist[:0], hist[1:]...)
			}
			hist = append(hist, pair{s, y, 1 / sy})
		}
		if improved <= 1e-10*math.Max(1, math.Abs(f)) {
			iter++
			break
		}
	}
	return f, iter, nil
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
