package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Param is a named tensor a module owns: a trainable parameter (Params) or
// a non-trainable buffer such as a BN running statistic (Buffers).
type Param struct {
	Name string
	T    *Tensor
	// NoDecay excludes the parameter from weight decay and from LARS
	// adaptation (BN γ/β and biases).
	NoDecay bool
}

// Module is a layer or a network.
type Module interface {
	// Forward applies the module to x.
	Forward(x *Tensor) *Tensor
	// Params returns the trainable parameters in a stable order with unique
	// names; the tensors require gradients.
	Params() []*Param
	// Buffers returns the non-trainable state (BN running statistics) in a
	// stable order with unique names.
	Buffers() []*Param
	// SetTraining switches between training (batch statistics) and
	// evaluation (running statistics) behaviour.
	SetTraining(training bool)
}

// ZeroGrad zeroes the gradients of params.
func ZeroGrad(params []*Param) {
	for _, p := range params {
		p.T.ZeroGrad()
	}
}

func newParam(name string, t *Tensor, noDecay bool) *Param {
	t.SetRequiresGrad(true)
	return &Param{Name: name, T: t, NoDecay: noDecay}
}

// ---------------------------------------------------------------------------
// Linear

// Linear is y = x·Wᵀ + b with x (N,In), W (Out,In), b (Out).
type Linear struct {
	In, Out int
	Weight  *Param // (Out,In)
	Bias    *Param // (Out) or nil
}

// NewLinear returns a Linear layer initialised like PyTorch's nn.Linear:
// weight and bias uniform in ±1/√in.
func NewLinear(rng *rand.Rand, in, out int, bias bool) *Linear {
	bound := float32(1 / math.Sqrt(float64(in)))
	l := &Linear{In: in, Out: out, Weight: newParam("weight", Uniform(rng, -bound, bound, out, in), false)}
	if bias {
		l.Bias = newParam("bias", Uniform(rng, -bound, bound, out), true)
	}
	return l
}

// Forward maps x (N,In) to (N,Out).
func (l *Linear) Forward(x *Tensor) *Tensor {
	if len(x.shape) != 2 || x.shape[1] != l.In {
		panic(shapeErrorf("Linear", [][]int{x.shape, l.Weight.T.shape}, "input must be (N,%d)", l.In))
	}
	y := MatMul(x, l.Weight.T, false, true)
	if l.Bias != nil {
		y = Add(y, l.Bias.T)
	}
	return y
}

// Params returns weight and, if present, bias.
func (l *Linear) Params() []*Param {
	if l.Bias != nil {
		return []*Param{l.Weight, l.Bias}
	}
	return []*Param{l.Weight}
}

// Buffers returns nil: Linear has no buffers.
func (l *Linear) Buffers() []*Param { return nil }

// SetTraining does nothing for Linear.
func (l *Linear) SetTraining(bool) {}

// ---------------------------------------------------------------------------
// BatchNorm

// BatchNormLayer is batch normalisation over (N,C) or (N,C,H,W) input with
// optional affine γ, β and running statistics.
type BatchNormLayer struct {
	Dim      int
	Momentum float32 // running-statistics momentum; 0.1 by default
	Eps      float32 // 1e-5 by default
	Gamma    *Param  // (Dim) or nil when not affine
	Beta     *Param  // (Dim) or nil when not affine
	RunMean  *Param  // (Dim) buffer
	RunVar   *Param  // (Dim) buffer
	training bool
}

// NewBatchNorm returns a BN layer over dim channels in training mode, with
// γ=1, β=0 when affine, running mean 0 and variance 1.
func NewBatchNorm(dim int, affine bool) *BatchNormLayer {
	b := &BatchNormLayer{Dim: dim, Momentum: 0.1, Eps: 1e-5, training: true,
		RunMean: &Param{Name: "running_mean", T: Zeros(dim)},
		RunVar:  &Param{Name: "running_var", T: Full(1, dim)},
	}
	if affine {
		b.Gamma = newParam("gamma", Full(1, dim), true)
		b.Beta = newParam("beta", Zeros(dim), true)
	}
	return b
}

// Forward normalises x; see BatchNorm.
func (b *BatchNormLayer) Forward(x *Tensor) *Tensor {
	var g, be *Tensor
	if b.Gamma != nil {
		g, be = b.Gamma.T, b.Beta.T
	}
	return BatchNorm(x, g, be, b.RunMean.T, b.RunVar.T, b.training, b.Momentum, b.Eps)
}

// Params returns γ and β when affine.
func (b *BatchNormLayer) Params() []*Param {
	if b.Gamma == nil {
		return nil
	}
	return []*Param{b.Gamma, b.Beta}
}

// Buffers returns the running mean and variance.
func (b *BatchNormLayer) Buffers() []*Param { return []*Param{b.RunMean, b.RunVar} }

// SetTraining selects batch (true) or running (false) statistics.
func (b *BatchNormLayer) SetTraining(t bool) { b.training = t }

// Training reports the current mode.
func (b *BatchNormLayer) Training() bool { return b.training }

// ---------------------------------------------------------------------------
// Func: parameter-free modules

// Func wraps a parameter-free function (ReLU, flatten, pooling) as a Module.
type Func struct {
	Name string
	F    func(*Tensor) *Tensor
}

// NewReLU returns ReLU as a Module.
func NewReLU() *Func { return &Func{Name: "relu", F: ReLU} }

// Forward applies F.
func (f *Func) Forward(x *Tensor) *Tensor { return f.F(x) }

// Params returns nil.
func (f *Func) Params() []*Param { return nil }

// Buffers returns nil.
func (f *Func) Buffers() []*Param { return nil }

// SetTraining does nothing.
func (f *Func) SetTraining(bool) {}

// ---------------------------------------------------------------------------
// Sequential

// Sequential applies modules in order. NewSequential prefixes the names of
// its children's params and buffers with "name.i." (i the child's index),
// so names are unique however modules are nested.
type Sequential struct {
	Name    string
	Modules []Module
}

// NewSequential chains mods and renames their params/buffers (see Sequential).
func NewSequential(name string, mods ...Module) *Sequential {
	s := &Sequential{Name: name, Modules: mods}
	for i, m := range mods {
		prefix := fmt.Sprintf("%d.", i)
		if name != "" {
			prefix = name + "." + prefix
		}
		for _, p := range m.Params() {
			p.Name = prefix + p.Name
		}
		for _, p := range m.Buffers() {
			p.Name = prefix + p.Name
		}
	}
	return s
}

// Forward applies each module in turn.
func (s *Sequential) Forward(x *Tensor) *Tensor {
	for _, m := range s.Modules {
		x = m.Forward(x)
	}
	return x
}

// Params concatenates the children's params in order.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, m := range s.Modules {
		ps = append(ps, m.Params()...)
	}
	return ps
}

// Buffers concatenates the children's buffers in order.
func (s *Sequential) Buffers() []*Param {
	var ps []*Param
	for _, m := range s.Modules {
		ps = append(ps, m.Buffers()...)
	}
	return ps
}

// SetTraining sets the mode of every child.
func (s *Sequential) SetTraining(t bool) {
	for _, m := range s.Modules {
		m.SetTraining(t)
	}
}

// ---------------------------------------------------------------------------
// MLP builder

// ---------------------------------------------------------------------------
// Conv2d

// Conv2dLayer is a 2-D convolution module; see Conv2d.
type Conv2dLayer struct {
	In, Out, K, Stride, Pad int
	Weight                  *Param // (Out,In,K,K)
	Bias                    *Param // (Out) or nil
}

// NewConv2d returns a k×k convolution initialised like PyTorch's default
// (uniform in ±1/√(in·k·k) for weight and bias).
func NewConv2d(rng *rand.Rand, in, out, k, stride, pad int, bias bool) *Conv2dLayer {
	bound := float32(1 / math.Sqrt(float64(in*k*k)))
	l := &Conv2dLayer{In: in, Out: out, K: k, Stride: stride, Pad: pad,
		Weight: newParam("weight", Uniform(rng, -bound, bound, out, in, k, k), false)}
	if bias {
		l.Bias = newParam("bias", Uniform(rng, -bound, bound, out), true)
	}
	return l
}

// KaimingNormal re-initialises the weight with N(0, 2/(Out·K·K)) (He
// normal, fan-out, as torchvision's ResNets) and zeroes the bias; it
// returns l.
func (l *Conv2dLayer) KaimingNormal(rng *rand.Rand) *Conv2dLayer {
	std := math.Sqrt(2 / float64(l.Out*l.K*l.K))
	for i := range l.Weight.T.Data {
		l.Weight.T.Data[i] = float32(rng.NormFloat64() * std)
	}
	if l.Bias != nil {
		clear(l.Bias.T.Data)
	}
	return l
}

// Forward convolves x (N,In,H,W).
func (l *Conv2dLayer) Forward(x *Tensor) *Tensor {
	var b *Tensor
	if l.Bias != nil {
		b = l.Bias.T
	}
	return Conv2d(x, l.Weight.T, b, l.Stride, l.Pad)
}

// Params returns weight and, if present, bias.
func (l *Conv2dLayer) Params() []*Param {
	if l.Bias != nil {
		return []*Param{l.Weight, l.Bias}
	}
	return []*Param{l.Weight}
}

// Buffers returns nil.
func (l *Conv2dLayer) Buffers() []*Param { return nil }

// SetTraining does nothing for convolutions.
func (l *Conv2dLayer) SetTraining(bool) {}
