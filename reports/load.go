package reports

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/siambench/siambench/results"
)

// sweep is everything read from a results directory.
type sweep struct {
	dir       string
	env       results.Environment
	runs      []*run               // sorted by run ID
	baselines []baseline           // sorted by key
	gaps      []string             // what was missing or unreadable, sorted
	finished  time.Time            // newest run finish time; zero if none stored
	versions  []string             // distinct code versions, sorted
	rebuilt   bool                 // summary.json was missing; rows rebuilt from runs/
	configs   map[string]*runFiles // per run ID
}

// run is one summary row plus what its run folder adds.
type run struct {
	results.SummaryRun
	optKey    string                 // canonical options, "" for the defaults
	metrics   []results.EpochMetrics // per-epoch metrics, epoch order
	outputDim int                    // d for the 1/√d line; 0 if unknown
	finished  time.Time
	invalid   string // why its numbers are not used (bad values); "" if fine
	// embedding is runs/<id>/embedding.json; nil when the run stored none
	// (evaluated by an older bench, or not finished) or it was unreadable.
	embedding *results.Embedding
}

// runFiles is what a run folder held besides the summary row.
type runFiles struct {
	config *results.RunConfig
	status *results.RunStatus
}

// baseline is one stored baseline with its parsed name.
type baseline struct {
	key  string // the key in summary.json or the file stem in baselines/
	name string // results.BaselineRawPixels, ... or the key for unknown kinds
	results.Baseline
	embedding *results.Embedding // the file Baseline.Embedding names; nil if none
}

// hasNumbers reports whether a run finished and was evaluated, so that its
// accuracies are real numbers (a collapsed run's are real too: near chance).
func (r *run) hasNumbers() bool {
	return r.invalid == "" && (r.Status == results.StatusCompleted || r.Status == results.StatusCollapsed)
}

// load reads dir. Only an unusable directory or a corrupt summary.json is an
// error; per-run problems become gaps.
func load(ctx context.Context, dir string) (*sweep, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("results directory %s does not exist: pass the folder given to bench run --out", dir)
		}
		return nil, fmt.Errorf("read results directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("results path %s is a file, not a directory: pass the folder given to bench run --out", dir)
	}
	sw := &sweep{dir: dir, configs: map[string]*runFiles{}}

	var sum results.Summary
	sumPath := filepath.Join(dir, results.SummaryFile)
	var newer *results.SchemaError
	switch err := results.ReadJSON(sumPath, &sum); {
	case err == nil:
	case errors.As(err, &newer):
		// Rebuilding from runs/ would not help: a newer bench wrote them too.
		return nil, err
	case errors.Is(err, fs.ErrNotExist):
		rebuilt, err := rebuildSummary(ctx, sw)
		if err != nil {
			return nil, err
		}
		sum = *rebuilt
		sw.rebuilt = true
	default:
		return nil, fmt.Errorf("read summary: %w (or delete it: bench report then rebuilds the rows from %s/)", err, results.RunsDir)
	}
	if len(sum.Runs) == 0 && len(sum.Baselines) == 0 {
		return nil, fmt.Errorf("no results in %s: %s lists no runs and no baselines; run bench run --out %s first", dir, results.SummaryFile, dir)
	}
	sw.env = sum.Environment

	seen := map[string]bool{}
	versions := map[string]bool{}
	if v := sum.Environment.CodeVersion; v != "" {
		versions[v] = true
	}
	for i := range sum.Runs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("load results: %w", err)
		}
		r := &run{SummaryRun: sum.Runs[i]}
		if r.ID == "" || seen[r.ID] {
			sw.gap("%s row %d (%s) has an empty or repeated run id %q: skipped; rerun the sweep to rewrite the summary", results.SummaryFile, i+1, r.Method, r.ID)
			continue
		}
		seen[r.ID] = true
		r.optKey = optionsKey(r.Options)
		sw.loadRunFiles(r, versions)
		r.invalid = checkValues(r)
		if r.invalid != "" && (r.Status == results.StatusCompleted || r.Status == results.StatusCollapsed) {
			sw.gap("run %s (%s): %s; its numbers are left out", r.ID, r.Method, r.invalid)
		}
		sw.runs = append(sw.runs, r)
		if r.finished.After(sw.finished) {
			sw.finished = r.finished
		}
	}
	sort.Slice(sw.runs, func(i, j int) bool { return sw.runs[i].ID < sw.runs[j].ID })
	for v := range versions {
		sw.versions = append(sw.versions, v)
	}
	sort.Strings(sw.versions)

	keys := make([]string, 0, len(sum.Baselines))
	for k := range sum.Baselines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := sum.Baselines[k]
		if bad := checkBaseline(b); bad != "" {
			sw.gap("baseline %s: %s; left out", k, bad)
			continue
		}
		name, _, _ := strings.Cut(k, "/")
		sw.baselines = append(sw.baselines, baseline{key: k, name: name, Baseline: b, embedding: sw.baselineEmbedding(k, b)})
	}
	sort.Strings(sw.gaps)
	return sw, nil
}

// loadRunFiles reads what the summary row lacks from runs/<id>/: per-epoch
// metrics, and from config.json and status.json the output dimension and the
// finish time.
func (sw *sweep) loadRunFiles(r *run, versions map[string]bool) {
	if !safeID(r.ID) {
		sw.gap("run id %q is not a plain folder name: its run folder was not read", r.ID)
		return
	}
	rdir := filepath.Join(sw.dir, results.RunsDir, r.ID)
	rf := sw.configs[r.ID]
	if rf == nil {
		rf = &runFiles{}
		var cfg results.RunConfig
		if err := results.ReadJSON(filepath.Join(rdir, results.ConfigFile), &cfg); err == nil {
			rf.config = &cfg
		} else if !errors.Is(err, fs.ErrNotExist) {
			sw.gap("run %s: %v", r.ID, err)
		}
		var st results.RunStatus
		if err := results.ReadJSON(filepath.Join(rdir, results.StatusFile), &st); err == nil {
			rf.status = &st
		} else if !errors.Is(err, fs.ErrNotExist) {
			sw.gap("run %s: %v", r.ID, err)
		}
	}
	if rf.config != nil {
		if r.OutputDim == 0 {
			r.OutputDim = rf.config.OutputDim
		}
		if v := rf.config.CodeVersion; v != "" {
			versions[v] = true
		}
	}
	r.outputDim = r.OutputDim
	r.finished = r.FinishedAt
	if rf.status != nil {
		if r.finished.IsZero() {
			r.finished = rf.status.FinishedAt
		}
		if r.CollapseReason == "" {
			r.CollapseReason = rf.status.CollapseReason
		}
		if r.EpochsDone == 0 {
			r.EpochsDone = rf.status.EpochsDone
		}
	}
	r.finished = r.finished.UTC()

	if r.Status == results.StatusCompleted || r.Status == results.StatusCollapsed {
		switch e, err := results.ReadEmbedding(filepath.Join(rdir, results.EmbeddingFile)); {
		case err == nil:
			r.embedding = e
		case errors.Is(err, fs.ErrNotExist): // an older bench: the report says the scatter is missing
		default:
			sw.gap("run %s (%s): embedding unreadable (%v); its scatter is left out — delete the file to drop this note", r.ID, r.Method, err)
		}
	}

	mpath := filepath.Join(rdir, results.MetricsFile)
	ms, err := results.ReadMetrics(mpath)
	switch {
	case err == nil:
		var bad int
		r.metrics, bad = cleanMetrics(ms)
		if bad > 0 {
			sw.gap("run %s: %s holds %d epoch lines with an epoch < 1; they are left out of the plots", r.ID, mpath, bad)
		}
	case errors.Is(err, fs.ErrNotExist):
		if r.Status != results.StatusPending {
			sw.gap("run %s (%s): no %s, so it has no per-epoch curves; rerun it (bench run resumes from its checkpoint) to record them", r.ID, r.Method, mpath)
		}
	default:
		sw.gap("run %s (%s): per-epoch metrics unreadable (%v); its curves are left out — delete the file and rerun the run to rewrite it", r.ID, r.Method, err)
	}
}

// baselineEmbedding reads the embedding file a baseline names, which must
// lie under baselines/; nil when it names none or the file is unusable (a gap).
func (sw *sweep) baselineEmbedding(key string, b results.Baseline) *results.Embedding {
	rel := b.Embedding
	if rel == "" {
		return nil
	}
	if path.IsAbs(rel) || path.Clean(rel) != rel || !strings.HasPrefix(rel, results.BaselinesDir+"/") {
		sw.gap("baseline %s: embedding path %q is not a plain path under %s/: not read", key, rel, results.BaselinesDir)
		return nil
	}
	e, err := results.ReadEmbedding(filepath.Join(sw.dir, filepath.FromSlash(rel)))
	if err != nil {
		sw.gap("baseline %s: embedding unreadable (%v); its scatter is left out", key, err)
		return nil
	}
	return e
}

// rebuildSummary builds summary rows from runs/*/ when summary.json is
// missing (a sweep stopped before writing it), and baselines from baselines/.
func rebuildSummary(ctx context.Context, sw *sweep) (*results.Summary, error) {
	sum := &results.Summary{Baselines: map[string]results.Baseline{}}
	runsDir := filepath.Join(sw.dir, results.RunsDir)
	entries, err := os.ReadDir(runsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	for _, e := range entries { // os.ReadDir sorts by name
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("load results: %w", err)
		}
		if !e.IsDir() {
			continue
		}
		rdir := filepath.Join(runsDir, e.Name())
		var cfg results.RunConfig
		if err := results.ReadJSON(filepath.Join(rdir, results.ConfigFile), &cfg); err != nil {
			sw.gap("run folder %s: %v; skipped", rdir, err)
			continue
		}
		rf := &runFiles{config: &cfg}
		var st *results.RunStatus
		var status results.RunStatus
		switch err := results.ReadJSON(filepath.Join(rdir, results.StatusFile), &status); {
		case err == nil:
			st, rf.status = &status, &status
		case errors.Is(err, fs.ErrNotExist):
		default:
			sw.gap("run %s: %v; its status is unknown", e.Name(), err)
		}
		var ev *results.Eval
		var evFile results.Eval
		var ms []results.EpochMetrics
		switch err := results.ReadJSON(filepath.Join(rdir, results.EvalFile), &evFile); {
		case err == nil:
			ev = &evFile
		case errors.Is(err, fs.ErrNotExist):
			if st != nil && (st.Status == results.StatusDiverged || st.Status == results.StatusFailed) {
				// as the sweep's summary: the last monitored epoch (the file is checked again by loadRunFiles)
				ms, _ = results.ReadMetrics(filepath.Join(rdir, results.MetricsFile))
			}
		default:
			sw.gap("run %s: %v; its accuracies are left out", e.Name(), err)
		}
		cfg.ID = e.Name()
		row := results.NewSummaryRun(cfg, st, ev, ms)
		if ev == nil && (row.Status == results.StatusCompleted || row.Status == results.StatusCollapsed) {
			sw.gap("run %s: status %s but no readable %s; its accuracies are left out", e.Name(), row.Status, results.EvalFile)
			row.Status = results.StatusRunning
		}
		if sum.Environment == (results.Environment{}) {
			sum.Environment = cfg.Environment
		}
		sw.configs[row.ID] = rf
		sum.Runs = append(sum.Runs, row)
	}
	bents, err := os.ReadDir(filepath.Join(sw.dir, results.BaselinesDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read baselines: %w", err)
	}
	for _, e := range bents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		var b results.Baseline
		p := filepath.Join(sw.dir, results.BaselinesDir, e.Name())
		if err := results.ReadJSON(p, &b); err != nil {
			sw.gap("baseline %v; left out", err)
			continue
		}
		sum.Baselines[strings.TrimSuffix(e.Name(), ".json")] = b
	}
	if len(sum.Runs) == 0 && len(sum.Baselines) == 0 {
		return nil, fmt.Errorf("no results in %s: found neither %s nor %s/*/%s; run bench run --out %s first", sw.dir, results.SummaryFile, results.RunsDir, results.ConfigFile, sw.dir)
	}
	sw.gap("%s is missing (the sweep did not finish?): the rows were rebuilt from %s/ and %s/", results.SummaryFile, results.RunsDir, results.BaselinesDir)
	return sum, nil
}

func (sw *sweep) gap(format string, args ...any) {
	sw.gaps = append(sw.gaps, fmt.Sprintf(format, args...))
}

// safeID reports whether id can be used as a folder name under runs/.
func safeID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`)
}

// checkValues returns why a finished run's numbers cannot be used, or "".
func checkValues(r *run) string {
	acc := map[string]float64{"knn_top1": r.KNNTop1, "best_knn_top1": r.BestKNNTop1, "linear_top1": r.LinearTop1}
	for _, k := range slices.Sorted(maps.Keys(r.Transfer)) {
		acc["transfer "+k] = r.Transfer[k]
	}
	for _, k := range slices.Sorted(maps.Keys(acc)) {
		if v := acc[k]; !(v >= 0 && v <= 1) {
			return fmt.Sprintf("%s = %g is not a fraction in [0,1] (the results were not written by this bench version?)", k, v)
		}
	}
	if r.BatchSize <= 0 || r.Epochs <= 0 {
		return fmt.Sprintf("batch size %d and epochs %d must be positive", r.BatchSize, r.Epochs)
	}
	return ""
}

func checkBaseline(b results.Baseline) string {
	acc := map[string]float64{"knn_top1": b.KNNTop1, "linear_top1": b.LinearTop1}
	for _, k := range slices.Sorted(maps.Keys(b.Transfer)) {
		acc["transfer "+k] = b.Transfer[k]
	}
	for _, k := range slices.Sorted(maps.Keys(acc)) {
		if v := acc[k]; !(v >= 0 && v <= 1) {
			return fmt.Sprintf("%s = %g is not a fraction in [0,1]", k, v)
		}
	}
	return ""
}

// cleanMetrics returns the epoch lines in increasing epoch order (a resumed
// run may repeat an epoch: the last line wins) and how many lines it dropped
// for a bad epoch number.
func cleanMetrics(ms []results.EpochMetrics) (out []results.EpochMetrics, bad int) {
	byEpoch := map[int]results.EpochMetrics{}
	for _, m := range ms {
		if m.Epoch < 1 {
			bad++
			continue
		}
		byEpoch[m.Epoch] = m
	}
	out = make([]results.EpochMetrics, 0, len(byEpoch))
	for _, e := range slices.Sorted(maps.Keys(byEpoch)) {
		out = append(out, byEpoch[e])
	}
	return out, bad
}

// optionsKey is the canonical form of a method's options: "k=v,k2=v2" sorted
// by key; "" for none.
func optionsKey(o map[string]string) string {
	parts := make([]string, 0, len(o))
	for _, k := range slices.Sorted(maps.Keys(o)) {
		parts = append(parts, k+"="+o[k])
	}
	return strings.Join(parts, ",")
}
