// Command mkfixture writes the stored-results fixture that the reports tests
// read (reports/testdata/sweep), laid out exactly as results.go describes and
// as the harness writes it. The numbers are synthetic but shaped like a small
// Fashion-MNIST sweep on a 2-core CPU: four methods, 2-3 seeds, two epoch
// budgets, a SimSiam batch sweep, a stop-gradient ablation that collapsed, a
// failed run, a run still in progress, baselines and a transfer probe.
//
// Run from the repository root:
//
//	go run ./reports/testdata/mkfixture reports/testdata/sweep
//
// The output is deterministic (fixed seeds, fixed times).
package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/siambench/siambench/results"
)

type spec struct {
	method    string
	opts      map[string]string
	batch     int
	epochs    int
	seeds     []int64
	neg, mom  bool
	outDim    int
	final     float64 // linear top-1 at the end
	knnFinal  float64
	loss0     float64 // loss at epoch 1
	loss1     float64 // loss at the end
	secPerEp  float64
	collapse  bool
	transfer  bool
	failSeed  int64 // seed that fails (-1: none)
	runSeed   int64 // seed still running (-1: none)
	failError string
}

var env = results.Environment{
	CodeVersion: "3f9c2a1b7d4e", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64",
	CPU: "AMD EPYC 9B45 (Zen 5)", Cores: 2, GEMMBackend: "openblas 0.3.21 (threads=2, core=Cooperlake)",
}

const (
	dataset  = "fashion-mnist"
	backbone = "resnet-tiny"
	trainN   = 10000
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkfixture OUTDIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mkfixture:", err)
		os.Exit(1)
	}
}

func specs() []spec {
	none := int64(-1)
	return []spec{
		{method: "simsiam", batch: 128, epochs: 5, seeds: []int64{0, 1, 2}, outDim: 256, final: 0.851, knnFinal: 0.842, loss0: -0.35, loss1: -0.82, secPerEp: 30, failSeed: none, runSeed: none},
		{method: "simsiam", batch: 128, epochs: 10, seeds: []int64{0, 1, 2}, outDim: 256, final: 0.872, knnFinal: 0.861, loss0: -0.35, loss1: -0.88, secPerEp: 30, transfer: true, failSeed: none, runSeed: none},
		{method: "simsiam", batch: 64, epochs: 5, seeds: []int64{0, 1}, outDim: 256, final: 0.853, knnFinal: 0.845, loss0: -0.38, loss1: -0.84, secPerEp: 41, failSeed: none, runSeed: none},
		{method: "simsiam", batch: 256, epochs: 5, seeds: []int64{0, 1}, outDim: 256, final: 0.843, knnFinal: 0.833, loss0: -0.31, loss1: -0.79, secPerEp: 26, failSeed: none, runSeed: none},
		{method: "simsiam", opts: map[string]string{"stopgrad": "false"}, batch: 128, epochs: 5, seeds: []int64{0, 1}, outDim: 256, final: 0.112, knnFinal: 0.100, loss0: -0.93, loss1: -0.9995, secPerEp: 29, collapse: true, failSeed: none, runSeed: none},
		{method: "byol", batch: 128, epochs: 5, seeds: []int64{0, 1, 2}, mom: true, outDim: 256, final: 0.855, knnFinal: 0.847, loss0: 0.92, loss1: 0.21, secPerEp: 38, failSeed: none, runSeed: none},
		{method: "byol", batch: 128, epochs: 10, seeds: []int64{0, 1, 2}, mom: true, outDim: 256, final: 0.878, knnFinal: 0.866, loss0: 0.92, loss1: 0.14, secPerEp: 38, transfer: true, failSeed: none, runSeed: 2},
		{method: "simclr", batch: 128, epochs: 5, seeds: []int64{0, 1}, neg: true, outDim: 128, final: 0.846, knnFinal: 0.839, loss0: 5.21, loss1: 4.62, secPerEp: 31, failSeed: none, runSeed: none},
		{method: "simclr", batch: 128, epochs: 10, seeds: []int64{0, 1}, neg: true, outDim: 128, final: 0.861, knnFinal: 0.852, loss0: 5.21, loss1: 4.48, secPerEp: 31, failSeed: none, runSeed: none},
		{method: "swav", batch: 128, epochs: 5, seeds: []int64{0, 1, 2}, outDim: 128, final: 0.818, knnFinal: 0.809, loss0: 4.79, loss1: 4.21, secPerEp: 34, failSeed: 2, runSeed: none,
			failError: "plugin bench-method-swav exited during step 212: rpc error: code = Unavailable desc = error reading from server: EOF (plugin restarted 3 times; giving up). See runs/<id>/run.log"},
		{method: "swav", batch: 128, epochs: 10, seeds: []int64{0, 1}, outDim: 128, final: 0.836, knnFinal: 0.828, loss0: 4.79, loss1: 4.05, secPerEp: 34, failSeed: none, runSeed: none},
	}
}

func write(out string) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(42, 7))
	clock := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	sum := results.Summary{Environment: env, Baselines: map[string]results.Baseline{}}
	for _, s := range specs() {
		for _, seed := range s.seeds {
			row, err := writeRun(out, s, seed, rng, &clock)
			if err != nil {
				return err
			}
			sum.Runs = append(sum.Runs, row)
		}
	}
	baselines := map[string]results.Baseline{
		results.BaselineRawPixels:  {Dataset: dataset, KNNTop1: 0.8553, LinearTop1: 0.8421, Transfer: map[string]float64{"mnist": 0.9186}},
		results.BaselineRandomInit: {Dataset: dataset, Backbone: backbone, KNNTop1: 0.7918, LinearTop1: 0.7812, Transfer: map[string]float64{"mnist": 0.9012}},
		results.BaselineSupervised: {Dataset: dataset, Backbone: backbone, KNNTop1: 0.9047, LinearTop1: 0.9118},
	}
	for k, b := range baselines {
		sum.Baselines[k] = b
		if err := results.WriteJSON(filepath.Join(out, results.BaselinesDir, k+".json"), b); err != nil {
			return err
		}
	}
	if err := results.WriteJSON(filepath.Join(out, results.SweepFile), map[string]any{
		"methods": []string{"simsiam", "byol", "simclr", "swav"}, "dataset": dataset, "backbone": backbone,
		"batch_sizes": []int{64, 128, 256}, "epochs": []int{5, 10}, "seeds": []int{0, 1, 2},
	}); err != nil {
		return err
	}
	return results.WriteJSON(filepath.Join(out, results.SummaryFile), sum)
}

func runID(s spec, seed int64) string {
	h := fnv.New64a()
	var opts []string
	for k, v := range s.opts {
		opts = append(opts, k+"="+v)
	}
	sort.Strings(opts)
	fmt.Fprintf(h, "%s|%s|%d|%d|%d|%s", s.method, strings.Join(opts, ","), s.batch, s.epochs, seed, dataset)
	return fmt.Sprintf("%s-%012x", s.method, h.Sum64()&0xffffffffffff)
}

func writeRun(out string, s spec, seed int64, rng *rand.Rand, clock *time.Time) (results.SummaryRun, error) {
	id := runID(s, seed)
	dir := filepath.Join(out, results.RunsDir, id)
	lr := 0.05 * float64(s.batch) / 256
	cfg := results.RunConfig{
		ID: id, Method: s.method, MethodVersion: "1.0.0", Options: s.opts, Dataset: dataset, Backbone: backbone,
		BatchSize: s.batch, Epochs: s.epochs, Seed: seed, Optimizer: "sgd", BaseLR: 0.05, LR: lr,
		WeightDecay: 5e-4, Momentum: 0.9, Negatives: s.neg, MomentumEncoder: s.mom,
		CodeVersion: env.CodeVersion, Environment: env, OutputDim: s.outDim,
	}
	if s.transfer {
		cfg.Transfer = []string{"mnist"}
	}
	if err := results.WriteJSON(filepath.Join(dir, results.ConfigFile), cfg); err != nil {
		return results.SummaryRun{}, err
	}
	noise := func(sd float64) float64 { return rng.NormFloat64() * sd }
	epochsDone := s.epochs
	status := results.StatusCompleted
	switch {
	case seed == s.failSeed:
		epochsDone, status = 3, results.StatusFailed
	case seed == s.runSeed:
		epochsDone, status = 6, results.StatusRunning
	case s.collapse:
		status = results.StatusCollapsed
	}
	start := *clock
	healthy := 1 / math.Sqrt(float64(s.outDim))
	var lines []string
	var wall, bestKNN float64
	bestEp := 0
	var last results.EpochMetrics
	for e := 1; e <= epochsDone; e++ {
		frac := float64(e) / float64(s.epochs)
		sec := s.secPerEp * (1 + noise(0.03))
		wall += sec
		m := results.EpochMetrics{
			Epoch: e, Step: e * (trainN / s.batch),
			Loss:            s.loss0 + (s.loss1-s.loss0)*(1-math.Exp(-3*frac))/(1-math.Exp(-3)) + noise(0.005),
			LR:              lr * 0.5 * (1 + math.Cos(math.Pi*frac)),
			KNNTop1:         0.1 + (s.knnFinal-0.1)*(1-math.Exp(-4*frac))/(1-math.Exp(-4)) + noise(0.003),
			FeatStd:         healthy * 1.1,
			OutputStd:       healthy * (0.78 + 0.12*frac + noise(0.01)),
			WallSeconds:     wall,
			ImagesPerSecond: float64(trainN) / sec,
			DataWaitShare:   0.04 + noise(0.005),
			PeakRSSBytes:    int64(520<<20) + int64(s.batch)<<20,
			Metrics:         map[string]float64{"grad_norm": 0.8 + noise(0.05)},
		}
		if s.collapse {
			m.OutputStd = healthy * math.Exp(-1.6*float64(e))
			m.KNNTop1 = 0.1 + 0.5*math.Exp(-1.2*float64(e)) + noise(0.002)
		}
		if m.KNNTop1 > bestKNN {
			bestKNN, bestEp = m.KNNTop1, e
		}
		b, err := jsonLine(m)
		if err != nil {
			return results.SummaryRun{}, err
		}
		lines = append(lines, b)
		last = m
	}
	if err := os.WriteFile(filepath.Join(dir, results.MetricsFile), []byte(strings.Join(lines, "")), 0o644); err != nil {
		return results.SummaryRun{}, err
	}
	*clock = clock.Add(time.Duration((wall + 20) * float64(time.Second))).Truncate(time.Second)
	st := results.RunStatus{
		Status: status, EpochsDone: epochsDone, WallSeconds: round(wall, 1), ImagesPerSecond: round(float64(trainN*epochsDone)/wall, 1),
		PeakRSSBytes: last.PeakRSSBytes, StartedAt: start,
	}
	row := results.SummaryRun{
		ID: id, Method: s.method, Options: s.opts, Dataset: dataset, Backbone: backbone, BatchSize: s.batch,
		Epochs: s.epochs, Seed: seed, Status: status, Negatives: s.neg, MomentumEncoder: s.mom,
		WallSeconds: st.WallSeconds, ImagesPerSecond: st.ImagesPerSecond, PeakRSSBytes: st.PeakRSSBytes,
		EpochsDone: epochsDone, OutputDim: s.outDim,
	}
	switch status {
	case results.StatusFailed:
		st.Error = strings.ReplaceAll(s.failError, "<id>", id)
		st.FinishedAt = *clock
		row.Error, row.FinishedAt = st.Error, st.FinishedAt
	case results.StatusRunning:
		// no eval, no finish time yet
	default:
		st.FinishedAt = *clock
		row.FinishedAt = st.FinishedAt
		if s.collapse {
			st.CollapseReason = fmt.Sprintf("output std %.2g < 0.1·(1/√d) = %.4f from epoch 2 on", last.OutputStd, 0.1*healthy)
			row.CollapseReason = st.CollapseReason
		}
		ev := results.Eval{
			KNNTop1: round(last.KNNTop1, 4), BestKNNTop1: round(bestKNN, 4), BestKNNEpoch: bestEp,
			LinearTop1: round(s.final+noise(0.004), 4), FeatStd: last.FeatStd, OutputStd: round(last.OutputStd, 5),
		}
		if s.transfer {
			ev.Transfer = map[string]float64{"mnist": round(0.935+(s.final-0.87)+noise(0.003), 4)}
		}
		if err := results.WriteJSON(filepath.Join(dir, results.EvalFile), ev); err != nil {
			return results.SummaryRun{}, err
		}
		row.KNNTop1, row.BestKNNTop1, row.LinearTop1, row.Transfer = ev.KNNTop1, ev.BestKNNTop1, ev.LinearTop1, ev.Transfer
		row.FeatStd, row.OutputStd = ev.FeatStd, ev.OutputStd
	}
	if err := results.WriteJSON(filepath.Join(dir, results.StatusFile), st); err != nil {
		return results.SummaryRun{}, err
	}
	log := fmt.Sprintf("time=%s level=INFO msg=\"run started\" id=%s method=%s seed=%d\n", start.Format(time.RFC3339), id, s.method, seed)
	if st.Error != "" {
		log += fmt.Sprintf("time=%s level=ERROR msg=\"run failed\" err=%q\n", st.FinishedAt.Format(time.RFC3339), st.Error)
	}
	return row, os.WriteFile(filepath.Join(dir, results.LogFile), []byte(log), 0o644)
}

func jsonLine(m results.EpochMetrics) (string, error) {
	m.Loss, m.KNNTop1, m.OutputStd = round(m.Loss, 5), round(m.KNNTop1, 4), round(m.OutputStd, 6)
	m.WallSeconds, m.ImagesPerSecond, m.LR = round(m.WallSeconds, 2), round(m.ImagesPerSecond, 1), round(m.LR, 6)
	m.DataWaitShare, m.FeatStd = round(m.DataWaitShare, 4), round(m.FeatStd, 6)
	for k, v := range m.Metrics {
		m.Metrics[k] = round(v, 4)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b) + "\n", nil
}

func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}
