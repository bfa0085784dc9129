// Package results defines the on-disk layout and JSON schema of a sweep's
// results. The harness writes them; reports (and users' own scripts) read
// them. Everything here is plain JSON so results are readable without bench.
//
// Layout of a sweep directory DIR:
//
//	DIR/sweep.json                the sweep's plan (Sweep)
//	DIR/summary.json              Summary: one row per run plus baselines
//	DIR/baselines/<key>.json      Baseline results, reused across runs and sweeps
//	DIR/baselines/embeddings/<key>.json  Embedding of a baseline's test features
//	                              (random init; named by Baseline.Embedding)
//	DIR/runs/<run-id>/config.json RunConfig
//	DIR/runs/<run-id>/metrics.jsonl one EpochMetrics per line, in epoch order
//	DIR/runs/<run-id>/eval.json   Eval (present once the run finished evaluating)
//	DIR/runs/<run-id>/status.json RunStatus (updated at every epoch and at the end)
//	DIR/runs/<run-id>/embedding.json Embedding: 2-D PCA of test features (written
//	                              with eval.json; absent in runs of an older bench)
//	DIR/runs/<run-id>/checkpoint.bin latest epoch checkpoint (for resuming)
//	DIR/runs/<run-id>/run.log     the run's log
//	DIR/report.md, DIR/*.png      written by bench report
//
// # Schema version
//
// Every JSON file above (summary.json, sweep.json, baselines/*.json, the
// embeddings, and config.json, status.json, eval.json of each run) carries
// its schema version as a top-level field, "schema": 1, and so does each
// line of metrics.jsonl: the lines are appended and rewritten one at a time,
// so each stays a self-describing object and the file stays plain JSON Lines
// (no header line a line reader would have to skip). WriteJSON, WriteEmbedding
// and MarshalMetrics stamp the current version (Schema); ReadJSON,
// ReadEmbedding and ReadMetrics accept every version up to Schema, count a
// file or line without the field (written by a bench from before versioning)
// as version 1, and refuse a newer one with a *SchemaError that names the
// file, its version and Schema, and says to use a newer bench. The Go types
// hold no schema field: the version is checked on the bytes, before decoding.
package results

import (
	"github.com/siambench/siambench/atomicfile"

	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"
)

// Status values of a run.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusCollapsed = "collapsed" // finished, but its output std fell towards 0
	StatusDiverged  = "diverged"  // stopped by the NaN/Inf guard; metrics kept
	StatusFailed    = "failed"    // an error stopped it (see RunStatus.Error)
)

// File names inside a run folder and a sweep folder.
const (
	SweepFile      = "sweep.json"
	SummaryFile    = "summary.json"
	RunsDir        = "runs"
	BaselinesDir   = "baselines"
	ConfigFile     = "config.json"
	MetricsFile    = "metrics.jsonl"
	EvalFile       = "eval.json"
	StatusFile     = "status.json"
	CheckpointFile = "checkpoint.bin"
	LogFile        = "run.log"
	EmbeddingFile  = "embedding.json"
	// EmbeddingsDir is the folder under BaselinesDir holding the baselines'
	// embeddings (a sub-folder, so baselines/*.json stays baselines only).
	EmbeddingsDir = "embeddings"
)

// Environment describes where results were produced; it heads every report.
type Environment struct {
	CodeVersion string `json:"code_version"`
	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	GEMMBackend string `json:"gemm_backend"` // e.g. "openblas (threads=2, core=Cooperlake)"
	Hostname    string `json:"hostname,omitempty"`
}

// RunConfig is everything that determines a run; its hash is the run ID.
type RunConfig struct {
	ID            string            `json:"id"`
	Method        string            `json:"method"`
	MethodVersion string            `json:"method_version"`
	Options       map[string]string `json:"options,omitempty"` // method options as set by the user
	Dataset       string            `json:"dataset"`
	EvalDataset   string            `json:"eval_dataset,omitempty"` // where it was evaluated, when not Dataset
	Transfer      []string          `json:"transfer,omitempty"`     // datasets for transfer probes
	Backbone      string            `json:"backbone"`
	Precision     string            `json:"precision,omitempty"` // bf16, or empty for fp32 (nn.SetPrecision)
	BatchSize     int               `json:"batch_size"`
	Epochs        int               `json:"epochs"`
	Seed          int64             `json:"seed"`
	// Hyperparameters actually used (method's recommendation after overrides).
	Optimizer    string  `json:"optimizer"`
	BaseLR       float64 `json:"base_lr"`
	LR           float64 `json:"lr"` // after batch scaling
	WeightDecay  float64 `json:"weight_decay"`
	Momentum     float64 `json:"momentum"`
	WarmupEpochs int     `json:"warmup_epochs"`
	// Properties of the method shown in the Table 4 columns.
	Negatives       bool        `json:"negatives"`
	MomentumEncoder bool        `json:"momentum_encoder"`
	CodeVersion     string      `json:"code_version"`
	Environment     Environment `json:"environment"`
	// OutputDim is d, the width of the method's output whose per-channel std
	// is EpochMetrics.OutputStd; reports draw the healthy level 1/√d. 0: unknown.
	OutputDim int `json:"output_dim,omitempty"`
	// Fields added by the harness (optional for readers).
	LRBatchDiv     int     `json:"lr_batch_div,omitempty"`    // LR = BaseLR · BatchSize / LRBatchDiv
	TargetMomentum float64 `json:"target_momentum,omitempty"` // base EMA momentum of the target backbone
	TargetSchedule string  `json:"target_schedule,omitempty"` // "cosine" or "constant"
	TrainLimit     int     `json:"train_limit,omitempty"`     // only the first N train images (0: all)
	TestLimit      int     `json:"test_limit,omitempty"`      // only the first N test images (0: all)
	// What ran (part of the run ID): the method's plugin binary, the hex
	// SHA-256 of its content and of the bench executable; empty when unknown
	// (an in-process method, a results dir from an older bench).
	MethodBinary string `json:"method_binary,omitempty"`
	MethodSHA256 string `json:"method_sha256,omitempty"`
	HostSHA256   string `json:"host_sha256,omitempty"`
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch     int     `json:"epoch"` // 1-based
	Step      int     `json:"step"`  // global steps done at the end of the epoch
	Loss      float64 `json:"loss"`  // mean over the epoch's steps
	LR        float64 `json:"lr"`
	KNNTop1   float64 `json:"knn_top1"`   // in [0,1]
	FeatStd   float64 `json:"feat_std"`   // per-channel std of l2-normalised backbone output
	OutputStd float64 `json:"output_std"` // per-channel std of the method's l2-normalised output
	// Metrics are the method's own metrics, averaged over the epoch.
	Metrics         map[string]float64 `json:"metrics,omitempty"`
	WallSeconds     float64            `json:"wall_seconds"` // cumulative training time
	ImagesPerSecond float64            `json:"images_per_second"`
	DataWaitShare   float64            `json:"data_wait_share"` // fraction of step time spent waiting for data
	PeakRSSBytes    int64              `json:"peak_rss_bytes,omitempty"`
}

// Eval holds the final evaluation of a run.
type Eval struct {
	KNNTop1      float64            `json:"knn_top1"`
	BestKNNTop1  float64            `json:"best_knn_top1"`
	BestKNNEpoch int                `json:"best_knn_epoch"`
	LinearTop1   float64            `json:"linear_top1"`
	LinearTop5   *float64           `json:"linear_top5,omitempty"` // only with > 10 classes
	Transfer     map[string]float64 `json:"transfer,omitempty"`    // dataset → linear top-1
	FeatStd      float64            `json:"feat_std"`
	OutputStd    float64            `json:"output_std"`
}

// RunStatus is a run's state, rewritten atomically as it progresses.
type RunStatus struct {
	Status          string  `json:"status"`
	EpochsDone      int     `json:"epochs_done"`
	Error           string  `json:"error,omitempty"`
	Restarts        int     `json:"plugin_restarts,omitempty"` // plugin crashes recovered from
	Resumed         int     `json:"resumed,omitempty"`         // times the run was resumed from a checkpoint
	CollapseReason  string  `json:"collapse_reason,omitempty"`
	WallSeconds     float64 `json:"wall_seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	PeakRSSBytes    int64   `json:"peak_rss_bytes,omitempty"`
	// StartedAt and FinishedAt are wall-clock times (UTC) of the run's start
	// and of its reaching a final status; zero while unknown. Reports date
	// themselves from the newest FinishedAt, never from the clock.
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// SummaryRun is one row of summary.json.
type SummaryRun struct {
	ID              string             `json:"id"`
	Method          string             `json:"method"`
	Options         map[string]string  `json:"options"`
	Dataset         string             `json:"dataset"`
	EvalDataset     string             `json:"eval_dataset,omitempty"`
	Backbone        string             `json:"backbone"`
	BatchSize       int                `json:"batch_size"`
	Epochs          int                `json:"epochs"`
	Seed            int64              `json:"seed"`
	Status          string             `json:"status"`
	KNNTop1         float64            `json:"knn_top1"`
	BestKNNTop1     float64            `json:"best_knn_top1"`
	LinearTop1      float64            `json:"linear_top1"`
	LinearTop5      *float64           `json:"linear_top5,omitempty"`
	Transfer        map[string]float64 `json:"transfer"`
	WallSeconds     float64            `json:"wall_seconds"`
	ImagesPerSecond float64            `json:"images_per_second"`
	PeakRSSBytes    int64              `json:"peak_rss_bytes,omitempty"`
	Negatives       bool               `json:"negatives"`
	MomentumEncoder bool               `json:"momentum_encoder"`
	FeatStd         float64            `json:"feat_std"`
	OutputStd       float64            `json:"output_std"`
	Error           string             `json:"error,omitempty"`
	// EpochsDone is how many epochs finished: 0 (never omitted) for a run
	// that failed or diverged in its first epoch.
	EpochsDone int `json:"epochs_done"`
	// Optional fields (zero when the harness did not record them).
	OutputDim      int       `json:"output_dim,omitempty"` // see RunConfig.OutputDim
	CollapseReason string    `json:"collapse_reason,omitempty"`
	FinishedAt     time.Time `json:"finished_at,omitzero"` // see RunStatus.FinishedAt
}

// Sweep is sweep.json: what was asked for and the runs it expanded into.
type Sweep struct {
	CodeVersion string `json:"code_version"`
	// Command is the command line that (re)runs the sweep; running it again
	// reuses completed runs and resumes an interrupted one.
	Command string `json:"command"`
	// Config is the sweep configuration as the harness resolved it (the
	// fields of a sweep.yaml).
	Config      json.RawMessage `json:"config"`
	Runs        []string        `json:"runs"` // run IDs in plan order
	Environment Environment     `json:"environment"`
}

// Baseline is the evaluation of a non-self-supervised representation.
// Dataset and Backbone say what it was computed on; when empty, reports
// apply it to every run of the summary (a single-dataset sweep).
type Baseline struct {
	Dataset  string `json:"dataset,omitempty"`
	Backbone string `json:"backbone,omitempty"` // empty for raw pixels
	// Epochs is the training budget of a trained baseline (supervised); 0
	// for the untrained ones, and in results written before it was recorded.
	Epochs     int                `json:"epochs,omitempty"`
	KNNTop1    float64            `json:"knn_top1"`
	LinearTop1 float64            `json:"linear_top1"`
	Transfer   map[string]float64 `json:"transfer,omitempty"`
	// Embedding is the slash-separated path, relative to the results
	// directory, of the baseline's Embedding file
	// (baselines/embeddings/<key>.json); empty when none was stored.
	Embedding string `json:"embedding,omitempty"`
}

// Baseline names.
const (
	BaselineRawPixels  = "raw_pixels"
	BaselineRandomInit = "random_init"
	BaselineSupervised = "supervised"
)

// Summary is summary.json.
type Summary struct {
	Environment Environment  `json:"environment"`
	Runs        []SummaryRun `json:"runs"`
	// Baselines is keyed by baseline name (BaselineRawPixels, ...), optionally
	// followed by "/" and a qualifier (e.g. "raw_pixels/mnist") when a sweep
	// holds several datasets or backbones; Baseline.Dataset/Backbone then say which.
	Baselines map[string]Baseline `json:"baselines"`
}

// Embedding is embedding.json: a 2-D picture of a backbone's test features,
// for the report's scatter plots. Points are a fixed subset of the test split
// (see Subset), in split order; their l2-normalised features are projected on
// their first two principal components (PCA fitted on these points). Each
// component's sign is fixed so that its largest-magnitude loading is
// positive, which makes the file's bytes a function of the features alone.
// Coordinates are rounded to 5 decimals.
type Embedding struct {
	Method  string   `json:"method"`  // what the features come from: a method or baseline name
	Dataset string   `json:"dataset"` // the test split's dataset
	Split   string   `json:"split"`   // "test"
	Subset  string   `json:"subset"`  // how the points were chosen, in words
	Dim     int      `json:"dim"`     // D, the feature width PCA saw
	Classes []string `json:"classes"` // class names; Label indexes them
	// ExplainedVariance is the fraction of the total variance of the
	// (normalised) features along PC1 and PC2.
	ExplainedVariance [2]float64 `json:"explained_variance"`
	Label             []int      `json:"label"` // (N) class of each point
	X                 []float64  `json:"x"`     // (N) coordinate on PC1
	Y                 []float64  `json:"y"`     // (N) coordinate on PC2
}

// Check reports whether e is consistent: equal lengths, labels within
// Classes, finite coordinates.
func (e *Embedding) Check() error {
	if len(e.X) != len(e.Label) || len(e.Y) != len(e.Label) {
		return fmt.Errorf("embedding: %d labels, %d x and %d y", len(e.Label), len(e.X), len(e.Y))
	}
	for i, l := range e.Label {
		if l < 0 || l >= len(e.Classes) {
			return fmt.Errorf("embedding: point %d has label %d, outside its %d classes", i, l, len(e.Classes))
		}
		if math.IsNaN(e.X[i]) || math.IsInf(e.X[i], 0) || math.IsNaN(e.Y[i]) || math.IsInf(e.Y[i], 0) {
			return fmt.Errorf("embedding: point %d is not finite", i)
		}
	}
	return nil
}

// WriteEmbedding writes e to path atomically as compact JSON (one line:
// a thousand points stay a few tens of kB), stamped with Schema.
func WriteEmbedding(path string, e *Embedding) error {
	b, err := json.Marshal(e)
	if err == nil {
		b, err = stamp(b)
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// ReadEmbedding reads and checks an embedding file.
func ReadEmbedding(path string) (*Embedding, error) {
	var e Embedding
	if err := ReadJSON(path, &e); err != nil {
		return nil, err
	}
	if err := e.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &e, nil
}

// ---

// WriteJSON writes v as indented JSON to path atomically: a temporary file in
// the same directory, fsynced, then renamed over path. A kill leaves either the
// old file or the new one, never a torn one. An object is stamped with
// "schema": Schema as its first field (see the package doc); a v that already
// encodes a schema field other than Schema is an error.
func WriteJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err == nil {
		b, err = stamp(b)
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	out.WriteByte('\n')
	return atomicfile.WriteFile(path, out.Bytes())
}

// ReadJSON decodes the JSON file at path into v. A file of a newer schema
// than Schema is not decoded: the error is a *SchemaError (errors.As finds
// it). A file without a schema field is version 1.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := checkSchema(b, path, 0); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w (the file is corrupt; delete it to recompute)", path, err)
	}
	return nil
}

// ReadMetrics reads a metrics.jsonl file. A line of a newer schema than
// Schema is a *SchemaError. A torn last line (a kill during an
// append) is ignored; any other bad line is an error.
func ReadMetrics(path string) ([]EpochMetrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeMetrics(bufio.NewReader(f), path)
}
