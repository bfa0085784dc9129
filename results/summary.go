package results

import "math"

// NewSummaryRun is the summary row of one run, built from its files, the
// same for the sweep that writes summary.json and for a report that
// rebuilds it: cfg (config.json) always; st (status.json) when the run has
// one, else the row is pending; ev (eval.json) when the run was evaluated;
// otherwise ms (metrics.jsonl, may be nil): a diverged or failed run shows
// the last monitored epoch's kNN and stds and its best kNN, the best that
// is known of it.
func NewSummaryRun(cfg RunConfig, st *RunStatus, ev *Eval, ms []EpochMetrics) SummaryRun {
	row := SummaryRun{
		ID: cfg.ID, Method: cfg.Method, Options: cfg.Options, Dataset: cfg.Dataset, EvalDataset: cfg.EvalDataset, Backbone: cfg.Backbone,
		BatchSize: cfg.BatchSize, Epochs: cfg.Epochs, Seed: cfg.Seed, Status: StatusPending,
		Negatives: cfg.Negatives, MomentumEncoder: cfg.MomentumEncoder, OutputDim: cfg.OutputDim,
		Transfer: map[string]float64{},
	}
	if row.Options == nil {
		row.Options = map[string]string{}
	}
	if st != nil {
		row.Status, row.Error, row.EpochsDone = st.Status, st.Error, st.EpochsDone
		row.WallSeconds, row.ImagesPerSecond, row.PeakRSSBytes = st.WallSeconds, st.ImagesPerSecond, st.PeakRSSBytes
		row.CollapseReason, row.FinishedAt = st.CollapseReason, st.FinishedAt
	}
	switch {
	case ev != nil:
		row.KNNTop1, row.BestKNNTop1, row.LinearTop1, row.LinearTop5 = ev.KNNTop1, ev.BestKNNTop1, ev.LinearTop1, ev.LinearTop5
		row.FeatStd, row.OutputStd = ev.FeatStd, ev.OutputStd
		for k, v := range ev.Transfer {
			row.Transfer[k] = v
		}
	case len(ms) > 0:
		last := ms[len(ms)-1]
		row.KNNTop1, row.FeatStd, row.OutputStd = last.KNNTop1, last.FeatStd, last.OutputStd
		for _, m := range ms {
			row.BestKNNTop1 = math.Max(row.BestKNNTop1, m.KNNTop1)
		}
	}
	return row
}
