package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/checkpoint"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/results"
)

// A run's checkpoint is an nn/checkpoint file (versioned, SHA-256
// checksummed, written atomically) holding the backbone's and the target's
// params and buffers in the sections "backbone" and "target" (entries
// "backbone/NAME", checkpoint.Join), the
// optimizer state, the method's state blob and, as metadata, the run's
// progress (ckptHeader as JSON).

const (
	ckptMetaKey  = "harness"
	ckptBlobName = "method"
)

// ckptHeader is a run's progress as of a checkpoint.
type ckptHeader struct {
	Epoch       int     `json:"epoch"` // epochs completed
	Step        int     `json:"step"`  // global steps completed
	WallSeconds float64 `json:"wall_seconds"`
	TrainSecs   float64 `json:"train_seconds"`
	Images      int64   `json:"images"`
	Restarts    int     `json:"restarts"`
	// Metrics are the epochs' metrics as of the checkpoint (Epoch of
	// them). metrics.jsonl is written after the checkpoint; on resume it
	// is rewritten from these, so it never holds an epoch twice nor misses
	// one. nil in checkpoints written before the field existed.
	Metrics []results.EpochMetrics `json:"metrics"`
}

// ckptGroup is a named list of tensors, saved as "NAME/TENSOR" entries
// (checkpoint.Join): "backbone", "target", "head".
type ckptGroup = checkpoint.Section

// checkpoint is what a run saves each epoch.
type runCheckpoint struct {
	ckptHeader
	Blob []byte // the method's opaque state
}

// saveCheckpoint writes c, the params and buffers of groups and the
// optimizer state to path atomically.
func saveCheckpoint(path string, c runCheckpoint, params, buffers []ckptGroup, optimState []*nn.Param) error {
	h, err := json.Marshal(c.ckptHeader)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	ps, err := checkpoint.Join(params...)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	bs, err := checkpoint.Join(buffers...)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f := &checkpoint.File{
		Params: ps, Buffers: bs, Optim: optimState,
		Blobs: map[string][]byte{ckptBlobName: c.Blob},
		Meta:  map[string]string{ckptMetaKey: string(h)},
	}
	return checkpoint.Save(path, f) // its error says "save checkpoint: …"
}

// errNoCheckpoint is returned by loadCheckpoint when the file does not exist.
var errNoCheckpoint = errors.New("no checkpoint")

// loadCheckpoint reads and verifies path.
func loadCheckpoint(path string) (runCheckpoint, *checkpoint.File, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return runCheckpoint{}, nil, errNoCheckpoint
	}
	f, err := checkpoint.Load(path)
	if err != nil {
		return runCheckpoint{}, nil, fmt.Errorf("%w (delete %s to restart the run from scratch)", err, path)
	}
	var c runCheckpoint
	if err := json.Unmarshal([]byte(f.Meta[ckptMetaKey]), &c.ckptHeader); err != nil {
		return runCheckpoint{}, nil, fmt.Errorf("checkpoint %s: no run progress in its metadata (%v): delete it to restart the run", path, err)
	}
	c.Blob = f.Blobs[ckptBlobName]
	return c, f, nil
}

// restoreTensors copies a loaded checkpoint's params, buffers and optimizer
// state (from path) into the groups and opt (nil: no optimizer state is
// restored), all or nothing: every group
// and the optimizer state are checked first (checkpoint.Restore), so a
// checkpoint of another architecture is an error that says to delete the
// file, and leaves the model and opt as they were.
func restoreTensors(path string, f *checkpoint.File, params, buffers []ckptGroup, opt optim.Optimizer) error {
	ps, err := checkpoint.Split(f.Params)
	if err != nil {
		return fmt.Errorf("%s: %w: another architecture (delete it to restart)", path, err)
	}
	bs, err := checkpoint.Split(f.Buffers)
	if err != nil {
		return fmt.Errorf("%s: %w: another architecture (delete it to restart)", path, err)
	}
	var rs []checkpoint.Restoring
	for _, g := range params {
		rs = append(rs, checkpoint.Restoring{From: ps, Into: g})
	}
	for _, g := range buffers {
		rs = append(rs, checkpoint.Restoring{From: bs, Into: g})
	}
	var setOpt func() error
	if opt != nil {
		setOpt = func() error {
			if err := opt.SetState(f.Optim); err != nil {
				return fmt.Errorf("optimizer state: %w", err)
			}
			return nil
		}
	}
	err = checkpoint.Restore("the model", setOpt, rs...)
	var mismatch *checkpoint.MismatchError
	switch {
	case errors.As(err, &mismatch):
		return fmt.Errorf("%s: checkpoint %w: it was made by another architecture (delete it to restart)", path, err)
	case err != nil:
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
