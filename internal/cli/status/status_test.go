package status

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/results"
)

// A results directory with one run in each state bench status tells apart:
// completed, failed (with its error), running (this process holds its
// claim), "running" in status.json but held by nobody (killed: pending), and
// never started (pending).
func TestStatusOfEveryRun(t *testing.T) {
	dir := t.TempDir()
	st, err := harness.OpenSharedStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"done", "broken", "live", "killed", "fresh"}
	if err := st.WriteSweep(results.Sweep{Runs: ids}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := st.WriteConfig(results.RunConfig{ID: id, Method: "toy-" + id, Epochs: 4}); err != nil {
			t.Fatal(err)
		}
	}
	for id, s := range map[string]results.RunStatus{
		"done":   {Status: results.StatusCompleted, EpochsDone: 4},
		"broken": {Status: results.StatusFailed, EpochsDone: 1, Error: "plugin exited: signal: killed"},
		"live":   {Status: results.StatusRunning, EpochsDone: 2},
		"killed": {Status: results.StatusRunning, EpochsDone: 3},
	} {
		if err := st.WriteStatus(id, s); err != nil {
			t.Fatal(err)
		}
	}
	release, err := st.Claim("live")
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	io, _, out, _ := iostreams.Test()
	if err := runStatus(&StatusOptions{IO: io, Ctx: t.Context(), Dir: dir, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var runs []Run
	if err := json.Unmarshal(out.Bytes(), &runs); err != nil {
		t.Fatalf("--json output is not a JSON array of runs: %v\n%s", err, out)
	}
	want := map[string]struct {
		status string
		epochs int
	}{
		"done": {results.StatusCompleted, 4}, "broken": {results.StatusFailed, 1}, "live": {results.StatusRunning, 2},
		"killed": {results.StatusPending, 3}, "fresh": {results.StatusPending, 0},
	}
	if len(runs) != len(ids) {
		t.Fatalf("%d runs, want %d (one per planned run): %+v", len(runs), len(ids), runs)
	}
	for i, r := range runs {
		if r.ID != ids[i] {
			t.Errorf("run %d is %s, want %s (plan order)", i, r.ID, ids[i])
		}
		w := want[r.ID]
		if r.Status != w.status || r.EpochsDone != w.epochs || r.Epochs != 4 || r.Method != "toy-"+r.ID {
			t.Errorf("%s: status %s %d/%d method %s, want %s %d/4 toy-%s", r.ID, r.Status, r.EpochsDone, r.Epochs, r.Method, w.status, w.epochs, r.ID)
		}
		if r.ID == "live" && r.Host == "" {
			t.Errorf("running run without its host")
		}
		if r.ID == "broken" && !strings.Contains(r.Error, "signal: killed") {
			t.Errorf("failed run's error %q lost", r.Error)
		}
	}

	io, _, out, _ = iostreams.Test()
	if err := runStatus(&StatusOptions{IO: io, Ctx: t.Context(), Dir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"error: plugin exited: signal: killed", "5 runs: 2 pending 1 running 1 completed 1 failed"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func TestStatusOfNoSweep(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	err := runStatus(&StatusOptions{IO: io, Ctx: t.Context(), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "holds no sweep") || !strings.Contains(err.Error(), "--out") {
		t.Fatalf("status of an empty folder: %v, want an error naming --out", err)
	}
}
