package harness

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/siambench/siambench/results"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	t.Run("second process is locked out", func(t *testing.T) {
		if _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("want in-use error, got %v", err)
		}
	})

	id := "toy-b8-e2-s0-abc"
	if done, err := s.Finished(id); err != nil || done {
		t.Fatalf("fresh run: finished=%v err=%v", done, err)
	}
	if _, ok, err := s.Status(id); ok || err != nil {
		t.Fatalf("fresh run status: ok=%v err=%v", ok, err)
	}
	ms := []results.EpochMetrics{{Epoch: 1, Loss: -0.5}, {Epoch: 2, Loss: -0.7, Metrics: map[string]float64{"output_std": 0.1}}}
	if err := s.WriteMetrics(id, ms); err != nil {
		t.Fatal(err)
	}
	got, err := s.Metrics(id)
	if err != nil || len(got) != 2 || got[1].Loss != -0.7 || got[1].Metrics["output_std"] != 0.1 {
		t.Fatalf("metrics round trip: %+v, %v", got, err)
	}
	// Rewriting with fewer epochs (a resume truncating) leaves exactly those.
	if err := s.WriteMetrics(id, ms[:1]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Metrics(id); len(got) != 1 {
		t.Fatalf("after rewrite: %d epochs, want 1", len(got))
	}

	cases := []struct {
		status  string
		eval    bool
		want    bool
		comment string
	}{
		{results.StatusRunning, false, false, "interrupted"},
		{results.StatusFailed, false, false, "failed runs are retried"},
		{results.StatusCompleted, false, false, "trained but not evaluated"},
		{results.StatusCompleted, true, true, "done"},
		{results.StatusCollapsed, true, true, "collapsed is final"},
		{results.StatusDiverged, false, true, "diverged needs no eval"},
	}
	for _, tc := range cases {
		t.Run(tc.comment, func(t *testing.T) {
			id := "run-" + strings.ReplaceAll(tc.comment, " ", "-")
			if err := s.WriteStatus(id, results.RunStatus{Status: tc.status, FinishedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if tc.eval {
				if err := s.WriteEval(id, results.Eval{KNNTop1: 0.5}); err != nil {
					t.Fatal(err)
				}
			}
			done, err := s.Finished(id)
			if err != nil || done != tc.want {
				t.Errorf("finished: want %v, got %v (err %v)", tc.want, done, err)
			}
		})
	}

	t.Run("corrupt status is a clear error", func(t *testing.T) {
		id := "corrupt"
		if err := os.MkdirAll(s.RunDir(id), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.RunDir(id), results.StatusFile), []byte("{\"sta"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finished(id); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("want corrupt-file error, got %v", err)
		}
	})

	t.Run("baselines", func(t *testing.T) {
		if _, ok, err := s.Baseline("raw_pixels-default"); ok || err != nil {
			t.Fatalf("absent baseline: ok=%v err=%v", ok, err)
		}
		b := results.Baseline{Dataset: "default", KNNTop1: 0.73, LinearTop1: 0.8}
		if err := s.WriteBaseline("raw_pixels-default", b); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Baseline("raw_pixels-default")
		if !ok || err != nil || got.KNNTop1 != 0.73 {
			t.Fatalf("baseline round trip: %+v ok=%v err=%v", got, ok, err)
		}
	})

	// No temporary files are left behind by the atomic writes.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})

	// After Close the directory can be opened again.
	s.Close()
	s2, err := OpenStore(dir)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s2.Close()
}

func TestProgress(t *testing.T) {
	t.Run("terminal bars", func(t *testing.T) {
		var buf bytes.Buffer
		p := NewProgress(&buf, true, slog.New(slog.NewTextHandler(&buf, nil)))
		p.Width = func() int { return 120 } // room for the full layout
		clock := time.Unix(0, 0)
		p.now = func() time.Time { return clock }
		p.SweepStart(2, 2000)
		p.RunStart(0, "simsiam-b256-e1-s0-0123456789", 1000, 0)
		clock = clock.Add(time.Second)
		p.Advance(500)
		out := buf.String()
		if !strings.Contains(out, "run 1/2") || !strings.Contains(out, "500 img/s") || !strings.Contains(out, "[############------------]") {
			t.Errorf("bars missing run, rate or half-full bar:\n%s", out)
		}
		if !strings.Contains(out, "ETA 1s") || !strings.Contains(out, "ETA 3s") {
			t.Errorf("want run ETA 1s and sweep ETA 3s:\n%s", out)
		}
		buf.Reset()
		p.Write([]byte("a log line\n"))
		if !strings.HasPrefix(buf.String(), "\x1b[1A\r\x1b[K\x1b[1A\r\x1b[K"+"a log line\n") {
			t.Errorf("log line must clear both bars first, got %q", buf.String())
		}
		buf.Reset()
		p.Done()
		if strings.Count(buf.String(), "\x1b[K") != 2 {
			t.Errorf("Done must erase the bars: %q", buf.String())
		}
	})
	t.Run("bars fit the terminal", func(t *testing.T) {
		for _, cols := range []int{30, 60, 80, 100, 200} {
			var buf bytes.Buffer
			p := NewProgress(&buf, true, nil)
			p.Width = func() int { return cols }
			clock := time.Unix(0, 0)
			p.now = func() time.Time { return clock }
			p.SweepStart(12, 20000)
			p.RunStart(10, "barlowtwins-b256-e100-s2-0123456789", 1000, 0)
			clock = clock.Add(time.Second)
			p.Advance(500)
			all := strings.Split(strings.TrimSuffix(strings.ReplaceAll(buf.String(), "\x1b[1A\r\x1b[K", ""), "\n"), "\n")
			for _, l := range all { // every redraw
				if n := utf8.RuneCountInString(l); n >= cols {
					t.Errorf("%d columns: a %d-column line would wrap and leave a stale row: %q", cols, n, l)
				}
			}
			lines := all[len(all)-2:] // the last redraw
			if cols >= 80 {
				for _, want := range []string{"run 11/12 barlowtwins-b256", "500 img/s ETA 1s", "##", "--]"} {
					if !strings.Contains(lines[0], want) {
						t.Errorf("%d columns: run line %q lacks %q", cols, lines[0], want)
					}
				}
				col := func(l, sub string) int { return utf8.RuneCountInString(l[:max(0, strings.Index(l, sub))]) }
				if !strings.HasPrefix(lines[1], "sweep ") || col(lines[1], "[") != col(lines[0], "[") ||
					col(lines[1], " ETA ") != col(lines[0], " ETA ") {
					t.Errorf("%d columns: the sweep bar and ETA do not line up under the run's:\n%s\n%s", cols, lines[0], lines[1])
				}
			}
		}
	})
	t.Run("plain lines", func(t *testing.T) {
		var buf bytes.Buffer
		p := NewProgress(&buf, false, slog.New(slog.NewTextHandler(&buf, nil)))
		clock := time.Unix(0, 0)
		p.now = func() time.Time { return clock }
		p.SweepStart(1, 100)
		p.RunStart(0, "r", 100, 0)
		p.Advance(10)
		if strings.Contains(buf.String(), "\x1b") || strings.Contains(buf.String(), "progress") {
			t.Errorf("plain mode drew or logged too early: %q", buf.String())
		}
		clock = clock.Add(20 * time.Second)
		p.Advance(10)
		if !strings.Contains(buf.String(), "msg=progress") || !strings.Contains(buf.String(), "sweep_done=20%") {
			t.Errorf("want a progress line after 15s: %q", buf.String())
		}
		p.Epoch("r", 3, results.EpochMetrics{Epoch: 1, Loss: 1.5, KNNTop1: 0.61})
		if !strings.Contains(buf.String(), "epoch=1/3") || !strings.Contains(buf.String(), "knn_top1=0.610") {
			t.Errorf("epoch line: %q", buf.String())
		}
	})
}
