// Package optim holds the optimizers (SGD, LARS), the learning-rate
// schedule and the EMA update used for target networks.
//
// An optimizer works on parameter groups. Each step it reads every
// parameter's gradient (nil or zero gradients leave momentum decaying as in
// PyTorch) and updates the parameter in place. ZeroGrad clears gradients.
package optim

import (
	"fmt"
	"math"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/internal/parallel"
)

// Group is a set of parameters sharing optimisation settings.
type Group struct {
	Params []*nn.Param
	// LRScale multiplies the step's lr for this group; 0 means 1.
	LRScale float64
	// FixedLR makes the group ignore the scheduled lr and use LR (times
	// LRScale) every step: SimSiam's predictor keeps its lr undecayed.
	FixedLR bool
	// LR is the group's lr when FixedLR is set.
	LR float64
	// WeightDecay is the L2 penalty added to the gradient of every param
	// without NoDecay.
	WeightDecay float64
}

// lr returns the effective lr of the group for the scheduled lr.
func (g *Group) lr(sched float64) float64 {
	s := g.LRScale
	if s == 0 {
		s = 1
	}
	if g.FixedLR {
		return g.LR * s
	}
	return sched * s
}

// Optimizer is what SGD and LARS have in common.
type Optimizer interface {
	// Step updates every parameter using its gradient and the scheduled lr.
	Step(lr float64)
	// ZeroGrad zeroes every parameter's gradient.
	ZeroGrad()
	// State returns the optimizer's state as named tensors (momentum
	// buffers named "momentum/<param name>"), for checkpoints.
	State() []*nn.Param
	// SetState restores a State; a missing or mis-shaped entry is an error
	// naming it.
	SetState(state []*nn.Param) error
}

// base holds what both optimizers share: groups and momentum buffers.
type base struct {
	groups   []Group
	momentum float64
	bufs     map[*nn.Param][]float32
}

func newBase(groups []Group, momentum float64) (base, error) {
	seen := map[string]bool{}
	for gi, g := range groups {
		for _, p := range g.Params {
			if p == nil || p.T == nil {
				return base{}, fmt.Errorf("optim: group %d has a nil parameter", gi)
			}
			if seen[p.Name] {
				return base{}, fmt.Errorf("optim: parameter name %q appears twice; names must be unique (wrap modules in nn.NewSequential with distinct names)", p.Name)
			}
			seen[p.Name] = true
		}
	}
	return base{groups: groups, momentum: momentum, bufs: map[*nn.Param][]float32{}}, nil
}

// ZeroGrad zeroes every parameter's gradient.
func (b *base) ZeroGrad() {
	for _, g := range b.groups {
		nn.ZeroGrad(g.Params)
	}
}

// State returns the momentum buffers as "momentum/<name>" tensors, in group order.
func (b *base) State() []*nn.Param {
	var out []*nn.Param
	for _, g := range b.groups {
		for _, p := range g.Params {
			if buf, ok := b.bufs[p]; ok {
				out = append(out, &nn.Param{Name: "momentum/" + p.Name, T: nn.New(append([]float32(nil), buf...), p.T.Shape()...)})
			}
		}
	}
	return out
}

// SetState restores buffers saved by State.
func (b *base) SetState(state []*nn.Param) error {
	byName := map[string]*nn.Param{}
	for _, g := range b.groups {
		for _, p := range g.Params {
			byName["momentum/"+p.Name] = p
		}
	}
	bufs := map[*nn.Param][]float32{}
	for _, s := range state {
		p, ok := byName[s.Name]
		if !ok {
			return fmt.Errorf("optim: state entry %q matches no parameter of this optimizer", s.Name)
		}
		if s.T.Len() != p.T.Len() {
			return fmt.Errorf("optim: state entry %q has %d elements, parameter %q has %d", s.Name, s.T.Len(), p.Name, p.T.Len())
		}
		bufs[p] = append([]float32(nil), s.T.Data...)
	}
	b.bufs = bufs
	return nil
}

// update moves p one step, element by element over the cores (the split
// does not change a bit): d = ∇, or (∇ + w·p)·scale when decay; buf = μ·buf
// + d (buf = d on first use); p −= lr·(nesterov ? d + μ·buf : buf), or
// lr·d without momentum.
func (b *base) update(p *nn.Param, lr, w, scale float32, decay, nesterov bool) {
	mu := float32(b.momentum)
	var buf []float32
	first := false
	if b.momentum != 0 {
		var ok bool
		if buf, ok = b.bufs[p]; !ok {
			buf = make([]float32, p.T.Len())
			b.bufs[p] = buf
			first = true
		}
	}
	data, grad := p.T.Data, p.T.Grad[:len(p.T.Data)]
	parallel.For(len(data), updateGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := grad[i]
			if decay {
				d = (d + w*data[i]) * scale
			}
			upd := d
			if buf != nil {
				if first {
					buf[i] = d
				} else {
					buf[i] = mu*buf[i] + d
				}
				upd = buf[i]
				if nesterov {
					upd = d + mu*buf[i]
				}
			}
			data[i] -= lr * upd
		}
	})
}

// updateGrain is the smallest piece of a parameter worth a goroutine.
const updateGrain = 1 << 15

// ---------------------------------------------------------------------------
// SGD

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and weight decay, matching torch.optim.SGD:
// d = ∇ + wd·p; buf = μ·buf + d; p −= lr·(nesterov ? d + μ·buf : buf).
type SGD struct {
	base
	nesterov bool
}

// NewSGD returns an SGD optimizer; it panics on duplicate parameter names
// (a programmer error).
func NewSGD(groups []Group, momentum float64, nesterov bool) *SGD {
	b, err := newBase(groups, momentum)
	if err != nil {
		panic(err)
	}
	return &SGD{base: b, nesterov: nesterov}
}

// Step updates the parameters in place: one pass over each parameter,
// spread over the cores (the update is elementwise, so the split does not
// change a bit; serial, it was 2% of a ResNet-18 step on two cores).
func (o *SGD) Step(lr float64) {
	for gi := range o.groups {
		g := &o.groups[gi]
		glr := float32(g.lr(lr))
		for _, p := range g.Params {
			if p.T.Grad == nil {
				continue
			}
			decay := g.WeightDecay != 0 && !p.NoDecay
			o.update(p, glr, float32(g.WeightDecay), 1, decay, o.nesterov)
		}
	}
}

// ---------------------------------------------------------------------------
// LARS

// LARS is layer-wise adaptive rate scaling (You et al. 2017) in the form
// used by BYOL/SimCLR/solo-learn: for each parameter without NoDecay,
// d = (∇ + wd·p) · η‖p‖/(‖∇‖ + wd‖p‖ + 1e-8) when both norms are non-zero;
// parameters with NoDecay use d = ∇ (no decay, no adaptation). Then
// buf = μ·buf + d; p −= lr·buf.
type LARS struct {
	base
	eta float64
}

// NewLARS returns a LARS optimizer with trust coefficient eta (0.001 is
// customary); it panics on duplicate parameter names.
func NewLARS(groups []Group, momentum, eta float64) *LARS {
	b, err := newBase(groups, momentum)
	if err != nil {
		panic(err)
	}
	return &LARS{base: b, eta: eta}
}

// Step updates the parameters in place.
func (o *LARS) Step(lr float64) {
	for gi := range o.groups {
		g := &o.groups[gi]
		glr := float32(g.lr(lr))
		for _, p := range g.Params {
			if p.T.Grad == nil {
				continue
			}
			trust := 1.0
			if !p.NoDecay {
				pn, gn := norm(p.T.Data), norm(p.T.Grad)
				if pn > 0 && gn > 0 {
					trust = o.eta * pn / (gn + g.WeightDecay*pn + 1e-8)
				}
			}
			o.update(p, glr, float32(g.WeightDecay), float32(trust), !p.NoDecay, false)
		}
	}
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// ---------------------------------------------------------------------------
// schedule and EMA

// Cosine returns the learning rate at step (0-based) of total steps: a
// linear warm-up over the first warmup steps (lr = base·(step+1)/warmup),
// then a cosine decay from base to final:
// final + (base−final)·(1+cos(π·(step−warmup)/(total−warmup)))/2.
// Steps at or beyond total return final.
func Cosine(step, total, warmup int, base, final float64) float64 {
	if step < warmup {
		return base * float64(step+1) / float64(warmup)
	}
	if step >= total || total <= warmup {
		return final
	}
	p := float64(step-warmup) / float64(total-warmup)
	return final + (base-final)*(1+math.Cos(math.Pi*p))/2
}

// EMA sets target = m·target + (1−m)·online for matching parameters (same
// count, order and sizes), in place. A mismatch is an error naming the
// first offending pair.
func EMA(target, online []*nn.Param, m float64) error {
	if len(target) != len(online) {
		return fmt.Errorf("optim.EMA: target has %d tensors, online %d: build them from the same architecture", len(target), len(online))
	}
	mf, of := float32(m), float32(1-m)
	for i := range target {
		t, o := target[i].T, online[i].T
		if t.Len() != o.Len() {
			return fmt.Errorf("optim.EMA: %q has %d elements, online %q has %d", target[i].Name, t.Len(), online[i].Name, o.Len())
		}
		for j, v := range o.Data {
			t.Data[j] = mf*t.Data[j] + of*v
		}
	}
	return nil
}

// EMAModule updates target's parameters as EMA(target, online, m) and copies
// online's buffers (BN running statistics) into target's.
func EMAModule(target, online nn.Module, m float64) error {
	if err := EMA(target.Params(), online.Params(), m); err != nil {
		return err
	}
	tb, ob := target.Buffers(), online.Buffers()
	if len(tb) != len(ob) {
		return fmt.Errorf("optim.EMAModule: target has %d buffers, online %d", len(tb), len(ob))
	}
	for i := range tb {
		if tb[i].T.Len() != ob[i].T.Len() {
			return fmt.Errorf("optim.EMAModule: buffer %q has %d elements, online %q has %d", tb[i].Name, tb[i].T.Len(), ob[i].Name, ob[i].T.Len())
		}
		copy(tb[i].T.Data, ob[i].T.Data)
	}
	return nil
}

// CopyParams copies src's parameters and buffers into dst (same
// architecture): how a target network starts.
func CopyParams(dst, src nn.Module) error { return EMAModule(dst, src, 0) }
