package kit

import (
	"fmt"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/sdk"
)

// LARSEta is the LARS trust coefficient heads use (BYOL's and SimCLR's 0.001).
const LARSEta = 0.001

// RunHyper returns the recipe a method's heads should train with: the
// host's for this run (cfg.Hyper, which carries bench run's --set
// overrides of optimizer, weight decay and momentum) when the host sent
// one, else the method's own spec (a host that predates InitConfig.Hyper).
func RunHyper(cfg sdk.InitConfig, spec sdk.Hyper) sdk.Hyper {
	if cfg.Hyper != (sdk.Hyper{}) {
		return cfg.Hyper
	}
	return spec
}

// HeadOptimizer updates a method's head parameters once per step with the
// optimizer the backbone trains with (an sdk.Hyper: optimizer, momentum,
// weight decay; pass RunHyper(cfg, spec.Hyper) so --set overrides reach the
// heads too), so heads and backbone follow the same recipe as in the
// papers, where one optimizer covers the whole network.
//
// Scheduled parameters use the host's scheduled lr (StepInput.LR); fixed
// parameters use the un-decayed lr (StepInput.BaseLR): SimSiam's predictor.
// Parameters marked NoDecay (biases, BN γ/β) get no weight decay and no LARS
// adaptation.
type HeadOptimizer struct {
	sched, fixed optim.Optimizer // fixed is nil without fixed-lr parameters
	fixedNames   map[string]bool
}

// NewHeadOptimizer returns the optimizer for scheduled and fixed-lr
// parameters under hyper h. An optimizer other than "sgd" (or "") and
// "lars" is an error, as is a parameter name used twice.
func NewHeadOptimizer(h sdk.Hyper, scheduled, fixed []*nn.Param) (*HeadOptimizer, error) {
	o := &HeadOptimizer{fixedNames: map[string]bool{}}
	seen := map[string]bool{}
	for _, p := range append(append([]*nn.Param(nil), scheduled...), fixed...) {
		if seen[p.Name] {
			return nil, fmt.Errorf("head optimizer: parameter %q appears twice; give heads distinct names", p.Name)
		}
		seen[p.Name] = true
	}
	for _, p := range fixed {
		o.fixedNames["momentum/"+p.Name] = true
	}
	mk := func(ps []*nn.Param) (optim.Optimizer, error) {
		g := []optim.Group{{Params: ps, WeightDecay: h.WeightDecay}}
		switch h.Optimizer {
		case "", "sgd":
			return optim.NewSGD(g, h.Momentum, false), nil
		case "lars":
			return optim.NewLARS(g, h.Momentum, LARSEta), nil
		}
		return nil, fmt.Errorf("head optimizer %q is not available for heads; use sgd or lars", h.Optimizer)
	}
	var err error
	if o.sched, err = mk(scheduled); err != nil {
		return nil, err
	}
	if len(fixed) > 0 {
		if o.fixed, err = mk(fixed); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ZeroGrad clears the gradients of every head parameter; call it before the
// forward pass of a step.
func (o *HeadOptimizer) ZeroGrad() {
	o.sched.ZeroGrad()
	if o.fixed != nil {
		o.fixed.ZeroGrad()
	}
}

// Step updates the parameters from their gradients: scheduled ones with
// in.LR, fixed ones with in.BaseLR (in.LR when BaseLR is 0). A parameter
// whose Grad is nil is left alone (no momentum, no decay): how SwAV freezes
// its prototypes.
func (o *HeadOptimizer) Step(in sdk.StepInput) {
	o.sched.Step(in.LR)
	if o.fixed != nil {
		lr := in.BaseLR
		if lr == 0 {
			lr = in.LR
		}
		o.fixed.Step(lr)
	}
}

// State returns the momentum buffers, named "momentum/<param name>".
func (o *HeadOptimizer) State() []*nn.Param {
	s := o.sched.State()
	if o.fixed != nil {
		s = append(s, o.fixed.State()...)
	}
	return s
}

// optimizerSection names the optimizer's section in a state blob.
const optimizerSection = "optimizer"

// Section returns State as the state blob section "optimizer", which
// Decoded.Restore reads back.
func (o *HeadOptimizer) Section() Section {
	return Section{Name: optimizerSection, Params: o.State()}
}

// SetState restores a State. An entry that names no parameter, or has the
// wrong size, is an error and nothing is changed.
func (o *HeadOptimizer) SetState(state []*nn.Param) error {
	var sched, fixed []*nn.Param
	for _, p := range state {
		if o.fixedNames[p.Name] {
			fixed = append(fixed, p)
		} else {
			sched = append(sched, p)
		}
	}
	if len(fixed) > 0 && o.fixed == nil {
		return fmt.Errorf("head optimizer state: %d fixed-lr entries but no fixed-lr parameters", len(fixed))
	}
	// optim's SetState is atomic per optimizer: set fixed, then sched, and
	// put fixed back if sched refuses its part.
	if o.fixed != nil {
		keep := o.fixed.State()
		if err := o.fixed.SetState(fixed); err != nil {
			return fmt.Errorf("head optimizer state: %w", err)
		}
		if err := o.sched.SetState(sched); err != nil {
			_ = o.fixed.SetState(keep)
			return fmt.Errorf("head optimizer state: %w", err)
		}
		return nil
	}
	if err := o.sched.SetState(sched); err != nil {
		return fmt.Errorf("head optimizer state: %w", err)
	}
	return nil
}
