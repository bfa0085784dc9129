// Package harness is the host side of a sweep: it trains every planned run
// with the shared loader, backbone and optimiser, drives the method plugin,
// monitors and evaluates each run, computes baselines and keeps everything
// in a resumable results directory (see package results for the layout).
package harness

import (
	"github.com/siambench/siambench/atomicfile"

	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/siambench/siambench/results"
)

// Store is a sweep directory. All writes are atomic (temporary file, fsync,
// rename), so a kill at any moment leaves every file either old or new.
type Store struct {
	Dir  string
	lock *os.File
}

// OpenStore creates dir if needed and takes an exclusive lock on it, so two
// bench processes never write the same sweep. The lock dies with the
// process (even on SIGKILL). Close releases it.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, results.RunsDir), 0o755); err != nil {
		return nil, fmt.Errorf("create results dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock results dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("results dir %s is in use by another bench process (wait for it or use another --out): %w", dir, err)
	}
	removeStrayTemps(dir)
	return &Store{Dir: dir, lock: f}, nil
}

// OpenSharedStore creates dir if needed and opens it without the directory
// lock: for processes that share one results directory (the Slurm
// executor's jobs, on several nodes). They claim each run before training
// it (Store.Claim), so no run is trained twice at once.
func OpenSharedStore(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, results.RunsDir), 0o755); err != nil {
		return nil, fmt.Errorf("create results dir: %w", err)
	}
	return &Store{Dir: dir}, nil
}

// removeStrayTemps deletes the temporary files of atomic writes that a kill
// interrupted before their rename (".NAME.tmp*"); the real files are intact.
// Only called with the lock held, so no writer is active.
func removeStrayTemps(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp") {
			os.Remove(p)
		}
		return nil
	})
}

// ReadStore opens dir for reading only (no lock, nothing created): what
// --dry-run needs to report the state of runs while another bench may be
// writing them.
func ReadStore(dir string) *Store { return &Store{Dir: dir} }

// Close releases the directory lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// RunIDs returns the IDs of the run folders in the directory, sorted
// (none when the directory does not exist yet).
func (s *Store) RunIDs() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, results.RunsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil // os.ReadDir sorts by name
}

// RunDir returns the folder of run id.
func (s *Store) RunDir(id string) string { return filepath.Join(s.Dir, results.RunsDir, id) }

func (s *Store) runFile(id, name string) string { return filepath.Join(s.RunDir(id), name) }

// WriteSweep writes sweep.json. It first refuses a directory whose
// sweep.json or summary.json a newer bench wrote (a *results.SchemaError):
// this bench would overwrite files it cannot read.
func (s *Store) WriteSweep(sw results.Sweep) error {
	for _, name := range []string{results.SweepFile, results.SummaryFile} {
		if err := results.CheckSchema(filepath.Join(s.Dir, name)); err != nil {
			return err
		}
	}
	return results.WriteJSON(filepath.Join(s.Dir, results.SweepFile), sw)
}

// WriteConfig writes the run's config.json.
func (s *Store) WriteConfig(cfg results.RunConfig) error {
	return results.WriteJSON(s.runFile(cfg.ID, results.ConfigFile), cfg)
}

// Status returns the run's status; ok is false when the run never started.
func (s *Store) Status(id string) (st results.RunStatus, ok bool, err error) {
	err = results.ReadJSON(s.runFile(id, results.StatusFile), &st)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("run %s: %w", id, err)
	}
	return st, true, nil
}

// WriteStatus writes the run's status.json.
func (s *Store) WriteStatus(id string, st results.RunStatus) error {
	return results.WriteJSON(s.runFile(id, results.StatusFile), st)
}

// Metrics returns the run's per-epoch metrics (nil when none yet).
func (s *Store) Metrics(id string) ([]results.EpochMetrics, error) {
	m, err := results.ReadMetrics(s.runFile(id, results.MetricsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return m, err
}

// WriteMetrics rewrites metrics.jsonl with ms, atomically (the file is small;
// a rewrite never leaves a line that a resumed run would duplicate).
func (s *Store) WriteMetrics(id string, ms []results.EpochMetrics) error {
	var b strings.Builder
	for _, m := range ms {
		line, err := results.MarshalMetrics(m)
		if err != nil {
			return fmt.Errorf("encode metrics of run %s: %w", id, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(s.runFile(id, results.MetricsFile), []byte(b.String()))
}

// Eval returns the run's eval.json; ok is false when absent.
func (s *Store) Eval(id string) (ev results.Eval, ok bool, err error) {
	err = results.ReadJSON(s.runFile(id, results.EvalFile), &ev)
	if errors.Is(err, fs.ErrNotExist) {
		return ev, false, nil
	}
	if err != nil {
		return ev, false, fmt.Errorf("run %s: %w", id, err)
	}
	return ev, true, nil
}

// WriteEval writes the run's eval.json.
func (s *Store) WriteEval(id string, ev results.Eval) error {
	return results.WriteJSON(s.runFile(id, results.EvalFile), ev)
}

// CheckpointPath is where the run's latest epoch checkpoint lives.
func (s *Store) CheckpointPath(id string) string { return s.runFile(id, results.CheckpointFile) }

// LogPath is the run's log file.
func (s *Store) LogPath(id string) string { return s.runFile(id, results.LogFile) }

// Finished reports whether a run needs no more work: its status is final
// (completed, collapsed or diverged) and, unless it diverged, its evaluation
// is stored. Failed runs are retried.
func (s *Store) Finished(id string) (bool, error) {
	st, ok, err := s.Status(id)
	if err != nil || !ok {
		return false, err
	}
	switch st.Status {
	case results.StatusDiverged:
		return true, nil
	case results.StatusCompleted, results.StatusCollapsed:
		_, ok, err := s.Eval(id)
		return ok, err
	}
	return false, nil
}

// baselinePath is the file of a baseline computed for dataset and backbone.
func (s *Store) baselinePath(key string) string {
	return filepath.Join(s.Dir, results.BaselinesDir, key+".json")
}

// baselineCheckpointPath is where a trained baseline (supervised) keeps its
// epoch checkpoint until its result is stored.
func (s *Store) baselineCheckpointPath(key string) string {
	return filepath.Join(s.Dir, results.BaselinesDir, key+".ckpt")
}

// Baseline returns a stored baseline; ok is false when not yet computed.
func (s *Store) Baseline(key string) (b results.Baseline, ok bool, err error) {
	err = results.ReadJSON(s.baselinePath(key), &b)
	if errors.Is(err, fs.ErrNotExist) {
		return b, false, nil
	}
	if err != nil {
		return b, false, fmt.Errorf("baseline %s: %w", key, err)
	}
	return b, true, nil
}

// WriteBaseline stores a baseline under key.
func (s *Store) WriteBaseline(key string, b results.Baseline) error {
	return results.WriteJSON(s.baselinePath(key), b)
}

// WriteEmbedding stores a run's embedding (runs/<id>/embedding.json).
func (s *Store) WriteEmbedding(id string, e *results.Embedding) error {
	return results.WriteEmbedding(s.runFile(id, results.EmbeddingFile), e)
}

// WriteBaselineEmbedding stores the embedding of the baseline under key and
// returns its path relative to the results directory (slash-separated), the
// value of results.Baseline.Embedding.
func (s *Store) WriteBaselineEmbedding(key string, e *results.Embedding) (string, error) {
	rel := path.Join(results.BaselinesDir, results.EmbeddingsDir, key+".json")
	if err := results.WriteEmbedding(filepath.Join(s.Dir, filepath.FromSlash(rel)), e); err != nil {
		return "", err
	}
	return rel, nil
}

// WriteSummary writes summary.json.
func (s *Store) WriteSummary(sum results.Summary) error {
	return results.WriteJSON(filepath.Join(s.Dir, results.SummaryFile), sum)
}
