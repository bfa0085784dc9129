package harness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/results"
)

// TestStoreNewerSchema: the store stamps what it writes, reads its own files,
// and neither reads nor overwrites the files of a newer bench.
func TestStoreNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := "toy-b8-e2-s0-abc"
	if err := os.MkdirAll(s.RunDir(id), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteMetrics(id, []results.EpochMetrics{{Epoch: 1}, {Epoch: 2}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.RunDir(id), results.MetricsFile))
	if err != nil || strings.Count(string(b), `{"schema":1,"epoch":`) != 2 {
		t.Errorf("metrics lines not stamped: %s %v", b, err)
	}
	if ms, err := s.Metrics(id); err != nil || len(ms) != 2 {
		t.Errorf("metrics read back: %d, %v", len(ms), err)
	}

	newer := []byte(`{"schema": 99, "status": "completed"}`)
	if err := os.WriteFile(filepath.Join(s.RunDir(id), results.StatusFile), newer, 0o644); err != nil {
		t.Fatal(err)
	}
	var se *results.SchemaError
	if _, _, err := s.Status(id); !errors.As(err, &se) || se.Version != 99 {
		t.Errorf("Status of a newer status.json: %v", err)
	}

	sumPath := filepath.Join(dir, results.SummaryFile)
	if err := os.WriteFile(sumPath, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSweep(results.Sweep{Runs: []string{id}}); !errors.As(err, &se) || !strings.Contains(err.Error(), sumPath) {
		t.Errorf("WriteSweep over a newer summary.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, results.SweepFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sweep.json written despite the newer summary: %v", err)
	}
}
