// Package sdk is all a method author imports besides nn: the Method
// interface a self-supervised method implements, and Serve, which turns a
// Method into a bench plugin process.
//
// The host (bench) owns the data, the backbone, its optimizer and the
// optional momentum target backbone. A Method owns only what differs between
// methods: its heads (projector, predictor, prototypes), its loss, its head
// optimizer and target-head EMA, and its options. Each training step the host
// sends the backbone features of every view; the method returns the loss and
// the gradient of the loss with respect to each view's features.
package sdk

import (
	"context"
	"math"

	"github.com/siambench/siambench/nn"
)

// ProtocolVersion is the plugin protocol version; host and plugin must agree.
// Bump it on any incompatible change to the wire protocol.
const ProtocolVersion = 1

// Spec describes a method: what it is, what it needs from the host, and what
// it recommends. The host reads it (bench list, bench run) before Init.
type Spec struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Paper       string `json:"paper"`       // citation, e.g. "Chen & He, CVPR 2021, arXiv:2011.10566"
	Description string `json:"description"` // one line

	// Views are the augmented views the method wants per image, in the order
	// their features arrive in StepInput.Views.
	Views []ViewSpec `json:"views"`

	// Target asks the host for a momentum (EMA) copy of the backbone whose
	// features arrive in StepInput.Targets (BYOL, MoCo).
	Target *TargetSpec `json:"target,omitempty"`

	// Negatives tells reports whether the loss uses negative pairs.
	Negatives bool `json:"negatives"`

	Hyper Hyper `json:"hyper"`

	Options []OptionSpec `json:"options"`
}

// ViewSpec is one group of identically-made views.
type ViewSpec struct {
	Count int `json:"count"`
	// Size is the side in pixels of the view; 0 means the dataset's image size.
	// A negative Size means a fraction of it: -N means size·N/100 (e.g. -50 is half).
	Size int `json:"size"`
	// Preset names the augmentation preset (data.Presets): "simsiam", "byol1",
	// "byol2", "simclr", "swav-global", "swav-local".
	Preset string `json:"preset"`
	// ScaleMin, ScaleMax override the preset's RandomResizedCrop scale range when non-zero.
	ScaleMin float64 `json:"scale_min,omitempty"`
	ScaleMax float64 `json:"scale_max,omitempty"`
}

// TargetSpec configures the host's momentum target backbone.
type TargetSpec struct {
	// BaseMomentum m0; the momentum at step k of K is
	// 1 − (1 − m0)·(cos(πk/K) + 1)/2 when Schedule is "cosine", m0 when "constant".
	BaseMomentum float64 `json:"base_momentum"`
	Schedule     string  `json:"schedule"`
}

// MomentumAt is the target momentum at step k of total: BaseMomentum when
// Schedule is "constant" or total ≤ 0, else the cosine schedule
// 1 − (1 − m0)·(cos(πk/total) + 1)/2, from m0 at k = 0 to 1 at k = total.
// The host's training loop and kittest both use it.
func (t TargetSpec) MomentumAt(k, total int) float64 {
	if t.Schedule == "constant" || total <= 0 {
		return t.BaseMomentum
	}
	return 1 - (1-t.BaseMomentum)*(math.Cos(math.Pi*float64(k)/float64(total))+1)/2
}

// Hyper are the method's recommended backbone optimisation settings; the user
// may override each with --set METHOD.KEY=VALUE.
type Hyper struct {
	Optimizer    string  `json:"optimizer"` // "sgd" or "lars"
	BaseLR       float64 `json:"base_lr"`   // lr = BaseLR · batch / LRBatchDiv
	LRBatchDiv   int     `json:"lr_batch_div"`
	WeightDecay  float64 `json:"weight_decay"`
	Momentum     float64 `json:"momentum"`
	WarmupEpochs int     `json:"warmup_epochs"`
}

// OptionSpec documents one method option.
type OptionSpec struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"` // "bool", "int", "float", "string", "enum"
	Default string   `json:"default"`
	Choices []string `json:"choices,omitempty"` // for "enum"
	Help    string   `json:"help"`
	// Min and Max bound the value of an "int" or "float" option; nil means
	// unbounded on that side. MinExclusive excludes Min itself (a
	// temperature must be > 0). The host checks them when it plans a sweep
	// (so --dry-run rejects what Init would) and ParseOptions checks them
	// again in the plugin.
	Min          *float64 `json:"min,omitempty"`
	Max          *float64 `json:"max,omitempty"`
	MinExclusive bool     `json:"min_exclusive,omitempty"`
}

// InitConfig is what the host tells a method before the first step.
type InitConfig struct {
	FeatureDim    int // D, the backbone's output width
	BatchSize     int // B, images per step
	StepsPerEpoch int
	TotalSteps    int
	Seed          int64
	Options       map[string]string // validated against Spec.Options by Init
	// Hyper is the recipe the host trains the backbone with in this run:
	// Spec.Hyper with the run's overrides applied (bench run --set
	// weight_decay=0, --set optimizer=lars, ...). Heads should follow it,
	// as kit.RunHyper does; it is the zero value from a host that does not
	// send it (before protocol field InitRequest.hyper).
	Hyper Hyper
}

// StepInput is one training step's input. Views[i] is (B, D): the backbone
// features of the i-th view of each image; Targets[i] is the target
// backbone's features of the same view (only when Spec.Target is set).
type StepInput struct {
	Step     int     // 0-based global step
	Epoch    int     // 0-based
	LR       float64 // the backbone's lr this step (after warm-up and decay)
	BaseLR   float64 // the backbone's lr before the schedule (for fixed-lr heads)
	Momentum float64 // target momentum this step (0 when no target)
	Views    []*nn.Tensor
	Targets  []*nn.Tensor
}

// StepOutput is a step's result. Grads[i] is ∂Loss/∂Views[i], the same shape.
// Metrics must include "output_std": the mean per-channel std of the
// method's l2-normalised output (the collapse monitor).
type StepOutput struct {
	Loss    float64
	Grads   []*nn.Tensor
	Metrics map[string]float64
}

// Method is a self-supervised learning method.
type Method interface {
	// Describe returns the method's spec; it must not depend on Init.
	Describe() Spec
	// Init builds the heads. An unknown option or a bad value is an error
	// that lists the valid options.
	Init(cfg InitConfig) error
	// Step computes the loss and feature gradients, and updates the method's
	// own parameters (heads, target heads). It should return ctx.Err() if ctx
	// ends before it finishes.
	Step(ctx context.Context, in StepInput) (StepOutput, error)
	// State serialises everything needed to continue identically after
	// SetState in a fresh process (parameters, optimizer state, RNG, queues).
	State() ([]byte, error)
	SetState(state []byte) error
}
