package reports

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/siambench/siambench/reports/stats"
	"github.com/siambench/siambench/results"
)

// model is the sweep arranged for the tables and plots: settings, and in
// each setting the variants (runs that differ only in their seed).
type model struct {
	sw       *sweep
	settings []*settingModel
	methods  []string // every method, in display order (its index picks its colour)
}

// settingModel is one pre-training dataset and backbone.
type settingModel struct {
	Setting
	variants  []*variant // sorted: method order, options, batch, epochs
	epochs    []int      // epoch budgets of the main table, ascending
	baselines []baseline // those that apply here, in display order
	// hasDefault says whether a method ran with its default options here;
	// if not, its option variants stand in for it in the main table.
	hasDefault map[string]bool
}

// variant is a set of runs identical except for their seed.
type variant struct {
	Setting
	method    string
	optKey    string
	batch     int
	epochs    int
	negatives bool
	momentum  bool
	runs      []*run // sorted by seed, then ID
}

// methodRank orders the known methods as the SimSiam paper's Table 4 does;
// others follow alphabetically.
var methodRank = map[string]int{"simclr": 0, "moco": 1, "mocov2": 1, "byol": 2, "swav": 3, "simsiam": 4}

// baselineRank orders baselines: raw pixels, random init, supervised, others.
var baselineRank = map[string]int{results.BaselineRawPixels: 0, results.BaselineRandomInit: 1, results.BaselineSupervised: 2}

// methodLess orders method names: the known ones in the paper's order, then
// the rest alphabetically.
func methodLess(a, b string) bool {
	ra, oka := methodRank[strings.ToLower(a)]
	rb, okb := methodRank[strings.ToLower(b)]
	switch {
	case oka && okb && ra != rb:
		return ra < rb
	case oka != okb:
		return oka
	}
	return a < b
}

func buildModel(sw *sweep) *model {
	m := &model{sw: sw}
	bySetting := map[Setting]*settingModel{}
	byVariant := map[string]*variant{}
	methods := map[string]bool{}
	for _, r := range sw.runs {
		s := Setting{Dataset: r.Dataset, Eval: r.EvalDataset, Backbone: r.Backbone}
		sm := bySetting[s]
		if sm == nil {
			sm = &settingModel{Setting: s, hasDefault: map[string]bool{}}
			bySetting[s] = sm
			m.settings = append(m.settings, sm)
		}
		methods[r.Method] = true
		key := strings.Join([]string{r.Dataset, r.EvalDataset, r.Backbone, r.Method, r.optKey, itoa(r.BatchSize), itoa(r.Epochs)}, "\x00")
		v := byVariant[key]
		if v == nil {
			v = &variant{Setting: s, method: r.Method, optKey: r.optKey, batch: r.BatchSize, epochs: r.Epochs}
			byVariant[key] = v
			sm.variants = append(sm.variants, v)
		}
		v.runs = append(v.runs, r)
		// A method's properties are the same for all its runs; take any true.
		v.negatives = v.negatives || r.Negatives
		v.momentum = v.momentum || r.MomentumEncoder
		if r.optKey == "" {
			sm.hasDefault[r.Method] = true
		}
	}
	for name := range methods {
		m.methods = append(m.methods, name)
	}
	sort.Slice(m.methods, func(i, j int) bool { return methodLess(m.methods[i], m.methods[j]) })
	sort.Slice(m.settings, func(i, j int) bool {
		a, b := m.settings[i], m.settings[j]
		if a.Dataset != b.Dataset {
			return a.Dataset < b.Dataset
		}
		if a.Eval != b.Eval {
			return a.Eval < b.Eval
		}
		return a.Backbone < b.Backbone
	})
	// A baseline-only summary still gets a setting per baseline dataset.
	if len(m.settings) == 0 {
		seen := map[Setting]bool{}
		for _, b := range sw.baselines {
			s := Setting{Dataset: b.Dataset, Backbone: b.Backbone}
			if b.name == results.BaselineRawPixels {
				s.Backbone = ""
			}
			if !seen[s] {
				seen[s] = true
				m.settings = append(m.settings, &settingModel{Setting: s, hasDefault: map[string]bool{}})
			}
		}
		sort.Slice(m.settings, func(i, j int) bool {
			return m.settings[i].Dataset+"\x00"+m.settings[i].Backbone < m.settings[j].Dataset+"\x00"+m.settings[j].Backbone
		})
	}
	for _, sm := range m.settings {
		sort.Slice(sm.variants, func(i, j int) bool { return variantLess(sm.variants[i], sm.variants[j]) })
		epochs := map[int]bool{}
		for _, v := range sm.variants {
			sort.Slice(v.runs, func(i, j int) bool {
				if v.runs[i].Seed != v.runs[j].Seed {
					return v.runs[i].Seed < v.runs[j].Seed
				}
				return v.runs[i].ID < v.runs[j].ID
			})
			if sm.inMain(v) {
				epochs[v.epochs] = true
			}
		}
		sm.epochs = slices.Sorted(maps.Keys(epochs))
		sm.baselines = applicableBaselines(sw.baselines, sm.Setting)
	}
	return m
}

func variantLess(a, b *variant) bool {
	switch {
	case a.method != b.method:
		return methodLess(a.method, b.method)
	case a.optKey != b.optKey:
		return a.optKey < b.optKey // "" (the defaults) first
	case a.batch != b.batch:
		return a.batch < b.batch
	}
	return a.epochs < b.epochs
}

// applicableBaselines picks, per baseline name and training budget, the
// most specific stored baseline that matches the setting (equal
// dataset/backbone, or left empty).
func applicableBaselines(all []baseline, s Setting) []baseline {
	best := map[string]baseline{}
	score := map[string]int{}
	for _, b := range all { // sorted by key: ties keep the first key
		group := b.name + "\x00" + fmt.Sprintf("%09d", b.Epochs)
		if b.Dataset != "" && b.Dataset != s.evaluation() {
			continue
		}
		sc := 0
		if b.Dataset != "" {
			sc++
		}
		if b.Backbone != "" && b.name != results.BaselineRawPixels {
			if b.Backbone != s.Backbone {
				continue
			}
			sc++
		}
		if old, ok := score[group]; !ok || sc > old {
			best[group], score[group] = b, sc
		}
	}
	out := make([]baseline, 0, len(best))
	for _, name := range slices.Sorted(maps.Keys(best)) {
		out = append(out, best[name])
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, oki := baselineRank[out[i].name]
		rj, okj := baselineRank[out[j].name]
		if oki != okj {
			return oki
		}
		if ri != rj {
			return ri < rj
		}
		return out[i].Epochs < out[j].Epochs
	})
	return out
}

// label is the baseline's display name, with its training budget if it has one.
func (b baseline) label() string {
	if b.Epochs > 0 {
		return fmt.Sprintf("%s (%d ep)", baselineLabel(b.name), b.Epochs)
	}
	return baselineLabel(b.name)
}

// baselineLabel is a baseline's display name.
func baselineLabel(name string) string {
	switch name {
	case results.BaselineRawPixels:
		return "raw pixels"
	case results.BaselineRandomInit:
		return "random-init backbone"
	case results.BaselineSupervised:
		return "supervised backbone"
	}
	return name
}

// inMain reports whether v belongs in the main table: a method's default
// options, or any options of a method that never ran with its defaults here.
func (sm *settingModel) inMain(v *variant) bool {
	return v.optKey == "" || !sm.hasDefault[v.method]
}

// baseline returns the named baseline of the setting, if stored (of a
// trained baseline, the one with the largest budget).
func (sm *settingModel) baseline(name string) (baseline, bool) {
	var out baseline
	ok := false
	for _, b := range sm.baselines {
		if b.name == name {
			out, ok = b, true
		}
	}
	return out, ok
}

// baselineAt returns the named baseline that applies to an epoch budget:
// the one trained for exactly that budget, else one without a budget
// (untrained, or stored before budgets were recorded). A trained baseline
// never stands in for another budget.
func (sm *settingModel) baselineAt(name string, epochs int) (baseline, bool) {
	var any baseline
	found := false
	for _, b := range sm.baselines {
		if b.name != name {
			continue
		}
		if b.Epochs == epochs {
			return b, true
		}
		if b.Epochs == 0 && !found {
			any, found = b, true
		}
	}
	return any, found
}

// label is the variant's method with its options when not the defaults.
func (v *variant) label() string { return methodLabel(v.method, v.optKey) }

func methodLabel(method, optKey string) string {
	if optKey == "" {
		return method
	}
	return method + " (" + optKey + ")"
}

// evaluated returns the runs with real final numbers.
func (v *variant) evaluated() []*run {
	var out []*run
	for _, r := range v.runs {
		if r.hasNumbers() {
			out = append(out, r)
		}
	}
	return out
}

// stat averages f over the evaluated runs.
func (v *variant) stat(f func(*run) float64) Stat {
	var xs []float64
	for _, r := range v.evaluated() {
		xs = append(xs, f(r))
	}
	return statOf(xs)
}

// collapsed counts the runs that collapsed.
func (v *variant) collapsed() int {
	n := 0
	for _, r := range v.runs {
		if r.Status == results.StatusCollapsed {
			n++
		}
	}
	return n
}

// failed counts the runs that failed.
func (v *variant) failed() int {
	n := 0
	for _, r := range v.runs {
		if r.Status == results.StatusFailed {
			n++
		}
	}
	return n
}

// outputDim returns d when all runs that know it agree, else 0.
func (v *variant) outputDim() int {
	d := 0
	for _, r := range v.runs {
		if r.outputDim == 0 {
			continue
		}
		if d != 0 && d != r.outputDim {
			return 0
		}
		d = r.outputDim
	}
	return d
}

// statOf is the mean, sample standard deviation and 95% interval of xs.
func statOf(xs []float64) Stat {
	d := stats.Describe(xs)
	if !d.HasInterval() {
		return Stat{Mean: d.Mean, N: d.N}
	}
	return Stat{Mean: d.Mean, Std: d.Std, Lo: d.Lo, Hi: d.Hi, N: d.N}
}

// mainRows builds the rows of the main table of every setting: one per
// method, options and batch size, then one per baseline.
func (m *model) mainRows() []MainRow {
	var rows []MainRow
	for _, sm := range m.settings {
		rows = append(rows, sm.mainRows()...)
	}
	return rows
}

func (sm *settingModel) mainRows() []MainRow {
	var rows []MainRow
	index := map[string]int{}
	for _, v := range sm.variants {
		if !sm.inMain(v) {
			continue
		}
		key := v.method + "\x00" + v.optKey + "\x00" + itoa(v.batch)
		i, ok := index[key]
		if !ok {
			i = len(rows)
			index[key] = i
			row := MainRow{
				Setting: sm.Setting, Label: v.label(), Method: v.method, Options: v.optKey,
				BatchSize: v.batch, Negatives: v.negatives, MomentumEncoder: v.momentum,
			}
			for _, e := range sm.epochs {
				row.Cells = append(row.Cells, MainCell{Epochs: e})
			}
			rows = append(rows, row)
		}
		row := &rows[i]
		row.Negatives = row.Negatives || v.negatives
		row.MomentumEncoder = row.MomentumEncoder || v.momentum
		for c := range row.Cells {
			if row.Cells[c].Epochs == v.epochs {
				row.Cells[c] = MainCell{
					Epochs:    v.epochs,
					Linear:    v.stat(func(r *run) float64 { return r.LinearTop1 }),
					KNN:       v.stat(func(r *run) float64 { return r.KNNTop1 }),
					Runs:      len(v.runs),
					Collapsed: v.collapsed(),
					Failed:    v.failed(),
				}
			}
		}
	}
	// One row per baseline name; a trained baseline fills only the columns
	// of the budgets it was trained for ("—" elsewhere).
	seen := map[string]bool{}
	for _, b := range sm.baselines {
		if seen[b.name] {
			continue
		}
		seen[b.name] = true
		row := MainRow{Setting: sm.Setting, Label: baselineLabel(b.name), Baseline: b.name}
		for _, e := range sm.epochs {
			c := MainCell{Epochs: e}
			if bl, ok := sm.baselineAt(b.name, e); ok {
				c.Linear, c.KNN, c.Runs = Stat{Mean: bl.LinearTop1, N: 1}, Stat{Mean: bl.KNNTop1, N: 1}, 1
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	return rows
}
