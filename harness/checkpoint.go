package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/checkpoint"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/results"
)

// A run's checkpoint is an nn/checkpoint file (versioned, SHA-256
// checksummed, written atomically) holding the backbone's and the target's
// params and buffers under the prefixes "backbone/" and "target/", the
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

// ckptGroup is a named list of tensors saved under a prefix.
type ckptGroup struct {
	prefix  string
	tensors []*nn.Param
}

// checkpoint is what a run saves each epoch.
type runCheckpoint struct {
	ckptHeader
	Blob []byte // the method's opaque state
}

func prefixAll(groups []ckptGroup) []*nn.Param {
	var out []*nn.Param
	for _, g := range groups {
		for _, p := range g.tensors {
			out = append(out, &nn.Param{Name: g.prefix + p.Name, T: p.T, NoDecay: p.NoDecay})
		}
	}
	return out
}

// saveCheckpoint writes c, the params and buffers of groups and the
// optimizer state to path atomically.
func saveCheckpoint(path string, c runCheckpoint, params, buffers []ckptGroup, optimState []*nn.Param) error {
	h, err := json.Marshal(c.ckptHeader)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f := &checkpoint.File{
		Params: prefixAll(params), Buffers: prefixAll(buffers), Optim: optimState,
		Blobs: map[string][]byte{ckptBlobName: c.Blob},
		Meta:  map[string]string{ckptMetaKey: string(h)},
	}
	if err := checkpoint.Save(path, f); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
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
// state (from path) into the groups and opt: the same architecture, or an
// error that says to delete the file.
func restoreTensors(path string, f *checkpoint.File, params, buffers []ckptGroup, opt optim.Optimizer) error {
	for _, g := range params {
		if err := restoreGroup(f.Params, g.prefix, g.tensors); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, g := range buffers {
		if err := restoreGroup(f.Buffers, g.prefix, g.tensors); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := opt.SetState(f.Optim); err != nil {
		return fmt.Errorf("%s: optimizer state: %w", path, err)
	}
	return nil
}

// restoreGroup copies the loaded tensors named prefix+name into dst, which
// must match them exactly in names, order and sizes (the same architecture).
func restoreGroup(loaded []*nn.Param, prefix string, dst []*nn.Param) error {
	var src []*nn.Param
	for _, t := range loaded {
		if strings.HasPrefix(t.Name, prefix) {
			src = append(src, t)
		}
	}
	if len(src) != len(dst) {
		return fmt.Errorf("checkpoint holds %d %s tensors, the model has %d: it was made by another architecture (delete it to restart)", len(src), prefix, len(dst))
	}
	for i, p := range dst {
		if src[i].Name != prefix+p.Name || src[i].T.Len() != p.T.Len() {
			return fmt.Errorf("checkpoint tensor %s (%d values) does not match the model's %s%s (%d values): another architecture (delete it to restart)",
				src[i].Name, src[i].T.Len(), prefix, p.Name, p.T.Len())
		}
		copy(p.T.Data, src[i].T.Data)
	}
	return nil
}
