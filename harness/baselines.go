package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

// Supervised baseline recipe: SGD with momentum 0.9, lr 0.1·batch/256,
// weight decay 5e-4, cosine decay, one "simsiam"-preset view per image,
// cross-entropy through a linear head, at the sweep's first batch size and
// once for each of its epoch budgets (each with its own cosine schedule), so
// every column of the report is set beside a supervised backbone trained as
// long as the runs in it.
const (
	supervisedBaseLR = 0.1
	supervisedWD     = 5e-4
)

// baselines computes (or reuses) the raw-pixel, random-init and supervised
// baselines of the sweep's dataset and backbone.
func (r *Runner) baselines(ctx context.Context, ds *splitSet) (map[string]results.Baseline, error) {
	c := r.Plan.Config
	seed := c.Seeds[0]
	bs := c.BatchSizes[0]
	budgets := c.AllEpochs()
	ident := func(name string, epochs int) string {
		id := map[string]any{"name": name, "dataset": c.Evaluation(), "transfer": ds.names, "train_limit": c.TrainLimit,
			"test_limit": c.TestLimit, "code": r.Plan.CodeVersion}
		if r.Plan.HostSHA256 != "" { // the baselines run in bench itself
			id["host"] = r.Plan.HostSHA256
		}
		if name != results.BaselineRawPixels {
			id["backbone"], id["seed"] = c.Backbone, seed
			if p := c.PrecisionName(); p != "fp32" {
				id["precision"] = p // fp32 baselines keep their IDs
			}
		}
		if name == results.BaselineSupervised {
			id["batch"], id["epochs"] = bs, epochs
		}
		return name + "-" + hashKey(id)
	}
	out := map[string]results.Baseline{}
	type job struct {
		name   string
		sumKey string // the key in summary.json
		epochs int    // the supervised baseline's budget; 0 for the others
		// run computes the baseline and, for the random-init one, the
		// embedding of its test features (nil for the others).
		run func(context.Context) (results.Baseline, *results.Embedding, error)
	}
	jobs := []job{
		{results.BaselineRawPixels, results.BaselineRawPixels, 0, func(ctx context.Context) (results.Baseline, *results.Embedding, error) {
			b, err := r.rawPixelBaseline(ctx, ds)
			return b, nil, err
		}},
		{results.BaselineRandomInit, results.BaselineRandomInit, 0, func(ctx context.Context) (results.Baseline, *results.Embedding, error) {
			return r.randomInitBaseline(ctx, ds, seed)
		}},
	}
	for _, e := range budgets {
		// one budget keeps the plain key; several are "supervised/<e>ep"
		sumKey := results.BaselineSupervised
		if len(budgets) > 1 {
			sumKey += "/" + strconv.Itoa(e) + "ep"
		}
		jobs = append(jobs, job{results.BaselineSupervised, sumKey, e, func(ctx context.Context) (results.Baseline, *results.Embedding, error) {
			b, err := r.supervisedBaseline(ctx, ds, seed, bs, e, r.Store.baselineCheckpointPath(ident(results.BaselineSupervised, e)))
			return b, nil, err
		}})
	}
	for _, j := range jobs {
		key := ident(j.name, j.epochs)
		b, ok, err := r.Store.Baseline(key)
		if err != nil {
			return nil, err
		}
		if !ok {
			t0 := time.Now()
			r.logger().Info("computing baseline", "baseline", j.sumKey)
			var emb *results.Embedding
			if b, emb, err = j.run(ctx); err != nil {
				return out, fmt.Errorf("%s: %w", j.sumKey, err)
			}
			if emb != nil {
				// stored before the baseline that names it
				if b.Embedding, err = r.Store.WriteBaselineEmbedding(key, emb); err != nil {
					return nil, err
				}
			}
			b.Dataset = c.Evaluation() // what it was computed on
			if j.name != results.BaselineRawPixels {
				b.Backbone = c.Backbone
			}
			b.Epochs = j.epochs
			if err := r.Store.WriteBaseline(key, b); err != nil {
				return nil, err
			}
			// the result is stored: its training checkpoint is no longer needed
			if err := os.Remove(r.Store.baselineCheckpointPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			r.logger().Info("baseline", "baseline", j.sumKey, "knn_top1", fmt.Sprintf("%.4f", b.KNNTop1),
				"linear_top1", fmt.Sprintf("%.4f", b.LinearTop1), "seconds", fmt.Sprintf("%.1f", time.Since(t0).Seconds()))
		} else {
			r.logger().Info("baseline reused", "baseline", j.sumKey, "knn_top1", b.KNNTop1, "linear_top1", b.LinearTop1)
			// the key fixes the budget; results stored before Epochs existed lack it
			b.Epochs = j.epochs
		}
		out[j.sumKey] = b
	}
	return out, nil
}

// featureFunc extracts features of a split.
type featureFunc func(ctx context.Context, ds data.Dataset) (eval.Features, error)

// evaluateFeatures runs kNN and the linear probe on the main dataset and
// linear probes on the transfer datasets.
func evaluateFeatures(ctx context.Context, ds *splitSet, feat featureFunc) (results.Baseline, error) {
	b, _, err := evaluateFeaturesTest(ctx, ds, feat)
	return b, err
}

// evaluateFeaturesTest is evaluateFeatures that also returns the features
// of the main test split.
func evaluateFeaturesTest(ctx context.Context, ds *splitSet, feat featureFunc) (results.Baseline, eval.Features, error) {
	tr, err := feat(ctx, ds.train)
	if err != nil {
		return results.Baseline{}, eval.Features{}, err
	}
	te, err := feat(ctx, ds.test)
	if err != nil {
		return results.Baseline{}, eval.Features{}, err
	}
	var b results.Baseline
	if b.KNNTop1, err = eval.KNN(ctx, tr, te, ds.classes, eval.KNNConfig{}); err != nil {
		return b, te, err
	}
	p, transfer, err := probes(ctx, ds, tr, te, feat)
	b.LinearTop1, b.Transfer = p.Top1, transfer
	return b, te, err
}

// probes is the protocol's end of training for one backbone, run and
// baseline alike: the linear probe on the main split's features tr and te,
// and a linear probe on each transfer dataset's features from feat. The
// transfer map is nil when the sweep has no transfer datasets.
func probes(ctx context.Context, ds *splitSet, tr, te eval.Features, feat featureFunc) (eval.ProbeResult, map[string]float64, error) {
	p, err := eval.LinearProbe(ctx, tr, te, ds.classes, eval.ProbeConfig{})
	if err != nil {
		return p, nil, fmt.Errorf("linear probe: %w", err)
	}
	var transfer map[string]float64
	for _, name := range ds.names {
		t := ds.transfer[name]
		ftr, err := feat(ctx, t.train)
		if err != nil {
			return p, transfer, fmt.Errorf("transfer %s: %w", name, err)
		}
		fte, err := feat(ctx, t.test)
		if err != nil {
			return p, transfer, fmt.Errorf("transfer %s: %w", name, err)
		}
		tp, err := eval.LinearProbe(ctx, ftr, fte, t.classes, eval.ProbeConfig{})
		if err != nil {
			return p, transfer, fmt.Errorf("transfer %s: %w", name, err)
		}
		if transfer == nil {
			transfer = map[string]float64{}
		}
		transfer[name] = tp.Top1
	}
	return p, transfer, nil
}

func (r *Runner) rawPixelBaseline(ctx context.Context, ds *splitSet) (results.Baseline, error) {
	return evaluateFeatures(ctx, ds, func(ctx context.Context, d data.Dataset) (eval.Features, error) { return PixelFeatures(d) })
}

func (r *Runner) randomInitBaseline(ctx context.Context, ds *splitSet, seed int64) (results.Baseline, *results.Embedding, error) {
	bb, err := r.NewBackbone(r.Plan.Config.Backbone, ds.channels, rand.New(rand.NewPCG(uint64(seed), 0xb0b)))
	if err != nil {
		return results.Baseline{}, nil, err
	}
	if err := RecalibrateBN(ctx, bb, ds.train, 256, uint64(seed)); err != nil {
		return results.Baseline{}, nil, err
	}
	b, te, err := evaluateFeaturesTest(ctx, ds, func(ctx context.Context, d data.Dataset) (eval.Features, error) {
		return BackboneFeatures(ctx, bb, d)
	})
	if err != nil {
		return b, nil, err
	}
	// The report's scatter of the test features; a failure costs only the picture.
	emb, err := embed(te, ds.test.Classes(), results.BaselineRandomInit, r.Plan.Config.Evaluation())
	if err != nil {
		r.logger().Warn("no embedding of the random-init backbone for the report", "err", err)
		return b, nil, nil
	}
	return b, emb, nil
}

// supervisedBaseline trains the backbone with a linear head on the labels.
// It checkpoints after every epoch at ckpt (backbone, head, BN statistics,
// optimizer state) and resumes from there, so an interrupted sweep loses at
// most one epoch of it.
func (r *Runner) supervisedBaseline(ctx context.Context, ds *splitSet, seed int64, bs, epochs int, ckpt string) (results.Baseline, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xb0b))
	bb, err := r.NewBackbone(r.Plan.Config.Backbone, ds.channels, rng)
	if err != nil {
		return results.Baseline{}, err
	}
	d, err := featureDim(bb, ds.train)
	if err != nil {
		return results.Baseline{}, err
	}
	head := nn.NewLinear(rng, d, ds.classes, true)
	params := append(slices.Clone(bb.Params()), prefixed("head.", head.Params())...)
	opt := optim.NewSGD([]optim.Group{{Params: params, WeightDecay: supervisedWD}}, 0.9, false)
	loader, err := data.NewLoader(ds.train, data.LoaderConfig{BatchSize: bs, Seed: seed, DropLast: true, Workers: r.Workers,
		Views: []data.ViewSpec{{Count: 1, Preset: "simsiam"}}})
	if err != nil {
		return results.Baseline{}, err
	}
	total := loader.BatchesPerEpoch() * epochs
	lr0 := supervisedBaseLR * float64(bs) / 256
	step, first := 0, 0
	paramGroups := []ckptGroup{{Name: "backbone", Params: bb.Params()}, {Name: "head", Params: head.Params()}}
	bufGroups := []ckptGroup{{Name: "backbone", Params: bb.Buffers()}}
	switch c, f, err := loadCheckpoint(ckpt); {
	case errors.Is(err, errNoCheckpoint):
	case err != nil:
		return results.Baseline{}, err
	default:
		if err := restoreTensors(ckpt, f, paramGroups, bufGroups, opt); err != nil {
			return results.Baseline{}, err
		}
		first, step = c.Epoch, c.Step
		r.logger().Info("supervised baseline resumed", "epoch", first, "checkpoint", ckpt)
	}
	// The backbone and the head share one optimizer (and checkpoint); the
	// head's cross-entropy is the step's "method", so the step is the one
	// every run takes (pluginhost.TrainStep).
	sup := &supervisedHead{head: head}
	tr := pluginhost.Trainee{Backbone: bb, Opt: opt}
	for e := first; e < epochs; e++ {
		var lossSum float64
		n := 0
		ectx, cancel := context.WithCancel(ctx)
		for b := range loader.Epoch(ectx, e, 0) {
			v := b.Views[0]
			sup.labels = b.Labels
			out, err := pluginhost.TrainStep(ctx, sup, tr, []*nn.Tensor{nn.New(v.Data, v.N, v.C, v.H, v.W)},
				sdk.StepInput{Step: step, Epoch: e, LR: optim.Cosine(step, total, 0, lr0, 0), BaseLR: lr0})
			if err != nil {
				cancel()
				return results.Baseline{}, fmt.Errorf("supervised baseline: %w", err)
			}
			lossSum += out.Loss
			n++
			step++
		}
		cancel()
		if err := ctx.Err(); err != nil {
			return results.Baseline{}, err
		}
		r.logger().Info("supervised baseline", "epoch", fmt.Sprintf("%d/%d", e+1, epochs), "loss", fmt.Sprintf("%.4f", lossSum/float64(max(n, 1))))
		if err := os.MkdirAll(filepath.Dir(ckpt), 0o755); err != nil {
			return results.Baseline{}, err
		}
		if err := saveCheckpoint(ckpt, runCheckpoint{ckptHeader: ckptHeader{Epoch: e + 1, Step: step}},
			paramGroups, bufGroups, opt.State()); err != nil {
			return results.Baseline{}, err
		}
	}
	return evaluateFeatures(ctx, ds, func(ctx context.Context, d data.Dataset) (eval.Features, error) {
		return BackboneFeatures(ctx, bb, d)
	})
}

// supervisedHead is the supervised baseline's objective in the place of a
// method: a linear classifier on the backbone's features and cross-entropy
// against the batch's labels. Its parameters get their gradients here and
// are stepped by the host's optimizer with the backbone's.
type supervisedHead struct {
	head   *nn.Linear
	labels []int // the batch's, set before each step
}

func (s *supervisedHead) Describe() sdk.Spec        { return sdk.Spec{Name: "supervised"} }
func (s *supervisedHead) Init(sdk.InitConfig) error { return nil }
func (s *supervisedHead) State() ([]byte, error)    { return nil, nil } // in the host's checkpoint
func (s *supervisedHead) SetState([]byte) error     { return nil }

// Step returns the cross-entropy of the head on the features and its
// gradient with respect to them; the head's gradients stay in its params.
func (s *supervisedHead) Step(_ context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	f := in.Views[0]
	x := nn.New(f.Data, f.Shape()...).SetRequiresGrad(true)
	var loss *nn.Tensor
	if err := nn.Catch(func() {
		loss = nn.CrossEntropy(s.head.Forward(x), s.labels)
		loss.Backward()
	}); err != nil {
		return sdk.StepOutput{}, err
	}
	return sdk.StepOutput{Loss: float64(loss.Item()), Grads: []*nn.Tensor{nn.New(x.Grad, f.Shape()...)}}, nil
}

// prefixed renames params (so head and backbone names never clash in the optimizer).
func prefixed(prefix string, ps []*nn.Param) []*nn.Param {
	out := make([]*nn.Param, len(ps))
	for i, p := range ps {
		out[i] = &nn.Param{Name: prefix + p.Name, T: p.T, NoDecay: p.NoDecay}
	}
	return out
}
