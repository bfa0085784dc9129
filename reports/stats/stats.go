// Package stats holds the statistics the reports put on numbers over seeds:
// mean, sample standard deviation, a 95% Student-t interval, and paired
// differences between two sets of runs that share their seeds.
//
// Pairing: two runs with the same seed see the same images in the same
// order with the same augmentations (the shared loader), so the difference
// per seed removes the seed's own effect and is the unit of comparison.
package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Level is the coverage of every interval here.
const Level = 0.95

// Summary is a mean over N values with its sample standard deviation and
// the 95% Student-t interval [Lo, Hi] for the mean (t with N−1 degrees of
// freedom). With N < 2 Std is 0 and the interval is undefined: Lo and Hi
// are NaN. N == 0 means no values (Mean is 0).
type Summary struct {
	N         int
	Mean, Std float64
	Lo, Hi    float64
}

// HasInterval reports whether the interval is defined (N ≥ 2).
func (s Summary) HasInterval() bool { return s.N >= 2 }

// ContainsZero reports whether the interval contains 0: at this many
// values, the mean is not distinguishable from 0. It is false without an
// interval.
func (s Summary) ContainsZero() bool { return s.HasInterval() && s.Lo <= 0 && s.Hi >= 0 }

// Describe summarises xs. xs is not modified.
func Describe(xs []float64) Summary {
	n := len(xs)
	s := Summary{N: n, Lo: math.NaN(), Hi: math.NaN()}
	if n == 0 {
		return s
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	s.Mean = sum / float64(n)
	if n < 2 {
		return s
	}
	var ss float64
	for _, x := range xs {
		ss += (x - s.Mean) * (x - s.Mean)
	}
	s.Std = math.Sqrt(ss / float64(n-1))
	half := TQuantile(0.5+Level/2, n-1) * s.Std / math.Sqrt(float64(n))
	s.Lo, s.Hi = s.Mean-half, s.Mean+half
	return s
}

// Paired summarises the per-key differences a[k] − b[k] over the keys
// (seeds) present in both maps; keys in only one are left out.
func Paired[K comparable](a, b map[K]float64) Summary {
	var d []float64
	for k, x := range a {
		if y, ok := b[k]; ok {
			d = append(d, x-y)
		}
	}
	// the sum's order must not depend on map order: sort the differences
	sortFloats(d)
	return Describe(d)
}

// Shifted summarises xs − c for a constant c (a reference number without
// seeds, e.g. a baseline computed once): the interval is over xs only.
func Shifted(xs []float64, c float64) Summary {
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = x - c
	}
	return Describe(d)
}

// TQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom (df ≥ 1); e.g. TQuantile(0.975, 4) ≈ 2.776.
func TQuantile(p float64, df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(p)
}

func sortFloats(x []float64) {
	// insertion sort: a handful of seeds
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}
