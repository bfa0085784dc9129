package harness

// Export and evaluation of a saved backbone (bench export, bench eval):
// loading a run's trained backbone from its checkpoint, converting it to and
// from safetensors with PyTorch names, and evaluating any backbone with the
// protocol code the sweep uses (evaluateFeatures).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/nn/npy"
	"github.com/siambench/siambench/nn/safetensors"
	"github.com/siambench/siambench/results"
)

// WeightsInfo is what an exported weights file records besides its tensors
// (the safetensors "__metadata__", all values strings there).
type WeightsInfo struct {
	Backbone   string // models name, e.g. "resnet-tiny"
	InChannels int
	OutDim     int    // D, the feature width (0: unknown)
	Method     string // empty when not from a run
	RunID      string
	Dataset    string   // pre-training dataset
	Transfer   []string // the run's transfer datasets
	Epochs     int      // epochs completed at the checkpoint
}

// Metadata keys of an exported file.
const (
	MetaFormat     = "format"
	MetaBackbone   = "backbone"
	MetaInChannels = "in_channels"
	MetaOutDim     = "out_dim"
	MetaMethod     = "method"
	MetaRunID      = "run_id"
	MetaDataset    = "dataset"
	MetaTransfer   = "transfer"
	MetaEpochs     = "epochs"
)

// FormatTag is the "format" metadata value ("pt" is what PyTorch tools
// expect for state_dict tensors).
const FormatTag = "pt"

func (w WeightsInfo) metadata() map[string]string {
	m := map[string]string{MetaFormat: FormatTag, MetaBackbone: w.Backbone, MetaInChannels: strconv.Itoa(w.InChannels)}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if w.OutDim > 0 {
		put(MetaOutDim, strconv.Itoa(w.OutDim))
	}
	put(MetaMethod, w.Method)
	put(MetaRunID, w.RunID)
	put(MetaDataset, w.Dataset)
	put(MetaTransfer, strings.Join(w.Transfer, ","))
	if w.Epochs > 0 {
		put(MetaEpochs, strconv.Itoa(w.Epochs))
	}
	return m
}

func infoFromMetadata(m map[string]string) WeightsInfo {
	w := WeightsInfo{Backbone: m[MetaBackbone], Method: m[MetaMethod], RunID: m[MetaRunID], Dataset: m[MetaDataset]}
	w.InChannels, _ = strconv.Atoi(m[MetaInChannels])
	w.OutDim, _ = strconv.Atoi(m[MetaOutDim])
	w.Epochs, _ = strconv.Atoi(m[MetaEpochs])
	if t := m[MetaTransfer]; t != "" {
		w.Transfer = strings.Split(t, ",")
	}
	return w
}

// TorchTensors returns m's params then buffers as safetensors tensors named
// as PyTorch's state_dict (models.TorchName); the data is shared, not copied.
func TorchTensors(m nn.Module) ([]safetensors.Tensor, error) {
	var out []safetensors.Tensor
	for _, p := range append(slices.Clone(m.Params()), m.Buffers()...) {
		name, err := models.TorchName(p.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, safetensors.Tensor{Name: name, Shape: p.T.Shape(), Data: p.T.Data})
	}
	return out, nil
}

// SaveSafetensors writes m's weights and BN running statistics to path
// (atomically) with info as metadata.
func SaveSafetensors(path string, m nn.Module, info WeightsInfo) error {
	ts, err := TorchTensors(m)
	if err != nil {
		return fmt.Errorf("export %s: %w", info.Backbone, err)
	}
	return safetensors.WriteFile(path, ts, info.metadata())
}

// LoadSafetensors builds a backbone from a safetensors file with PyTorch
// names. backbone names the architecture; empty means the file's
// "backbone" metadata. The input channels come from the metadata or, when
// absent, from conv1's (or layer1's) weight. Every tensor of the model must
// be in the file with its shape; the file may hold nothing else but
// num_batches_tracked entries (ignored).
func LoadSafetensors(path, backbone string, newBackbone BackboneFunc) (nn.Module, WeightsInfo, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, WeightsInfo{}, err
	}
	info := infoFromMetadata(f.Metadata)
	switch {
	case backbone == "" && info.Backbone == "":
		return nil, info, fmt.Errorf("%s records no backbone in its metadata: name it with --backbone (%s)", path, strings.Join(models.Names(), ", "))
	case backbone != "" && info.Backbone != "" && !strings.EqualFold(backbone, info.Backbone):
		return nil, info, fmt.Errorf("%s holds a %s backbone, not %s", path, info.Backbone, backbone)
	case backbone != "":
		info.Backbone = backbone
	}
	if info.InChannels <= 0 {
		for _, n := range []string{"conv1.weight", "layer1.0.weight"} {
			if t, ok := f.Get(n); ok && len(t.Shape) == 4 {
				info.InChannels = t.Shape[1]
				break
			}
		}
		if info.InChannels <= 0 {
			return nil, info, fmt.Errorf("%s: no in_channels metadata and no conv1.weight to read it from", path)
		}
	}
	if newBackbone == nil {
		newBackbone = defaultBackbone
	}
	m, err := newBackbone(info.Backbone, info.InChannels, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, info, err
	}
	used := map[string]bool{}
	for _, p := range append(slices.Clone(m.Params()), m.Buffers()...) {
		name, err := models.TorchName(p.Name)
		if err != nil {
			return nil, info, err
		}
		t, ok := f.Get(name)
		if !ok {
			return nil, info, fmt.Errorf("%s has no tensor %s, which a %s backbone with %d input channels needs (another architecture?)", path, name, info.Backbone, info.InChannels)
		}
		if !slices.Equal(t.Shape, p.T.Shape()) {
			return nil, info, fmt.Errorf("%s: tensor %s has shape %v, a %s backbone with %d input channels needs %v (another architecture?)", path, name, t.Shape, info.Backbone, info.InChannels, p.T.Shape())
		}
		copy(p.T.Data, t.Data)
		used[name] = true
	}
	for _, t := range f.Tensors {
		if !used[t.Name] && !strings.HasSuffix(t.Name, "num_batches_tracked") {
			return nil, info, fmt.Errorf("%s: tensor %s is not part of a %s backbone (another architecture?)", path, t.Name, info.Backbone)
		}
	}
	if info.OutDim == 0 {
		if b, ok := m.(models.Backbone); ok {
			info.OutDim = b.OutDim()
		}
	}
	return m, info, nil
}

func defaultBackbone(name string, c int, rng *rand.Rand) (nn.Module, error) {
	return models.New(name, c, rng)
}

// LoadRun builds the backbone a run trained from RUN_DIR/config.json and
// the latest checkpoint in RUN_DIR (the online backbone, not the target),
// with its BN running statistics. newBackbone nil means models.New.
func LoadRun(runDir string, newBackbone BackboneFunc) (nn.Module, results.RunConfig, WeightsInfo, error) {
	var cfg results.RunConfig
	if err := results.ReadJSON(filepath.Join(runDir, results.ConfigFile), &cfg); err != nil {
		return nil, cfg, WeightsInfo{}, fmt.Errorf("%s is not a run folder (results/runs/<id>): %w", runDir, err)
	}
	ckpt := filepath.Join(runDir, results.CheckpointFile)
	c, f, err := loadCheckpoint(ckpt)
	if err != nil {
		if err == errNoCheckpoint {
			return nil, cfg, WeightsInfo{}, fmt.Errorf("run %s has no checkpoint (%s): it has not trained an epoch yet", cfg.ID, ckpt)
		}
		return nil, cfg, WeightsInfo{}, err
	}
	info := WeightsInfo{Backbone: cfg.Backbone, Method: cfg.Method, RunID: cfg.ID, Dataset: cfg.Dataset,
		Transfer: sweep.Config{Dataset: cfg.Dataset, Transfer: cfg.Transfer}.TransferDatasets(), Epochs: c.Epoch}
	for _, p := range f.Params {
		if strings.HasPrefix(p.Name, "backbone/") {
			if s := p.T.Shape(); len(s) == 4 {
				info.InChannels = s[1]
			}
			break
		}
	}
	if info.InChannels == 0 {
		return nil, cfg, info, fmt.Errorf("%s: cannot tell the input channels (its first backbone tensor is not a convolution weight)", ckpt)
	}
	if newBackbone == nil {
		newBackbone = defaultBackbone
	}
	m, err := newBackbone(cfg.Backbone, info.InChannels, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, cfg, info, err
	}
	if err := restoreTensors(ckpt, f, []ckptGroup{{Name: "backbone", Params: m.Params()}}, []ckptGroup{{Name: "backbone", Params: m.Buffers()}}, nil); err != nil {
		return nil, cfg, info, err
	}
	if b, ok := m.(models.Backbone); ok {
		info.OutDim = b.OutDim()
	}
	return m, cfg, info, nil
}

// EvalData is the datasets an evaluation runs on: the main dataset's train
// and test splits (after the limits) and the transfer datasets.
type EvalData struct {
	s *splitSet
}

// EvalDataConfig says what to evaluate on; as a sweep's fields of the same name.
type EvalDataConfig struct {
	Dataset               string
	Transfer              []string // "none" or empty: no transfer probes
	TrainLimit, TestLimit int
}

// OpenEvalData opens the datasets of cfg with open, as a sweep does.
func OpenEvalData(ctx context.Context, open DatasetFunc, cfg EvalDataConfig) (*EvalData, error) {
	r := &Runner{OpenDataset: open, Plan: &sweep.Plan{Config: sweep.Config{
		Dataset: cfg.Dataset, Transfer: cfg.Transfer, TrainLimit: cfg.TrainLimit, TestLimit: cfg.TestLimit,
	}}}
	s, err := r.openDatasets(ctx)
	if err != nil {
		return nil, err
	}
	return &EvalData{s: s}, nil
}

// Channels is the main dataset's image channel count.
func (d *EvalData) Channels() int { return d.s.channels }

// Transfer lists the transfer datasets in order.
func (d *EvalData) Transfer() []string { return slices.Clone(d.s.names) }

// Split returns the main dataset's "train" or "test" split.
func (d *EvalData) Split(name string) (data.Dataset, error) {
	switch name {
	case "train":
		return d.s.train, nil
	case "test", "":
		return d.s.test, nil
	}
	return nil, fmt.Errorf("unknown split %q: choose train or test", name)
}

// EvaluateBackbone runs the sweep's evaluation protocol on m: kNN monitor
// and linear probe on the main dataset (train split as bank/training set,
// test split as queries), linear probes on every transfer dataset; features
// from m in eval mode (BN running statistics). The same code computes the
// baselines of a sweep.
func EvaluateBackbone(ctx context.Context, m nn.Module, d *EvalData) (results.Baseline, error) {
	return evaluateFeatures(ctx, d.s, func(ctx context.Context, ds data.Dataset) (eval.Features, error) {
		return BackboneFeatures(ctx, m, ds)
	})
}

// SaveFeatures writes m's features of ds (eval mode, as the probes see
// them) to featuresPath as float32 (N,D) and the labels to labelsPath as
// int64 (N), both .npy v1.0.
func SaveFeatures(ctx context.Context, m nn.Module, ds data.Dataset, featuresPath, labelsPath string) (n, dim int, err error) {
	f, err := BackboneFeatures(ctx, m, ds)
	if err != nil {
		return 0, 0, err
	}
	if err := npy.SaveFloat32(featuresPath, f.Data, f.N, f.D); err != nil {
		return 0, 0, err
	}
	lab := make([]int64, f.N)
	for i, l := range f.Labels {
		lab[i] = int64(l)
	}
	if err := npy.SaveInt64(labelsPath, lab, f.N); err != nil {
		return 0, 0, err
	}
	return f.N, f.D, nil
}
