package harness

// Shape legend: B = images per batch, V = views, C,H,W = view shape,
// D = backbone feature width.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/internal/rusage"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

// errDiverged marks a NaN/Inf in the loss, gradients or features.
var errDiverged = pluginhost.ErrDiverged

// trainer is one run being trained.
type trainer struct {
	r    *Runner
	run  sweep.Run
	cfg  results.RunConfig
	ds   *splitSet
	log  *slog.Logger
	idx  int
	path string // checkpoint

	backbone, target nn.Module
	opt              optim.Optimizer
	inst             Instance
	loader           *data.Loader
	featDim          int

	stepsPerEpoch, totalSteps, warmupSteps int

	status  results.RunStatus
	metrics []results.EpochMetrics
	ck      ckptHeader // progress as of the last checkpoint
	bank    eval.Features
	test    eval.Features
	outDim  int
}

// trainRun trains, monitors and evaluates one run, resuming from its
// checkpoint when one exists.
func (r *Runner) trainRun(ctx context.Context, idx int, run sweep.Run, ds *splitSet) (err error) {
	t := &trainer{r: r, run: run, cfg: run.Config, ds: ds, idx: idx, path: r.Store.CheckpointPath(run.Config.ID)}
	t.cfg.Environment = r.Env
	if err := os.MkdirAll(r.Store.RunDir(t.cfg.ID), 0o755); err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	log, closeLog, err := runLogger(r.logger(), r.Store.LogPath(t.cfg.ID))
	if err != nil {
		return err
	}
	defer closeLog()
	t.log = log.With("run", t.cfg.ID)
	defer func() {
		if t.inst != nil {
			t.inst.Close()
		}
	}()
	if err := t.setup(ctx); err != nil {
		return err
	}
	if err := t.resume(ctx); err != nil {
		return err
	}
	// The engine's free lists hold this run's buffers between steps; the
	// next run (another backbone or batch size) and the evaluation, whose
	// shapes differ, start without them beside their own.
	defer nn.ReleaseScratch()
	err = t.train(ctx)
	nn.ReleaseScratch()
	if errors.Is(err, errDiverged) {
		t.log.Warn("run diverged; metrics kept", "err", err)
		t.status.Status, t.status.Error, t.status.FinishedAt = results.StatusDiverged, err.Error(), time.Now().UTC()
		return t.writeStatus()
	}
	if err != nil {
		return err
	}
	return t.evaluate(ctx)
}

// setup builds the backbone, target, optimizer, loader and method instance.
func (t *trainer) setup(ctx context.Context) error {
	c := t.cfg
	rng := rand.New(rand.NewPCG(uint64(c.Seed), 0xb0b))
	var err error
	if t.backbone, err = t.r.NewBackbone(c.Backbone, t.ds.channels, rng); err != nil {
		return fmt.Errorf("backbone %s: %w", c.Backbone, err)
	}
	if t.featDim, err = featureDim(t.backbone, t.ds.pretrain); err != nil {
		return err
	}
	if t.run.Spec.Target != nil {
		if t.target, err = t.r.NewBackbone(c.Backbone, t.ds.channels, rng); err != nil {
			return fmt.Errorf("target backbone %s: %w", c.Backbone, err)
		}
		if err := optim.CopyParams(t.target, t.backbone); err != nil {
			return fmt.Errorf("target backbone: %w", err)
		}
	}
	groups := []optim.Group{{Params: t.backbone.Params(), WeightDecay: c.WeightDecay}}
	switch c.Optimizer {
	case "lars":
		t.opt = optim.NewLARS(groups, c.Momentum, 0.001)
	default:
		t.opt = optim.NewSGD(groups, c.Momentum, false)
	}
	var views []data.ViewSpec
	for _, v := range t.run.Spec.Views {
		views = append(views, data.ViewSpec{Count: v.Count, Size: v.Size, Preset: v.Preset, ScaleMin: v.ScaleMin, ScaleMax: v.ScaleMax})
	}
	t.loader, err = data.NewLoader(t.ds.pretrain, data.LoaderConfig{BatchSize: c.BatchSize, Views: views, Seed: c.Seed, DropLast: true, Workers: t.r.Workers})
	if err != nil {
		return fmt.Errorf("loader for %s: %w", c.Method, err)
	}
	t.stepsPerEpoch = t.loader.BatchesPerEpoch()
	t.totalSteps = t.stepsPerEpoch * c.Epochs
	t.warmupSteps = min(c.WarmupEpochs*t.stepsPerEpoch, t.totalSteps)
	return t.startMethod(ctx)
}

// startMethod starts and initialises a fresh method instance.
func (t *trainer) startMethod(ctx context.Context) error {
	if t.inst != nil {
		t.inst.Close()
		t.inst = nil
	}
	inst, err := t.r.Methods.Start(ctx, t.cfg.Method)
	if err != nil {
		return fmt.Errorf("start method %s: %w", t.cfg.Method, err)
	}
	t.inst = inst
	err = inst.Init(sdk.InitConfig{
		FeatureDim: t.featDim, BatchSize: t.cfg.BatchSize, StepsPerEpoch: t.stepsPerEpoch,
		TotalSteps: t.totalSteps, Seed: t.cfg.Seed, Options: t.run.MethodOptions,
		Hyper: t.run.Hyper, // the backbone's recipe after --set overrides: heads follow it
	})
	if err != nil {
		return fmt.Errorf("init method %s: %w", t.cfg.Method, err)
	}
	return nil
}

// featureDim runs two images through m in eval mode to read its width.
func featureDim(m nn.Module, ds data.Dataset) (int, error) {
	m.SetTraining(false)
	defer m.SetTraining(true)
	x, c, h, w := normalizedBatch(ds, []int{0, 1 % ds.Len()}, data.NormOf(ds))
	out, err := forwardNoGrad(m, nn.New(x, 2, c, h, w))
	if err != nil {
		return 0, fmt.Errorf("backbone on %d×%d×%d images: %w", c, h, w, err)
	}
	if out.NDim() != 2 {
		return 0, fmt.Errorf("backbone output has shape %v, want (N,D) features", out.Shape())
	}
	return out.Dim(1), nil
}

// ckptGroups lists the params and buffers a checkpoint holds.
func (t *trainer) ckptGroups() (params, buffers []ckptGroup) {
	params = []ckptGroup{{Name: "backbone", Params: t.backbone.Params()}}
	buffers = []ckptGroup{{Name: "backbone", Params: t.backbone.Buffers()}}
	if t.target != nil {
		params = append(params, ckptGroup{Name: "target", Params: t.target.Params()})
		buffers = append(buffers, ckptGroup{Name: "target", Params: t.target.Buffers()})
	}
	return params, buffers
}

// saveCheckpoint saves the run's tensors and the method's state with the
// progress h and the metrics ms of the epochs h holds. Nothing is written
// when the method's State fails.
func (t *trainer) saveCheckpoint(h ckptHeader, ms []results.EpochMetrics) error {
	blob, err := t.inst.State()
	if err != nil {
		return fmt.Errorf("method state: %w", err)
	}
	h.Metrics = append(make([]results.EpochMetrics, 0, len(ms)), ms...) // non-nil: "[]" at epoch 0
	params, buffers := t.ckptGroups()
	return saveCheckpoint(t.path, runCheckpoint{ckptHeader: h, Blob: blob}, params, buffers, t.opt.State())
}

// restore loads the last checkpoint into the backbone, target, optimizer
// and method, and sets the progress and (when the checkpoint holds them)
// the metrics to the checkpoint's. On error t.ck and t.metrics are
// unchanged, and so are the tensors and the optimizer unless the error
// came from the method's SetState (restoreTensors is all or nothing).
func (t *trainer) restore() error {
	c, f, err := loadCheckpoint(t.path)
	if err != nil {
		return err
	}
	params, buffers := t.ckptGroups()
	if err := restoreTensors(t.path, f, params, buffers, t.opt); err != nil {
		return err
	}
	if err := t.inst.SetState(c.Blob); err != nil {
		return fmt.Errorf("restore method state: %w", err)
	}
	t.ck = c.ckptHeader
	if c.Metrics != nil {
		t.metrics = slices.Clone(c.Metrics)
	}
	t.ck.Metrics = nil // t.metrics is the copy in use
	return nil
}

// resume continues from the run's checkpoint if there is one, else saves
// the initial state (epoch 0) so a crash in the first epoch can restart.
func (t *trainer) resume(ctx context.Context) error {
	st, ok, err := t.r.Store.Status(t.cfg.ID)
	if err != nil {
		return err
	}
	if ok {
		t.status = st
	}
	t.status.Status, t.status.Error = results.StatusRunning, ""
	if t.status.StartedAt.IsZero() {
		t.status.StartedAt = time.Now().UTC()
	}
	if err := t.r.Store.WriteConfig(t.cfg); err != nil {
		return err
	}
	err = t.restore()
	for tries := 1; err != nil && ctx.Err() == nil && t.r.Methods.IsCrash(err); tries++ {
		// The method died while its state was restored (in SetState):
		// a new instance, as for a crash in training.
		if tries > t.maxRestarts() {
			return fmt.Errorf("method crashed %d times while its state was restored, giving up: %w", tries, err)
		}
		t.log.Warn("method crashed while its state was restored; starting a new one", "err", err)
		if err = t.startMethod(ctx); err == nil {
			if err = t.restore(); err == nil {
				t.ck.Restarts += tries
			}
		}
	}
	switch {
	case errors.Is(err, errNoCheckpoint):
		t.ck = ckptHeader{}
		t.status.EpochsDone, t.status.Restarts = 0, 0
		if err := t.r.Store.WriteMetrics(t.cfg.ID, nil); err != nil {
			return err
		}
		t.metrics = nil
		if err := t.saveCheckpoint(t.ck, nil); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		ms, err := t.r.Store.Metrics(t.cfg.ID)
		if err != nil {
			return err
		}
		if t.metrics != nil && len(t.metrics) == t.ck.Epoch {
			// The checkpoint holds its epochs' metrics: metrics.jsonl
			// (written after it) may lack the last epoch, or hold one
			// the checkpoint does not (an older bench wrote it first).
			if len(ms) != len(t.metrics) {
				t.log.Info("metrics.jsonl reconciled with the checkpoint", "file_epochs", len(ms), "checkpoint_epochs", t.ck.Epoch)
			}
			if err := t.r.Store.WriteMetrics(t.cfg.ID, t.metrics); err != nil {
				return err
			}
		} else {
			// A checkpoint from before it held metrics: drop any epoch
			// it does not hold (it will be redone), and each duplicate.
			ms = slices.DeleteFunc(ms, func(m results.EpochMetrics) bool { return m.Epoch > t.ck.Epoch })
			ms = slices.CompactFunc(ms, func(a, b results.EpochMetrics) bool { return a.Epoch == b.Epoch })
			if len(ms) != t.ck.Epoch {
				return fmt.Errorf("run %s: checkpoint is at epoch %d but metrics.jsonl holds %d epochs: delete the run folder %s to restart it",
					t.cfg.ID, t.ck.Epoch, len(ms), t.r.Store.RunDir(t.cfg.ID))
			}
			t.metrics = ms
		}
		t.status.EpochsDone, t.status.Restarts = t.ck.Epoch, t.ck.Restarts
		t.status.Resumed++
		t.log.Info("resuming run from its checkpoint", "epoch", t.ck.Epoch, "of", t.cfg.Epochs)
	}
	return t.writeStatus()
}

func (t *trainer) writeStatus() error {
	t.status.WallSeconds = t.ck.WallSeconds
	if t.ck.TrainSecs > 0 {
		t.status.ImagesPerSecond = float64(t.ck.Images) / t.ck.TrainSecs
	}
	t.status.PeakRSSBytes = rusage.PeakRSS()
	return t.r.Store.WriteStatus(t.cfg.ID, t.status)
}

// train runs the remaining epochs. A crashed method (in a step, in State
// at the epoch's end, or in Init or SetState while being restored) is
// restarted from the last checkpoint and the epoch redone, up to
// MaxRestarts restarts in all.
func (t *trainer) train(ctx context.Context) error {
	maxRestarts := t.maxRestarts()
	t.progressStart()
	for t.ck.Epoch < t.cfg.Epochs {
		err := t.epoch(ctx, t.ck.Epoch)
		for err != nil {
			if ctx.Err() != nil || !t.r.Methods.IsCrash(err) {
				return err
			}
			if t.ck.Restarts >= maxRestarts {
				return fmt.Errorf("method crashed %d times, giving up: %w", t.ck.Restarts+1, err)
			}
			t.log.Warn("method crashed; restarting it from the last checkpoint and redoing the epoch", "epoch", t.ck.Epoch+1, "err", err)
			err = t.restart(ctx)
		}
	}
	return nil
}

// maxRestarts is Runner.MaxRestarts, or 3.
func (t *trainer) maxRestarts() int {
	if t.r.MaxRestarts == 0 {
		return 3
	}
	return t.r.MaxRestarts
}

// restart starts a new method instance and restores the last checkpoint
// into it, counting one restart whether it succeeds or not.
func (t *trainer) restart(ctx context.Context) error {
	restarts := t.ck.Restarts + 1
	t.ck.Restarts = restarts // restore replaces t.ck only when it succeeds
	if err := t.startMethod(ctx); err != nil {
		return fmt.Errorf("restart after crash: %w", err)
	}
	if err := t.restore(); err != nil {
		return fmt.Errorf("restart after crash: %w", err)
	}
	t.ck.Restarts = restarts
	t.status.Restarts = restarts
	t.status.EpochsDone = t.ck.Epoch
	if err := t.writeStatus(); err != nil {
		return err
	}
	t.progressStart()
	return nil
}

// progressStart tells Progress where the run stands (again after a restart).
func (t *trainer) progressStart() {
	if t.r.Progress != nil {
		per := int64(t.stepsPerEpoch * t.cfg.BatchSize)
		t.r.Progress.RunStart(t.idx, t.cfg.ID, per*int64(t.cfg.Epochs), per*int64(t.ck.Epoch))
	}
}

// epoch trains epoch e (0-based), then monitors and checkpoints it.
func (t *trainer) epoch(ctx context.Context, e int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the loader's workers if we return early
	start := time.Now()
	step := t.ck.Step
	var lossSum, trainSecs, waitSecs float64
	var images int64
	metricSums := map[string]float64{}
	n := 0
	batches := t.loader.Epoch(ctx, e, 0)
	for {
		w0 := time.Now()
		b, ok := <-batches
		wait := time.Since(w0).Seconds()
		if !ok {
			break
		}
		s0 := time.Now()
		lr := optim.Cosine(step, t.totalSteps, t.warmupSteps, t.cfg.LR, 0)
		mom := 0.0
		if t.target != nil {
			mom = sdk.TargetSpec{BaseMomentum: t.cfg.TargetMomentum, Schedule: t.cfg.TargetSchedule}.MomentumAt(step, t.totalSteps)
		}
		out, err := t.step(ctx, b, step, e, lr, mom)
		if err != nil {
			return err
		}
		lossSum += out.Loss
		for k, v := range out.Metrics {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				metricSums[k] += v
			}
		}
		n++
		step++
		images += int64(len(b.Index))
		waitSecs += wait
		trainSecs += time.Since(s0).Seconds() + wait
		if t.r.Progress != nil {
			t.r.Progress.Advance(len(b.Index))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n != t.stepsPerEpoch {
		return fmt.Errorf("epoch %d: loader gave %d batches, want %d", e+1, n, t.stepsPerEpoch)
	}
	// --- monitors
	var err error
	if t.bank, err = BackboneFeatures(ctx, t.backbone, t.ds.train); err != nil {
		return err
	}
	if t.test, err = BackboneFeatures(ctx, t.backbone, t.ds.test); err != nil {
		return err
	}
	if !nn.Finite(t.bank.Data) || !nn.Finite(t.test.Data) {
		return fmt.Errorf("%w: non-finite evaluation features after epoch %d", errDiverged, e+1)
	}
	knn, err := eval.KNN(ctx, t.bank, t.test, t.ds.classes, eval.KNNConfig{})
	if err != nil {
		return fmt.Errorf("knn monitor: %w", err)
	}
	m := results.EpochMetrics{
		Epoch: e + 1, Step: step, Loss: lossSum / float64(n),
		LR:      optim.Cosine(step-1, t.totalSteps, t.warmupSteps, t.cfg.LR, 0),
		KNNTop1: knn, FeatStd: eval.ChannelStd(t.bank.Data, t.bank.N, t.bank.D),
		Metrics: map[string]float64{},
	}
	for k, v := range metricSums {
		m.Metrics[k] = v / float64(n)
	}
	m.OutputStd = m.Metrics["output_std"]
	if d := m.Metrics["output_dim"]; d > 0 {
		t.outDim = int(d)
	}
	next := t.ck
	next.Epoch, next.Step = e+1, step
	next.TrainSecs += trainSecs
	next.Images += images
	next.WallSeconds += time.Since(start).Seconds()
	m.WallSeconds = next.WallSeconds
	m.ImagesPerSecond = float64(images) / trainSecs
	if trainSecs > 0 {
		m.DataWaitShare = waitSecs / trainSecs
	}
	m.PeakRSSBytes = rusage.PeakRSS()
	ms := append(slices.Clone(t.metrics), m)
	// Order matters for resuming: the checkpoint (it holds the epoch's
	// metrics), then metrics.jsonl, then status. Until the checkpoint is
	// saved nothing has changed, on disk or here: a crash in State redoes
	// the epoch from the previous checkpoint, and its metrics are written
	// once. A stop between the checkpoint and metrics.jsonl is reconciled
	// on resume.
	if err := t.saveCheckpoint(next, ms); err != nil {
		return err
	}
	t.ck, t.metrics = next, ms
	if err := t.r.Store.WriteMetrics(t.cfg.ID, t.metrics); err != nil {
		return err
	}
	t.status.EpochsDone = t.ck.Epoch
	if err := t.writeStatus(); err != nil {
		return err
	}
	if t.r.Progress != nil {
		t.r.Progress.Epoch(t.cfg.ID, t.cfg.Epochs, m)
	} else {
		t.log.Info("epoch", "epoch", m.Epoch, "loss", m.Loss, "knn_top1", m.KNNTop1, "output_std", m.OutputStd)
	}
	return nil
}

// step does one training step: every view through the backbone (BN in train
// mode), the method's loss and feature gradients, back-propagation through
// the backbone, the optimizer step and the target EMA.
func (t *trainer) step(ctx context.Context, b data.Batch, step, epoch int, lr, mom float64) (sdk.StepOutput, error) {
	inputs := make([]*nn.Tensor, len(b.Views))
	for i, v := range b.Views {
		inputs[i] = nn.New(v.Data, v.N, v.C, v.H, v.W)
	}
	return pluginhost.TrainStep(ctx, t.inst, pluginhost.Trainee{Backbone: t.backbone, Target: t.target, Opt: t.opt}, inputs,
		sdk.StepInput{Step: step, Epoch: epoch, LR: lr, BaseLR: t.cfg.LR, Momentum: mom})
}

// evaluate runs the final evaluation and records the run's final status.
func (t *trainer) evaluate(ctx context.Context) error {
	if t.bank.N == 0 { // resumed after the last epoch: features not in memory
		var err error
		if t.bank, err = BackboneFeatures(ctx, t.backbone, t.ds.train); err != nil {
			return err
		}
		if t.test, err = BackboneFeatures(ctx, t.backbone, t.ds.test); err != nil {
			return err
		}
	}
	ev := results.Eval{Transfer: map[string]float64{}}
	for _, m := range t.metrics {
		if m.KNNTop1 > ev.BestKNNTop1 {
			ev.BestKNNTop1, ev.BestKNNEpoch = m.KNNTop1, m.Epoch
		}
	}
	last := t.metrics[len(t.metrics)-1]
	ev.KNNTop1, ev.FeatStd, ev.OutputStd = last.KNNTop1, last.FeatStd, last.OutputStd
	probe, transfer, err := probes(ctx, t.ds, t.bank, t.test, func(ctx context.Context, d data.Dataset) (eval.Features, error) {
		return BackboneFeatures(ctx, t.backbone, d)
	})
	if err != nil {
		return err
	}
	ev.LinearTop1, ev.LinearTop5 = probe.Top1, probe.Top5
	maps.Copy(ev.Transfer, transfer)
	t.log.Info("evaluated", "knn_top1", ev.KNNTop1, "linear_top1", ev.LinearTop1, "transfer", ev.Transfer)
	// Record the output width for reports (1/√d line) and the collapse flag.
	if t.outDim == 0 {
		for _, m := range t.metrics {
			if d := m.Metrics["output_dim"]; d > 0 {
				t.outDim = int(d)
			}
		}
	}
	t.cfg.OutputDim = t.outDim
	if err := t.r.Store.WriteConfig(t.cfg); err != nil {
		return err
	}
	// The report's scatter of the test features; a failure here costs the
	// picture, never the run.
	if e, err := embed(t.test, t.ds.test.Classes(), t.cfg.Method, cmp.Or(t.cfg.EvalDataset, t.cfg.Dataset)); err != nil {
		t.log.Warn("no embedding for the report", "err", err)
	} else if err := t.r.Store.WriteEmbedding(t.cfg.ID, e); err != nil {
		return err
	}
	if err := t.r.Store.WriteEval(t.cfg.ID, ev); err != nil {
		return err
	}
	t.status.Status = results.StatusCompleted
	if reason := collapseReason(t.metrics, t.outDim); reason != "" {
		t.status.Status, t.status.CollapseReason = results.StatusCollapsed, reason
		t.log.Warn("run collapsed", "reason", reason)
	}
	t.status.FinishedAt = time.Now().UTC()
	return t.writeStatus()
}

// collapseReason says why a run counts as collapsed, or "" when it does not.
// The criterion is the method's output std at the last epoch: below
// eval.CollapseThreshold(d) when the method reports its output width d as
// the metric "output_dim"; otherwise (d unknown) a fall to under a tenth of
// the highest epoch value, the same factor relative to the run's own level.
func collapseReason(ms []results.EpochMetrics, outDim int) string {
	if len(ms) == 0 {
		return ""
	}
	last := ms[len(ms)-1]
	if _, ok := last.Metrics["output_std"]; !ok {
		return ""
	}
	if outDim > 0 {
		if eval.Collapsed(last.OutputStd, outDim) {
			return fmt.Sprintf("output std %.5f < %.2f/√d = %.5f (d=%d)", last.OutputStd, eval.CollapseFactor, eval.CollapseThreshold(outDim), outDim)
		}
		return ""
	}
	best := 0.0
	for _, m := range ms {
		best = math.Max(best, m.OutputStd)
	}
	if best > 0 && last.OutputStd < eval.CollapseFactor*best {
		return fmt.Sprintf("output std fell to %.5f, under %.2f× its best %.5f (output width unknown)", last.OutputStd, eval.CollapseFactor, best)
	}
	return ""
}
