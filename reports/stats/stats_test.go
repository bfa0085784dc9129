package stats

import (
	"math"
	"testing"
)

func TestTQuantileMatchesTable(t *testing.T) {
	// two-sided 95% critical values, from the standard t table
	// (e.g. NIST/SEMATECH e-Handbook, Table 1.3.6.7.2)
	for _, tc := range []struct {
		df   int
		want float64
	}{
		{1, 12.7062047}, {2, 4.30265273}, {3, 3.18244631}, {4, 2.77644511},
		{9, 2.26215716}, {29, 2.04522964}, {1000, 1.96233908},
	} {
		if got := TQuantile(0.975, tc.df); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("t(0.975, df=%d): want %.8f, got %.8f", tc.df, tc.want, got)
		}
	}
	if got := TQuantile(0.5, 3); math.Abs(got) > 1e-12 {
		t.Errorf("median of t: want 0, got %v", got)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }

func TestDescribe(t *testing.T) {
	t.Run("five values by hand", func(t *testing.T) {
		// mean 3, s = √2.5 = 1.5811388, s/√5 = 0.7071068, t(0.975,4) = 2.7764451
		// → half-width 1.9632432
		s := Describe([]float64{1, 2, 3, 4, 5})
		if s.N != 5 || !near(s.Mean, 3) || !near(s.Std, 1.5811388) || !near(s.Lo, 1.0367568) || !near(s.Hi, 4.9632432) {
			t.Errorf("got %+v", s)
		}
		if s.ContainsZero() {
			t.Error("[1.04, 4.96] does not contain 0")
		}
	})
	t.Run("one value: no interval", func(t *testing.T) {
		s := Describe([]float64{0.7})
		if s.N != 1 || s.Mean != 0.7 || s.Std != 0 || s.HasInterval() || !math.IsNaN(s.Lo) || s.ContainsZero() {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if s := Describe(nil); s.N != 0 || s.HasInterval() {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("constant values: zero-width interval", func(t *testing.T) {
		s := Describe([]float64{2, 2, 2})
		if s.Std != 0 || s.Lo != 2 || s.Hi != 2 {
			t.Errorf("got %+v", s)
		}
	})
}

func TestPaired(t *testing.T) {
	// seeds 0,1,2 shared; seed 3 only in a (left out).
	a := map[int64]float64{0: 0.70, 1: 0.72, 2: 0.69, 3: 0.99}
	b := map[int64]float64{0: 0.68, 1: 0.71, 2: 0.70}
	// d = 0.02, 0.01, −0.01: mean 0.0066667, s = √(2.3333e-4) = 0.0152753,
	// s/√3 = 0.0088192, t(0.975,2) = 4.3026527 → half-width 0.0379458
	s := Paired(a, b)
	if s.N != 3 || !near(s.Mean, 0.0066667) || !near(s.Std, 0.0152753) || !near(s.Lo, -0.0312791) || !near(s.Hi, 0.0446124) {
		t.Errorf("got %+v", s)
	}
	if !s.ContainsZero() {
		t.Error("the interval contains 0: not distinguishable at 3 seeds")
	}
	// The same numbers unpaired would hide a consistent gain that pairing shows:
	// d = 0.011, 0.010, 0.012 (mean 0.011, s = 0.001, half-width 0.0024841).
	c := map[int64]float64{0: 0.691, 1: 0.720, 2: 0.712}
	s = Paired(c, b)
	if !near(s.Mean, 0.011) || !near(s.Lo, 0.0085159) || !near(s.Hi, 0.0134841) || s.ContainsZero() {
		t.Errorf("consistent gain: got %+v", s)
	}
}

func TestShifted(t *testing.T) {
	// 0.8, 0.82, 0.84 against 0.80: d = 0, 0.02, 0.04: mean 0.02, s = 0.02,
	// s/√3 = 0.0115470, half-width 0.0496828
	s := Shifted([]float64{0.8, 0.82, 0.84}, 0.80)
	if !near(s.Mean, 0.02) || !near(s.Std, 0.02) || !near(s.Lo, -0.0296828) || !near(s.Hi, 0.0696828) || !s.ContainsZero() {
		t.Errorf("got %+v", s)
	}
}
