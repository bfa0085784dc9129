package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/reports"
	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

// tinyBackbone is a one-conv network: fast enough for many test runs, real
// enough (conv, BN with running statistics, ReLU, pooling) to exercise the
// loop. Its output is (N,8).
func tinyBackbone(name string, c int, rng *rand.Rand) (nn.Module, error) {
	if name != "tiny" {
		return nil, fmt.Errorf("unknown backbone %q (have: tiny)", name)
	}
	return nn.NewSequential("tiny",
		nn.NewConv2d(rng, c, 8, 3, 2, 1, false), nn.NewBatchNorm(8, true), nn.NewReLU(),
		&nn.Func{Name: "gap", F: nn.GlobalAvgPool}), nil
}

func openData(ctx context.Context, name string) (*data.Splits, error) {
	return data.Open(ctx, name, data.OpenOptions{})
}

// crashOnce wraps InProcess so that the first instance started panics at
// step crashAt (a plugin crash in the middle of an epoch); later instances
// are healthy.
type crashOnce struct {
	InProcess
	crashAt int
	started atomic.Int32
}

func (c *crashOnce) Start(ctx context.Context, name string) (Instance, error) {
	inst, err := c.InProcess.Start(ctx, name)
	if err != nil {
		return nil, err
	}
	if c.started.Add(1) == 1 {
		return &panicky{Instance: inst, at: c.crashAt}, nil
	}
	return inst, nil
}

type panicky struct {
	Instance
	at int
}

func (p *panicky) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	if in.Step == p.at {
		return sdk.StepOutput{}, fmt.Errorf("step %d: %w: simulated crash", in.Step, sdk.ErrPanicked)
	}
	return p.Instance.Step(ctx, in)
}

func toyMethods() InProcess {
	return InProcess{"toy": func() sdk.Method { return toy.New() }, "toy-target": func() sdk.Method { return toy.NewTarget() }}
}

func newTestRunner(t *testing.T, dir string, cfg sweep.Config, methods Methods) *Runner {
	t.Helper()
	plan, err := sweep.MakePlan(context.Background(), cfg, methods.Describe, sweep.Code{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &Runner{Plan: plan, Store: st, Methods: methods, NewBackbone: tinyBackbone, OpenDataset: openData,
		Command: "bench run --out " + dir, Workers: 1}
}

func smallConfig(methods ...string) sweep.Config {
	f := false
	return sweep.Config{Methods: methods, Dataset: "default", Backbone: "tiny", BatchSizes: []int{32},
		Epochs: []int{2}, Seeds: []int64{0}, TrainLimit: 256, TestLimit: 100, Baselines: &f}
}

func readSummary(t *testing.T, dir string) results.Summary {
	t.Helper()
	var s results.Summary
	if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunnerSweepAndReuse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := smallConfig("toy", "toy-target")
	cfg.Transfer = []string{"default-mnist"}
	on := true
	cfg.Baselines = &on
	r := newTestRunner(t, dir, cfg, toyMethods())
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := readSummary(t, dir)
	if len(sum.Runs) != 2 {
		t.Fatalf("summary has %d runs, want 2", len(sum.Runs))
	}
	// the supervised baseline's training checkpoint goes once its result is stored
	if left, _ := filepath.Glob(filepath.Join(dir, results.BaselinesDir, "*.ckpt")); len(left) != 0 {
		t.Errorf("baseline checkpoints left behind: %v", left)
	}
	if js, _ := filepath.Glob(filepath.Join(dir, results.BaselinesDir, "supervised-*.json")); len(js) != 1 {
		t.Errorf("supervised baseline results: %v, want one", js)
	}
	for _, row := range sum.Runs {
		if row.Status != results.StatusCompleted {
			t.Errorf("%s: status %s (%s)", row.ID, row.Status, row.Error)
		}
		for name, v := range map[string]float64{"knn": row.KNNTop1, "linear": row.LinearTop1, "transfer": row.Transfer["default-mnist"]} {
			// 10 classes: anything learnt from real images beats 10% clearly.
			if !(v > 0.15 && v <= 1) {
				t.Errorf("%s: %s top-1 %.3f not in (0.15,1]", row.ID, name, v)
			}
		}
		if row.ImagesPerSecond <= 0 || row.WallSeconds <= 0 || row.EpochsDone != 2 {
			t.Errorf("%s: throughput %v, wall %v, epochs %d", row.ID, row.ImagesPerSecond, row.WallSeconds, row.EpochsDone)
		}
		ms, err := r.Store.Metrics(row.ID)
		if err != nil || len(ms) != 2 || ms[1].Epoch != 2 || ms[1].Step != 2*(256/32) {
			t.Fatalf("%s metrics: %+v %v", row.ID, ms, err)
		}
		if _, ok := ms[0].Metrics["output_std"]; !ok || ms[0].OutputStd <= 0 {
			t.Errorf("%s: output_std not recorded: %+v", row.ID, ms[0])
		}
		// The report's scatter: the test split (100 images, 10 classes) in 2-D, 0644.
		ep := filepath.Join(r.Store.RunDir(row.ID), results.EmbeddingFile)
		e, err := results.ReadEmbedding(ep)
		if err != nil {
			t.Errorf("%s: %v", row.ID, err)
		} else if len(e.X) == 0 || len(e.X) > 100 || e.Method != row.Method || e.Dim != 8 || len(e.Classes) != 10 ||
			!(e.ExplainedVariance[0] >= e.ExplainedVariance[1] && e.ExplainedVariance[0]+e.ExplainedVariance[1] <= 1+1e-9) {
			t.Errorf("%s: embedding %d points, method %q, dim %d, %d classes, explained %v", row.ID, len(e.X), e.Method, e.Dim, len(e.Classes), e.ExplainedVariance)
		}
		if fi, err := os.Stat(ep); err == nil && fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", ep, fi.Mode().Perm())
		}
		// The lr at the end of the cosine schedule is ~0 and never above the peak.
		if ms[1].LR > ms[0].LR || ms[0].LR > 0.05*32/256+1e-12 {
			t.Errorf("%s: lr schedule %v then %v", row.ID, ms[0].LR, ms[1].LR)
		}
	}
	if !sum.Runs[1].MomentumEncoder || sum.Runs[0].MomentumEncoder {
		t.Error("momentum_encoder column wrong")
	}
	for _, name := range []string{results.BaselineRawPixels, results.BaselineRandomInit, results.BaselineSupervised} {
		b, ok := sum.Baselines[name]
		// (kNN with k=200 over a 256-image bank of an 8-wide random net may sit near chance.)
		if !ok || !(b.KNNTop1 > 0 && b.KNNTop1 <= 1) || !(b.LinearTop1 > 0.15) || b.Transfer["default-mnist"] <= 0.15 {
			t.Errorf("baseline %s: %+v (present %v)", name, b, ok)
		}
	}
	// The random-init baseline names its embedding; the others have none.
	if rel := sum.Baselines[results.BaselineRandomInit].Embedding; rel == "" {
		t.Error("random-init baseline names no embedding")
	} else if e, err := results.ReadEmbedding(filepath.Join(dir, filepath.FromSlash(rel))); err != nil || e.Method != results.BaselineRandomInit {
		t.Errorf("random-init embedding %s: %v", rel, err)
	}
	if rel := sum.Baselines[results.BaselineRawPixels].Embedding; rel != "" {
		t.Errorf("raw pixels name an embedding %q", rel)
	}
	// Raw pixels on Fashion-MNIST are a strong baseline: far above a 1-conv random net is not required,
	// but they must be well above chance.
	if sum.Baselines[results.BaselineRawPixels].KNNTop1 < 0.5 {
		t.Errorf("raw-pixel kNN %.3f: want ≥ 0.5 on Fashion-MNIST", sum.Baselines[results.BaselineRawPixels].KNNTop1)
	}

	// Rerunning the same sweep reuses everything: nothing is retrained.
	before := map[string]os.FileInfo{}
	for _, row := range sum.Runs {
		fi, _ := os.Stat(filepath.Join(r.Store.RunDir(row.ID), results.CheckpointFile))
		before[row.ID] = fi
	}
	r.Store.Close()
	r2 := newTestRunner(t, dir, cfg, toyMethods())
	if err := r2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for id, fi := range before {
		fi2, _ := os.Stat(filepath.Join(r.Store.RunDir(id), results.CheckpointFile))
		if !fi2.ModTime().Equal(fi.ModTime()) {
			t.Errorf("run %s was retrained on rerun", id)
		}
	}
	sum2 := readSummary(t, dir)
	if sum2.Runs[0].KNNTop1 != sum.Runs[0].KNNTop1 || sum2.Baselines[results.BaselineRawPixels].KNNTop1 != sum.Baselines[results.BaselineRawPixels].KNNTop1 {
		t.Error("summary changed on rerun")
	}
}

func TestRunnerDeterministic(t *testing.T) {
	// The same config in two directories gives bit-identical metrics.
	ctx := context.Background()
	var knn [2]float64
	var loss [2]float64
	for i := range 2 {
		dir := t.TempDir()
		r := newTestRunner(t, dir, smallConfig("toy"), toyMethods())
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		ms, _ := r.Store.Metrics(r.Plan.Runs[0].Config.ID)
		knn[i], loss[i] = ms[1].KNNTop1, ms[1].Loss
	}
	if knn[0] != knn[1] || loss[0] != loss[1] {
		t.Errorf("not deterministic: knn %v, loss %v", knn, loss)
	}
}

func TestRunnerRecoversFromCrash(t *testing.T) {
	ctx := context.Background()
	// Reference: no crash.
	ref := newTestRunner(t, t.TempDir(), smallConfig("toy"), toyMethods())
	if err := ref.Run(ctx); err != nil {
		t.Fatal(err)
	}
	refMs, _ := ref.Store.Metrics(ref.Plan.Runs[0].Config.ID)

	dir := t.TempDir()
	m := &crashOnce{InProcess: toyMethods(), crashAt: 11} // step 11 is in epoch 2 (8 steps per epoch)
	r := newTestRunner(t, dir, smallConfig("toy"), m)
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	id := r.Plan.Runs[0].Config.ID
	st, _, _ := r.Store.Status(id)
	if st.Status != results.StatusCompleted || st.Restarts != 1 {
		t.Fatalf("status after a crash: %+v, want completed with 1 restart", st)
	}
	ms, _ := r.Store.Metrics(id)
	if len(ms) != 2 {
		t.Fatalf("want 2 epochs of metrics, got %d", len(ms))
	}
	// Restored from the epoch-1 checkpoint and redone: identical to no crash.
	if ms[1].KNNTop1 != refMs[1].KNNTop1 || ms[1].Loss != refMs[1].Loss {
		t.Errorf("after recovery: knn %v loss %v; without crash: knn %v loss %v", ms[1].KNNTop1, ms[1].Loss, refMs[1].KNNTop1, refMs[1].Loss)
	}
}

// nanMethod returns a NaN loss from step 3 on.
type nanMethod struct{ sdk.Method }

func (n nanMethod) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	out, err := n.Method.Step(ctx, in)
	if in.Step >= 10 {
		out.Loss = math.NaN()
	}
	return out, err
}

func TestRunnerDiverged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	methods := InProcess{"toy": func() sdk.Method { return nanMethod{toy.New()} }}
	r := newTestRunner(t, dir, smallConfig("toy"), methods)
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	id := r.Plan.Runs[0].Config.ID
	st, _, _ := r.Store.Status(id)
	if st.Status != results.StatusDiverged || !strings.Contains(st.Error, "step 10") {
		t.Fatalf("status %+v, want diverged at step 10", st)
	}
	ms, _ := r.Store.Metrics(id)
	if len(ms) != 1 {
		t.Errorf("the completed epoch's metrics must be kept: got %d epochs", len(ms))
	}
	sum := readSummary(t, dir)
	if len(sum.Runs) != 1 || sum.Runs[0].Status != results.StatusDiverged || sum.Runs[0].KNNTop1 <= 0 {
		t.Errorf("summary row: %+v", sum.Runs)
	}
	// A diverged run is final: a rerun does not retry it.
	if done, _ := r.Store.Finished(id); !done {
		t.Error("diverged run not final")
	}
}

func TestRunnerInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig("toy")
	cfg.Epochs = []int{3}
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel as soon as the first epoch's checkpoint is written.
	stop := &cancelAfter{InProcess: toyMethods(), cancel: cancel, at: 9}
	r := newTestRunner(t, dir, cfg, stop)
	err := r.Run(ctx)
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "bench run --out") {
		t.Fatalf("want ErrInterrupted with the resume command, got %v", err)
	}
	id := r.Plan.Runs[0].Config.ID
	st, _, _ := r.Store.Status(id)
	if st.Status != results.StatusRunning || st.EpochsDone != 1 {
		t.Fatalf("interrupted status %+v, want running with 1 epoch done", st)
	}
	r.Store.Close()

	r2 := newTestRunner(t, dir, cfg, toyMethods())
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _, _ = r2.Store.Status(id)
	if st.Status != results.StatusCompleted || st.Resumed != 1 || st.EpochsDone != 3 {
		t.Fatalf("after resume: %+v", st)
	}
	ms, _ := r2.Store.Metrics(id)
	// Compare with an uninterrupted run.
	ref := newTestRunner(t, t.TempDir(), cfg, toyMethods())
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	refMs, _ := ref.Store.Metrics(id)
	for i := range refMs {
		if ms[i].Loss != refMs[i].Loss || ms[i].KNNTop1 != refMs[i].KNNTop1 {
			t.Errorf("epoch %d: resumed loss/knn %v/%v, uninterrupted %v/%v", i+1, ms[i].Loss, ms[i].KNNTop1, refMs[i].Loss, refMs[i].KNNTop1)
		}
	}
}

// cancelAfter cancels the context when step `at` starts.
type cancelAfter struct {
	InProcess
	cancel func()
	at     int
}

func (c *cancelAfter) Start(ctx context.Context, name string) (Instance, error) {
	inst, err := c.InProcess.Start(ctx, name)
	return &cancelling{inst, c}, err
}

type cancelling struct {
	Instance
	c *cancelAfter
}

func (c *cancelling) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	if in.Step == c.c.at {
		c.c.cancel()
		return sdk.StepOutput{}, ctx.Err()
	}
	return c.Instance.Step(ctx, in)
}

func TestRunnerLARSWarmup(t *testing.T) {
	cfg := smallConfig("toy")
	cfg.Set = []string{"toy.optimizer=lars", "toy.warmup_epochs=1"}
	r := newTestRunner(t, t.TempDir(), cfg, toyMethods())
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	run := r.Plan.Runs[0].Config
	st, _, _ := r.Store.Status(run.ID)
	if st.Status != results.StatusCompleted {
		t.Fatalf("status %+v", st)
	}
	ms, _ := r.Store.Metrics(run.ID)
	// 8 steps per epoch, warm-up over epoch 1: its last step runs at the peak lr;
	// then cosine: step 15 of 16 is at (1+cos(7π/8))/2 of it.
	if ms[0].LR != run.LR {
		t.Errorf("lr at the end of warm-up: want %v, got %v", run.LR, ms[0].LR)
	}
	want := run.LR * (1 + math.Cos(7*math.Pi/8)) / 2
	if math.Abs(ms[1].LR-want) > 1e-12 {
		t.Errorf("lr at the last step: want %v, got %v", want, ms[1].LR)
	}
}

// initRecorder records the InitConfig each started instance receives.
type initRecorder struct {
	InProcess
	mu   sync.Mutex
	cfgs []sdk.InitConfig
}

func (r *initRecorder) Start(ctx context.Context, name string) (Instance, error) {
	inst, err := r.InProcess.Start(ctx, name)
	if err != nil {
		return nil, err
	}
	return &recordingInit{Instance: inst, r: r}, nil
}

type recordingInit struct {
	Instance
	r *initRecorder
}

func (i *recordingInit) Init(cfg sdk.InitConfig) error {
	i.r.mu.Lock()
	i.r.cfgs = append(i.r.cfgs, cfg)
	i.r.mu.Unlock()
	return i.Instance.Init(cfg)
}

// The method's heads are told the backbone's recipe for the run, --set
// overrides included (InitConfig.Hyper), and the spec's values otherwise.
func TestMethodReceivesRunRecipe(t *testing.T) {
	cfg := smallConfig("toy")
	cfg.Epochs = []int{1}
	cfg.Set = []string{"toy.optimizer=lars", "toy.weight_decay=0.25,0"}
	rec := &initRecorder{InProcess: toyMethods()}
	r := newTestRunner(t, t.TempDir(), cfg, rec)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	spec := toy.New().Describe().Hyper
	var wds []float64
	for _, c := range rec.cfgs {
		h := c.Hyper
		if h.Optimizer != "lars" || h.Momentum != spec.Momentum || h.BaseLR != spec.BaseLR {
			t.Errorf("method got recipe %+v, want lars with the spec's momentum %v and base lr %v", h, spec.Momentum, spec.BaseLR)
		}
		wds = append(wds, h.WeightDecay)
	}
	slices.Sort(wds)
	if !slices.Equal(wds, []float64{0, 0.25}) {
		t.Fatalf("weight decays the two runs' methods got: %v, want [0 0.25]", wds)
	}
}

// TestSupervisedBaselineResumes: the supervised baseline stopped after its
// first epoch (as a kill would, the epoch's checkpoint written) resumes from
// that checkpoint and ends exactly where an uninterrupted training does.
func TestSupervisedBaselineResumes(t *testing.T) {
	ctx := context.Background()
	r := newTestRunner(t, t.TempDir(), smallConfig("toy"), toyMethods())
	ds, err := r.openDatasets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := r.supervisedBaseline(ctx, ds, 0, 32, 2, filepath.Join(t.TempDir(), "whole.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "b", "sup.ckpt")
	// Interrupt as Ctrl-C does: cancel the context once epoch 1 is logged
	// (its checkpoint is written next, the second epoch never starts).
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.Log = slog.New(epochWatch{func(epoch int) {
		if epoch == 1 {
			cancel()
		}
	}})
	_, err = r.supervisedBaseline(cctx, ds, 0, 32, 2, ckpt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	if c, _, err := loadCheckpoint(ckpt); err != nil || c.Epoch != 1 {
		t.Fatalf("checkpoint after the stop: epoch %d, %v; want epoch 1", c.Epoch, err)
	}
	var trained []int // epochs the resumed call trains
	r.Log = slog.New(epochWatch{func(epoch int) { trained = append(trained, epoch) }})
	resumed, err := r.supervisedBaseline(ctx, ds, 0, 32, 2, ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(trained) != 1 || trained[0] != 2 {
		t.Errorf("resumed call trained epochs %v, want only [2]", trained)
	}
	if resumed.KNNTop1 != whole.KNNTop1 || resumed.LinearTop1 != whole.LinearTop1 {
		t.Errorf("resumed kNN/linear %v/%v, uninterrupted %v/%v", resumed.KNNTop1, resumed.LinearTop1, whole.KNNTop1, whole.LinearTop1)
	}
	if !(whole.KNNTop1 > 0.15) {
		t.Errorf("supervised kNN %.3f: not trained", whole.KNNTop1)
	}
}

// epochWatch is a log handler that calls on with the epoch of each
// "supervised baseline" line (epoch "E/N").
type epochWatch struct{ on func(epoch int) }

func (h epochWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h epochWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h epochWatch) WithGroup(string) slog.Handler            { return h }
func (h epochWatch) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "supervised baseline" {
		rec.Attrs(func(a slog.Attr) bool {
			var e, n int
			if _, err := fmt.Sscanf(a.Value.String(), "%d/%d", &e, &n); a.Key == "epoch" && err == nil {
				h.on(e)
			}
			return true
		})
	}
	return nil
}

// initFails is a method whose Init always fails (a bad option value that
// only the method can judge, a broken plugin): its runs end failed.
type initFails struct{ sdk.Method }

func (initFails) Init(sdk.InitConfig) error {
	return fmt.Errorf("%w: simulated bad option", sdk.ErrBadInput)
}

// nanFrom returns a NaN loss from step at on (at 0: the first epoch
// diverges before any epoch finished).
type nanFrom struct {
	sdk.Method
	at int
}

func (n nanFrom) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	out, err := n.Method.Step(ctx, in)
	if in.Step >= n.at {
		out.Loss = math.NaN()
	}
	return out, err
}

// TestRunnerReportsFailedRuns checks what Run returns once the sweep is
// done: nil when every run has a result (collapsed and diverged runs are
// results), ErrRunsFailed naming the count when any failed — after the
// summary (with the failed rows) and the report were written.
func TestRunnerReportsFailedRuns(t *testing.T) {
	methods := InProcess{
		"toy":      func() sdk.Method { return toy.New() },
		"broken":   func() sdk.Method { return initFails{toy.New()} },
		"diverges": func() sdk.Method { return nanFrom{toy.New(), 0} },
	}
	cases := []struct {
		name       string
		methods    []string
		wantFailed string // substring of the ErrRunsFailed error; "" = Run returns nil
	}{
		{"all completed", []string{"toy"}, ""},
		{"diverged is a result", []string{"diverges"}, ""},
		{"all failed", []string{"broken"}, "1 of 1 runs failed"},
		{"partly failed", []string{"toy", "broken"}, "1 of 2 runs failed (first: broken-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := smallConfig(tc.methods...)
			cfg.Epochs = []int{1}
			r := newTestRunner(t, dir, cfg, methods)
			reported := false
			r.Report = func(context.Context, string) error { reported = true; return nil }
			err := r.Run(context.Background())
			if tc.wantFailed == "" {
				if err != nil {
					t.Fatalf("Run: %v, want nil", err)
				}
			} else if !errors.Is(err, ErrRunsFailed) || !strings.Contains(err.Error(), tc.wantFailed) {
				t.Fatalf("Run: %v, want ErrRunsFailed containing %q", err, tc.wantFailed)
			}
			if !reported {
				t.Error("the report was not written")
			}
			sum := readSummary(t, dir)
			if len(sum.Runs) != len(tc.methods) {
				t.Fatalf("summary has %d rows, want %d", len(sum.Runs), len(tc.methods))
			}
			for _, row := range sum.Runs {
				if row.Method == "broken" && (row.Status != results.StatusFailed || !strings.Contains(row.Error, "simulated bad option")) {
					t.Errorf("failed row: %+v", row)
				}
			}
		})
	}
}

// TestEpochsDoneZeroOnFirstEpochDivergence: a run that diverges in its
// first epoch has epochs_done 0 in summary.json, not a missing field.
func TestEpochsDoneZeroOnFirstEpochDivergence(t *testing.T) {
	dir := t.TempDir()
	methods := InProcess{"toy": func() sdk.Method { return nanFrom{toy.New(), 0} }}
	r := newTestRunner(t, dir, smallConfig("toy"), methods)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, results.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Runs) != 1 || raw.Runs[0]["status"] != results.StatusDiverged {
		t.Fatalf("summary rows: %v", raw.Runs)
	}
	if v, ok := raw.Runs[0]["epochs_done"]; !ok || v != 0.0 {
		t.Errorf("epochs_done = %v (present %v), want 0", v, ok)
	}
}

// TestTwoSweepsIntoOneDir: a second, different sweep into the same results
// directory keeps the first one's runs in summary.json (after its own),
// and EarlierRuns names them.
func TestTwoSweepsIntoOneDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := smallConfig("toy")
	first.Epochs = []int{1}
	r1 := newTestRunner(t, dir, first, toyMethods())
	if err := r1.Run(ctx); err != nil {
		t.Fatal(err)
	}
	firstID := r1.Plan.Runs[0].Config.ID
	r1.Store.Close()

	second := first
	second.Seeds = []int64{1}
	r2 := newTestRunner(t, dir, second, toyMethods())
	earlier, err := r2.EarlierRuns()
	if err != nil || !slices.Equal(earlier, []string{firstID}) {
		t.Fatalf("EarlierRuns = %v, %v; want [%s]", earlier, err, firstID)
	}
	if err := r2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := readSummary(t, dir)
	var ids []string
	for _, row := range sum.Runs {
		ids = append(ids, row.ID)
		if row.Status != results.StatusCompleted || row.LinearTop1 <= 0 {
			t.Errorf("row %s: %s, linear %v", row.ID, row.Status, row.LinearTop1)
		}
	}
	if want := []string{r2.Plan.Runs[0].Config.ID, firstID}; !slices.Equal(ids, want) {
		t.Errorf("summary runs %v, want %v (this sweep's, then the earlier one)", ids, want)
	}
	if sum.Runs[1].Seed != 0 || sum.Runs[1].Method != "toy" {
		t.Errorf("earlier run's row rebuilt wrongly: %+v", sum.Runs[1])
	}
}

// TestSupervisedBaselinePerEpochBudget: a sweep over two epoch budgets trains
// the supervised baseline once per budget, and the report shows each under
// its own column (it once printed the 2-epoch numbers under both).
func TestSupervisedBaselinePerEpochBudget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := smallConfig("toy")
	cfg.Epochs = []int{1, 2}
	cfg.Transfer = []string{"none"}
	on := true
	cfg.Baselines = &on
	r := newTestRunner(t, dir, cfg, toyMethods())
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := readSummary(t, dir)
	if _, ok := sum.Baselines[results.BaselineSupervised]; ok {
		t.Errorf("with two budgets the plain %q key must not be used", results.BaselineSupervised)
	}
	ds, err := r.openDatasets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []int{1, 2} {
		key := fmt.Sprintf("%s/%dep", results.BaselineSupervised, e)
		b, ok := sum.Baselines[key]
		if !ok {
			t.Fatalf("summary lacks %s: %v", key, sum.Baselines)
		}
		if b.Epochs != e {
			t.Errorf("%s: epochs %d, want %d", key, b.Epochs, e)
		}
		// the stored numbers are those of a training of exactly e epochs
		want, err := r.supervisedBaseline(ctx, ds, 0, 32, e, filepath.Join(t.TempDir(), "sup.ckpt"))
		if err != nil {
			t.Fatal(err)
		}
		if b.LinearTop1 != want.LinearTop1 || b.KNNTop1 != want.KNNTop1 {
			t.Errorf("%s: linear/kNN %v/%v, a %d-epoch training gives %v/%v", key, b.LinearTop1, b.KNNTop1, e, want.LinearTop1, want.KNNTop1)
		}
	}
	one, two := sum.Baselines["supervised/1ep"], sum.Baselines["supervised/2ep"]
	if one.LinearTop1 == two.LinearTop1 && one.KNNTop1 == two.KNNTop1 {
		t.Fatalf("1- and 2-epoch supervised baselines are identical (%+v): not trained separately?", one)
	}
	rep, err := reports.Generate(ctx, dir, reports.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) }
	want := fmt.Sprintf("| *supervised backbone* | — | — | — | %s | %s | %s | %s |",
		pct(one.LinearTop1), pct(two.LinearTop1), pct(one.KNNTop1), pct(two.KNNTop1))
	if !strings.Contains(string(md), want) {
		t.Errorf("report's supervised row: want %q in\n%s", want, md)
	}
}
