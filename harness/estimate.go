package harness

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/siambench/siambench/nn"
)

// DryRun prints the planned runs, what state each is in (new, finished and
// reused, or resumable from epoch k) and an estimate of the time the sweep
// still needs, measured by timing a few training steps of the backbone at
// each batch size on this machine. It trains nothing and writes nothing.
func (r *Runner) DryRun(ctx context.Context, w io.Writer) error {
	est, err := r.Estimates(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tMETHOD\tOPTIONS\tBATCH\tEPOCHS\tSEED\tSTATE\tESTIMATE")
	for i, run := range r.Plan.Runs {
		c := run.Config
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", c.ID, c.Method, fmtOptions(c.Options), c.BatchSize, c.Epochs, c.Seed, est.States[i], est.Runs[i].Round(time.Second))
	}
	if r.Plan.Config.BaselinesOn() {
		fmt.Fprintf(tw, "baselines\t-\t-\t%d\t%s\t-\t(computed once, reused)\t≤ %s\n", r.Plan.Config.BatchSizes[0], est.BaselineEpochs, est.Baselines.Round(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d runs; estimated time %s on this machine (%s; backbone %s, %d train images).\n",
		len(r.Plan.Runs), est.Total.Round(time.Second), r.Env.GEMMBackend, r.Plan.Config.Backbone, est.TrainImages)
	return nil
}

// Estimate is the time a sweep still needs on this machine, run by run.
type Estimate struct {
	Runs      []time.Duration // per planned run (0 when finished)
	States    []string        // per planned run: new, finished (reused), resume at epoch k
	Baselines time.Duration   // the baselines, if on (an upper bound: cached ones cost nothing)
	// BaselineEpochs lists the supervised baseline's budgets, e.g. "1+2".
	BaselineEpochs string
	Total          time.Duration
	TrainImages    int
}

// Estimates times a few training steps of the backbone at each batch size
// and scales them to every run's remaining epochs (what --dry-run prints and
// the Slurm executor's default time limit comes from).
func (r *Runner) Estimates(ctx context.Context) (Estimate, error) {
	var e Estimate
	ds, err := r.openDatasets(ctx)
	if err != nil {
		return e, err
	}
	e.TrainImages = ds.pretrain.Len()
	stepCost := map[int]time.Duration{}               // per batch size: one view, forward+backward
	fwdCost := map[int]time.Duration{}                // per image, forward only (monitors)
	batches := slices.Clone(r.Plan.Config.BatchSizes) // and those of every run (also sweeps bring their own)
	for _, run := range r.Plan.Runs {
		batches = append(batches, run.Config.BatchSize)
	}
	slices.Sort(batches)
	for _, bs := range slices.Compact(batches) {
		s, f, err := r.measure(ctx, ds, bs)
		if err != nil {
			return e, fmt.Errorf("measure backbone speed: %w", err)
		}
		stepCost[bs], fwdCost[bs] = s, f
	}
	for _, run := range r.Plan.Runs {
		c := run.Config
		state, left := "new", c.Epochs
		if done, err := r.Store.Finished(c.ID); err != nil {
			return e, err
		} else if done {
			state, left = "finished (reused)", 0
		} else if st, ok, err := r.Store.Status(c.ID); err != nil {
			return e, err
		} else if ok && st.EpochsDone > 0 {
			state, left = fmt.Sprintf("resume at epoch %d", st.EpochsDone+1), c.Epochs-st.EpochsDone
		}
		views := 0.0 // views per image, in full-image equivalents (cost ∝ pixels)
		side := ds.pretrain.Image(0).H
		for _, v := range run.Spec.Views {
			s := float64(viewSide(v.Size, side)) / float64(side)
			views += float64(v.Count) * s * s
		}
		if run.Spec.Target != nil {
			views *= 4.0 / 3 // target forward ≈ a third of a training step
		}
		steps := ds.pretrain.Len() / c.BatchSize
		monitor := time.Duration(ds.train.Len()+ds.test.Len()) * fwdCost[c.BatchSize]
		perEpoch := time.Duration(float64(steps)*views*float64(stepCost[c.BatchSize])) + monitor
		est := time.Duration(left) * perEpoch
		if left > 0 {
			est += 2 * monitor // final linear probe and transfer features
		}
		e.Total += est
		e.Runs = append(e.Runs, est)
		e.States = append(e.States, state)
	}
	if r.Plan.Config.BaselinesOn() {
		bs := r.Plan.Config.BatchSizes[0]
		// the supervised baseline trains once per epoch budget
		budgets := r.Plan.Config.AllEpochs()
		ep, eps := 0, make([]string, len(budgets))
		for i, e := range budgets {
			ep += e
			eps[i] = strconv.Itoa(e)
		}
		monitor := time.Duration(ds.train.Len()+ds.test.Len()) * fwdCost[bs]
		e.Baselines = time.Duration(ep*(ds.train.Len()/bs))*stepCost[bs] + time.Duration(2+2*len(budgets))*monitor
		e.BaselineEpochs = strings.Join(eps, "+")
		e.Total += e.Baselines
	}
	return e, nil
}

func viewSide(size, side int) int {
	switch {
	case size > 0:
		return size
	case size < 0:
		return max(1, side*(-size)/100)
	}
	return side
}

func fmtOptions(o map[string]string) string {
	if len(o) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(o)) {
		parts = append(parts, k+"="+o[k])
	}
	return strings.Join(parts, ",")
}

// measure times a training step of one full-size view at batch bs and a
// forward pass per image (median of 3 after a warm-up).
func (r *Runner) measure(ctx context.Context, ds *splitSet, bs int) (step, fwdPerImage time.Duration, err error) {
	bb, err := r.NewBackbone(r.Plan.Config.Backbone, ds.channels, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return 0, 0, err
	}
	im := ds.pretrain.Image(0)
	x := nn.Randn(rand.New(rand.NewPCG(3, 4)), 1, bs, im.C, im.H, im.W)
	var times []time.Duration
	for i := 0; i < 4; i++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		err := nn.Catch(func() {
			out := bb.Forward(x)
			out.BackwardWithFree(make([]float32, out.Len())) // as the training loop does
		})
		if err != nil {
			return 0, 0, err
		}
		nn.ZeroGrad(bb.Params())
		if i > 0 {
			times = append(times, time.Since(t0))
		}
	}
	slices.Sort(times)
	step = times[1]
	// forward only (the monitors): the median of 3 calls after a warm-up
	bb.SetTraining(false)
	times = times[:0]
	for i := 0; i < 4; i++ {
		t0 := time.Now()
		out, err := forwardNoGrad(bb, x)
		if err != nil {
			return 0, 0, err
		}
		out.FreeGraph()
		if i > 0 {
			times = append(times, time.Since(t0))
		}
	}
	slices.Sort(times)
	return step, times[1] / time.Duration(bs), nil
}
