package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/siambench/siambench/nn/checkpoint"
	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

// A crash of the method at any point of a step or an epoch boundary is
// recovered from the last checkpoint with results identical to a run
// without it, and metrics.jsonl holds each epoch exactly once. (smallConfig:
// 8 steps per epoch; the toy's fault_step in state/setstate counts the
// steps the state holds, so 8 is the end of epoch 1.)
func TestRunnerCrashAtEpochBoundaries(t *testing.T) {
	cfg := smallConfig("toy")
	cfg.Epochs = []int{3}
	ref := newTestRunner(t, t.TempDir(), cfg, toyMethods())
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	refMs, _ := ref.Store.Metrics(ref.Plan.Runs[0].Config.ID)
	refEval := readEval(t, ref)

	cases := []struct {
		name     string
		set      []string // toy options (fault_once added)
		restarts int
	}{
		{"step_mid_epoch", []string{"fault=panic", "fault_step=11"}, 1},
		{"state_end_of_epoch_1", []string{"fault=panic", "fault_in=state", "fault_step=8"}, 1},
		{"state_end_of_last_epoch", []string{"fault=panic", "fault_in=state", "fault_step=24"}, 1},
		// A crash in State at the end of epoch 1, then in SetState while
		// restoring the epoch-0 state: two restarts, the same results.
		{"state_then_set_state", []string{"fault=panic", "fault_in=state", "fault_step=8"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			once := filepath.Join(t.TempDir(), "fault-done")
			for _, kv := range tc.set {
				c.Set = append(c.Set, "toy."+kv)
			}
			c.Set = append(c.Set, "toy.fault_once="+once)
			var methods Methods = toyMethods()
			if tc.name == "state_then_set_state" {
				methods = &setStateCrash{InProcess: toyMethods(), marker: once, second: once + ".setstate"}
			}
			var logs bytes.Buffer
			r := newTestRunner(t, t.TempDir(), c, methods)
			r.Log = slog.New(slog.NewTextHandler(&logs, nil))
			if err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(once); err != nil {
				t.Fatalf("the fault never fired (%v): the case tests nothing", err)
			}
			id := r.Plan.Runs[0].Config.ID
			st, _, _ := r.Store.Status(id)
			if st.Status != results.StatusCompleted || st.Restarts != tc.restarts {
				t.Fatalf("status %+v, want completed after %d restarts\n%s", st, tc.restarts, &logs)
			}
			ms, err := r.Store.Metrics(id)
			if err != nil {
				t.Fatal(err)
			}
			checkMetricsEqual(t, ms, refMs)
			ev := readEval(t, r)
			if ev.KNNTop1 != refEval.KNNTop1 || ev.LinearTop1 != refEval.LinearTop1 {
				t.Errorf("eval knn/linear %v/%v, without the crash %v/%v", ev.KNNTop1, ev.LinearTop1, refEval.KNNTop1, refEval.LinearTop1)
			}
		})
	}
}

// setStateCrash makes the first SetState after the toy's own fault (marked
// by the file marker) fail as a crash, once.
type setStateCrash struct {
	InProcess
	marker, second string
}

func (s *setStateCrash) Start(ctx context.Context, name string) (Instance, error) {
	inst, err := s.InProcess.Start(ctx, name)
	return &setStateCrasher{Instance: inst, s: s}, err
}

type setStateCrasher struct {
	Instance
	s *setStateCrash
}

func (c *setStateCrasher) SetState(b []byte) error {
	if _, err := os.Stat(c.s.marker); err == nil {
		if f, err := os.OpenFile(c.s.second, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			// what sdk.InProcess makes of a panic in a method
			return fmt.Errorf("set state: %w: simulated crash", sdk.ErrPanicked)
		}
	}
	return c.Instance.SetState(b)
}

// checkMetricsEqual fails unless ms has each epoch once, in order, with
// the losses and monitors of want.
func checkMetricsEqual(t *testing.T, ms, want []results.EpochMetrics) {
	t.Helper()
	if len(ms) != len(want) {
		t.Fatalf("metrics.jsonl holds %d epochs, want %d: %+v", len(ms), len(want), epochsOf(ms))
	}
	for i := range want {
		if ms[i].Epoch != i+1 {
			t.Fatalf("metrics.jsonl epochs %v, want 1..%d once each", epochsOf(ms), len(want))
		}
		if ms[i].Loss != want[i].Loss || ms[i].KNNTop1 != want[i].KNNTop1 || ms[i].OutputStd != want[i].OutputStd || ms[i].Step != want[i].Step {
			t.Errorf("epoch %d: loss/knn/std/step %v/%v/%v/%d, uninterrupted %v/%v/%v/%d", i+1,
				ms[i].Loss, ms[i].KNNTop1, ms[i].OutputStd, ms[i].Step, want[i].Loss, want[i].KNNTop1, want[i].OutputStd, want[i].Step)
		}
	}
}

func epochsOf(ms []results.EpochMetrics) []int {
	var es []int
	for _, m := range ms {
		es = append(es, m.Epoch)
	}
	return es
}

func readEval(t *testing.T, r *Runner) results.Eval {
	t.Helper()
	var ev results.Eval
	p := filepath.Join(r.Store.RunDir(r.Plan.Runs[0].Config.ID), results.EvalFile)
	if err := results.ReadJSON(p, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// A stop between the checkpoint and metrics.jsonl (the file lacks the
// checkpoint's last epoch), and a metrics.jsonl an older bench left with
// an epoch twice, are both reconciled on resume from the checkpoint.
func TestResumeReconcilesMetrics(t *testing.T) {
	cfg := smallConfig("toy")
	cfg.Epochs = []int{3}
	ref := newTestRunner(t, t.TempDir(), cfg, toyMethods())
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	refMs, _ := ref.Store.Metrics(ref.Plan.Runs[0].Config.ID)
	cases := []struct {
		name   string
		edit   func(ms []results.EpochMetrics) []results.EpochMetrics
		legacy bool // strip the metrics from the checkpoint (as an older bench wrote it)
	}{
		{"legacy_checkpoint_epoch_twice", func(ms []results.EpochMetrics) []results.EpochMetrics {
			return []results.EpochMetrics{ms[0], ms[0], ms[1]}
		}, true},
		{"last_epoch_missing", func(ms []results.EpochMetrics) []results.EpochMetrics { return ms[:len(ms)-1] }, false},
		{"epoch_twice", func(ms []results.EpochMetrics) []results.EpochMetrics { return append(ms, ms[len(ms)-1]) }, false},
		{"empty", func([]results.EpochMetrics) []results.EpochMetrics { return nil }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			stop := &cancelAfter{InProcess: toyMethods(), cancel: cancel, at: 17} // in epoch 3
			r := newTestRunner(t, dir, cfg, stop)
			if err := r.Run(ctx); !errors.Is(err, ErrInterrupted) {
				t.Fatalf("want ErrInterrupted, got %v", err)
			}
			id := r.Plan.Runs[0].Config.ID
			ms, _ := r.Store.Metrics(id)
			if len(ms) != 2 {
				t.Fatalf("interrupted in epoch 3 with %d epochs of metrics", len(ms))
			}
			if err := r.Store.WriteMetrics(id, tc.edit(ms)); err != nil {
				t.Fatal(err)
			}
			if tc.legacy {
				stripCheckpointMetrics(t, r.Store.CheckpointPath(id))
			}
			r.Store.Close()
			r2 := newTestRunner(t, dir, cfg, toyMethods())
			if err := r2.Run(context.Background()); err != nil {
				t.Fatalf("resume: %v", err)
			}
			got, _ := r2.Store.Metrics(id)
			checkMetricsEqual(t, got, refMs)
		})
	}
}

// After a restart the sweep's progress counts the redone images once.
func TestProgressRestartCountsOnce(t *testing.T) {
	p := NewProgress(nil, false, nil)
	p.period = 0
	p.SweepStart(1, 300)
	p.RunStart(0, "r", 300, 0)
	p.Advance(100) // epoch 1 done (checkpoint at 100)
	p.Advance(80)  // epoch 2 in progress, then a crash
	p.RunStart(0, "r", 300, 100)
	p.Advance(100)
	p.Advance(100)
	if p.sweepDone != 300 || p.runDone != 300 {
		t.Fatalf("after a restart: sweep %d, run %d images done, want 300, 300", p.sweepDone, p.runDone)
	}
	if got := pct(400, 300); got != "100%" {
		t.Errorf("pct(400, 300) = %s, want 100%%", got)
	}
}

// A crash in SetState while an interrupted run is resumed starts a new
// method instance: the run finishes as if never interrupted.
func TestResumeSurvivesSetStateCrash(t *testing.T) {
	cfg := smallConfig("toy")
	cfg.Epochs = []int{3}
	ref := newTestRunner(t, t.TempDir(), cfg, toyMethods())
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	refMs, _ := ref.Store.Metrics(ref.Plan.Runs[0].Config.ID)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	r := newTestRunner(t, dir, cfg, &cancelAfter{InProcess: toyMethods(), cancel: cancel, at: 12})
	if err := r.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	r.Store.Close()
	marker := filepath.Join(t.TempDir(), "armed")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	crash := &setStateCrash{InProcess: toyMethods(), marker: marker, second: marker + ".done"}
	r2 := newTestRunner(t, dir, cfg, crash)
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(crash.second); err != nil {
		t.Fatal("SetState never crashed: the test tests nothing")
	}
	id := r2.Plan.Runs[0].Config.ID
	st, _, _ := r2.Store.Status(id)
	if st.Status != results.StatusCompleted || st.Restarts != 1 {
		t.Fatalf("status %+v, want completed with 1 restart", st)
	}
	ms, _ := r2.Store.Metrics(id)
	checkMetricsEqual(t, ms, refMs)
}

// stripCheckpointMetrics rewrites a run checkpoint without its metrics.
func stripCheckpointMetrics(t *testing.T, path string) {
	t.Helper()
	f, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal([]byte(f.Meta[ckptMetaKey]), &h); err != nil {
		t.Fatal(err)
	}
	if _, ok := h["metrics"]; !ok {
		t.Fatal("the checkpoint holds no metrics to strip")
	}
	delete(h, "metrics")
	b, _ := json.Marshal(h)
	f.Meta[ckptMetaKey] = string(b)
	if err := checkpoint.Save(path, f); err != nil {
		t.Fatal(err)
	}
}
