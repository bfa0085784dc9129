package reports

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/siambench/siambench/reports/stats"
	"github.com/siambench/siambench/results"
)

// comparison is one paired comparison: a variant minus a reference at the
// same batch size and epoch budget, per seed.
type comparison struct {
	label         string // "byol − simsiam"
	batch, epochs int
	linear, knn   stats.Summary // of the per-seed differences, in [−1,1]
}

// comparisons lists, for the setting: each method against SimSiam, each
// method against the random-init backbone and raw pixels, and each option
// variant against its method's defaults. Methods are the main table's
// variants; a pair needs the same batch size and epoch budget.
func (sm *settingModel) comparisons() []comparison {
	var out []comparison
	var main []*variant
	for _, v := range sm.variants {
		if sm.inMain(v) {
			main = append(main, v)
		}
	}
	find := sm.find
	paired := func(label string, v, ref *variant) {
		c := comparison{label: label, batch: v.batch, epochs: v.epochs}
		c.linear, c.knn = pairedWith(v, ref)
		out = append(out, c)
	}
	// methods against SimSiam
	for _, v := range main {
		if isSimSiam(v.method) {
			continue
		}
		ref := find(func(r *variant) bool {
			return isSimSiam(r.method) && sm.inMain(r) && r.optKey == "" && r.batch == v.batch && r.epochs == v.epochs
		})
		if ref != nil {
			paired(v.label()+" − "+ref.label(), v, ref)
		}
	}
	// methods against the untrained baselines (one number each: no seeds to pair)
	for _, name := range []string{results.BaselineRandomInit, results.BaselineRawPixels} {
		bl, ok := sm.baseline(name)
		if !ok {
			continue
		}
		for _, v := range main {
			out = append(out, comparison{label: v.label() + " − " + baselineLabel(name), batch: v.batch, epochs: v.epochs,
				linear: stats.Shifted(v.values(linearOf), bl.LinearTop1),
				knn:    stats.Shifted(v.values(knnOf), bl.KNNTop1)})
		}
	}
	// option variants against their defaults
	for _, v := range sm.variants {
		if v.optKey == "" {
			continue
		}
		ref := find(func(r *variant) bool {
			return r.method == v.method && r.optKey == "" && r.batch == v.batch && r.epochs == v.epochs
		})
		if ref != nil {
			paired(v.label()+" − defaults", v, ref)
		}
	}
	return out
}

// find returns the setting's first variant for which pred holds, or nil.
func (sm *settingModel) find(pred func(*variant) bool) *variant {
	for _, v := range sm.variants {
		if pred(v) {
			return v
		}
	}
	return nil
}

// pairedWith is v minus ref, linear and kNN, paired by seed.
func pairedWith(v, ref *variant) (linear, knn stats.Summary) {
	return stats.Paired(v.bySeed(linearOf), ref.bySeed(linearOf)), stats.Paired(v.bySeed(knnOf), ref.bySeed(knnOf))
}

func isSimSiam(method string) bool { return strings.EqualFold(method, "simsiam") }

func linearOf(r *run) float64 { return r.LinearTop1 }
func knnOf(r *run) float64    { return r.KNNTop1 }

// bySeed maps each seed of the evaluated runs to f (the first run of a seed).
func (v *variant) bySeed(f func(*run) float64) map[int64]float64 {
	out := map[int64]float64{}
	for _, r := range v.evaluated() {
		if _, ok := out[r.Seed]; !ok {
			out[r.Seed] = f(r)
		}
	}
	return out
}

// values is f over the evaluated runs, in seed order.
func (v *variant) values(f func(*run) float64) []float64 {
	var out []float64
	for _, r := range v.evaluated() {
		out = append(out, f(r))
	}
	return out
}

// writeComparisons renders the paired comparisons of the setting.
func writeComparisons(b *bytes.Buffer, h string, sm *settingModel) {
	cs := sm.comparisons()
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(b, "%s Paired comparisons\n\n", h)
	var body [][]string
	for _, c := range cs {
		body = append(body, []string{c.label, itoa(c.batch), itoa(c.epochs), itoa(c.linear.N), diffCell(c.linear), diffCell(c.knn)})
	}
	writeTable(b, []string{"comparison", "batch", "epochs", "n", "linear Δ (points)", "kNN Δ (points)"}, body)
	fmt.Fprintf(b, "How to read it: each row is the mean over seeds of the per-seed difference, first minus second, in points, "+
		"with its 95%% Student-t interval over seeds in brackets (t with n−1 degrees of freedom). "+
		"Two runs with the same seed see the same images in the same order with the same augmentations, so the per-seed difference is the unit; "+
		"*n* counts the seeds both sides finished. "+
		"A baseline is one number (raw pixels have no seed; the random-init backbone is computed for the sweep's first seed), so against it the interval is over the method's seeds only. "+
		"*Not distinguishable at n seeds*: the interval contains 0, so these seeds do not tell the two apart. "+
		"With one seed there is no interval: single-seed differences below about 2 points are not evidence.\n\n")
}

// diffCell is "+1.2 [+0.3, +2.1]", "+0.4 [−1.1, +1.9], not distinguishable
// at 3 seeds", "+1.2 (1 seed: no interval)" or "—".
func diffCell(s stats.Summary) string {
	switch {
	case s.N == 0:
		return "—"
	case !s.HasInterval():
		return signedPts(s.Mean) + " (1 seed: no interval)"
	}
	out := fmt.Sprintf("%s [%s, %s]", signedPts(s.Mean), signedPts(s.Lo), signedPts(s.Hi))
	if s.ContainsZero() {
		out += fmt.Sprintf(", not distinguishable at %d seeds", s.N)
	}
	return out
}

// signedPts formats a difference of fractions in points with the sign of
// the unrounded value ("−0.0" for a small negative: an interval ending
// there excludes 0).
func signedPts(x float64) string {
	s := strconv.FormatFloat(math.Abs(round1(100*x)), 'f', 1, 64)
	if x < 0 {
		return "−" + s
	}
	return "+" + s
}

// maxSeeds is the largest number of finished seeds behind any number of m.
func (m *model) maxSeeds() int {
	n := 0
	for _, sm := range m.settings {
		for _, v := range sm.variants {
			n = max(n, len(v.evaluated()))
		}
	}
	return n
}
