package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/sdk"
)

// ErrDiverged marks a NaN or Inf in a step's backbone features, loss or
// feature gradients.
var ErrDiverged = errors.New("diverged")

// Trainee is what the host trains with a method: the backbone, its
// optimizer and, for a method whose spec asks for one, the target backbone
// (an EMA copy; nil otherwise).
type Trainee struct {
	Backbone nn.Module
	Target   nn.Module
	Opt      optim.Optimizer
}

// TrainStep is the host's half of one training step, the same for a sweep's
// runs and for the test kit: the backbone's features of each input (one
// per view, (N,C,H,W) or (N,I)) go to m as in.Views, the target's, without
// gradient, as in.Targets; the feature gradients m returns are
// back-propagated through the backbone, which the optimizer steps at
// in.LR; the target then moves towards the backbone by in.Momentum.
// in.Step, Epoch, LR, BaseLR and Momentum are the caller's; Views and
// Targets are set here. Non-finite features, loss or gradients are
// ErrDiverged; on any error the backbone and target are unchanged (but for
// BN statistics).
func TrainStep(ctx context.Context, m sdk.Method, tr Trainee, inputs []*nn.Tensor, in sdk.StepInput) (sdk.StepOutput, error) {
	feats := make([]*nn.Tensor, len(inputs))
	in.Views, in.Targets = make([]*nn.Tensor, len(inputs)), nil
	err := nn.Catch(func() {
		for i, x := range inputs {
			feats[i] = tr.Backbone.Forward(x)
			in.Views[i] = feats[i].Detach()
		}
		if tr.Target != nil {
			// the target's intermediate activations are recycled at once
			in.Targets = nn.NoGradRecycle(func() []*nn.Tensor {
				ts := make([]*nn.Tensor, len(inputs))
				for i, x := range inputs {
					ts[i] = tr.Target.Forward(x)
				}
				return ts
			})
		}
	})
	if err != nil {
		return sdk.StepOutput{}, fmt.Errorf("backbone forward at step %d: %w", in.Step, err)
	}
	for i, f := range feats {
		if !nn.Finite(f.Data) {
			return sdk.StepOutput{}, fmt.Errorf("%w: non-finite backbone features (view %d) at step %d, epoch %d", ErrDiverged, i, in.Step, in.Epoch+1)
		}
	}
	out, err := m.Step(ctx, in)
	if err != nil {
		return out, err
	}
	if math.IsNaN(out.Loss) || math.IsInf(out.Loss, 0) {
		return out, fmt.Errorf("%w: loss is %v at step %d, epoch %d", ErrDiverged, out.Loss, in.Step, in.Epoch+1)
	}
	if len(out.Grads) != len(feats) {
		return out, fmt.Errorf("the method returned %d gradients for %d views", len(out.Grads), len(feats))
	}
	for i, g := range out.Grads {
		if g == nil || g.Len() != feats[i].Len() {
			return out, fmt.Errorf("the method's gradient of view %d has the wrong size", i)
		}
		if !nn.Finite(g.Data) {
			return out, fmt.Errorf("%w: non-finite feature gradient (view %d) at step %d, epoch %d", ErrDiverged, i, in.Step, in.Epoch+1)
		}
	}
	err = nn.Catch(func() {
		// each view's activations go back to the engine's pool as its
		// backward pass moves down the network (nothing below reads them)
		for i, f := range feats {
			f.BackwardWithFree(out.Grads[i].Data)
		}
	})
	if err != nil {
		return out, fmt.Errorf("backbone backward at step %d: %w", in.Step, err)
	}
	tr.Opt.Step(in.LR)
	tr.Opt.ZeroGrad()
	// The target's outputs back to the engine's pool too (no allocation
	// or GC next step).
	for _, f := range in.Targets {
		f.FreeGraph()
	}
	if tr.Target != nil {
		if err := optim.EMAModule(tr.Target, tr.Backbone, in.Momentum); err != nil {
			return out, fmt.Errorf("target EMA: %w", err)
		}
	}
	return out, nil
}
