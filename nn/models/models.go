// Package models holds the backbones the harness trains: the reference
// network of the engine benchmark, the CIFAR variant of ResNet-18 and a
// family of smaller ResNets for CPU-sized runs.
//
// Shape legend: N=batch, C=channels, H,W=spatial, D=output features.
// Every backbone maps (N,C,H,W) to (N,D) with D = OutDim(), ending in a
// global average pool; classification heads are added by the caller.
package models

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/siambench/siambench/nn"
)

// Backbone is a network producing a feature vector per image.
type Backbone interface {
	nn.Module
	// OutDim is D, the width of the output features.
	OutDim() int
}

// constructors maps a backbone name to its builder.
var constructors = map[string]func(inChannels int, rng *rand.Rand) Backbone{
	"refnet":         func(c int, r *rand.Rand) Backbone { return NewRefNet(c, r) },
	"resnet18-cifar": func(c int, r *rand.Rand) Backbone { return NewResNet(ResNet18CIFAR(c), r) },
	"resnet-small":   func(c int, r *rand.Rand) Backbone { return NewResNet(ResNetSmall(c), r) },
	"resnet-tiny":    func(c int, r *rand.Rand) Backbone { return NewResNet(ResNetTiny(c), r) },
}

// Names lists the backbone names New accepts, sorted.
func Names() []string {
	var ns []string
	for n := range constructors {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// New builds the named backbone for images with inChannels channels (1 or
// 3), initialised from rng. An unknown name or a bad channel count is an
// error listing what is valid.
func New(name string, inChannels int, rng *rand.Rand) (Backbone, error) {
	f, ok := constructors[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("unknown backbone %q: choose one of %s", name, strings.Join(Names(), ", "))
	}
	if inChannels < 1 {
		return nil, fmt.Errorf("backbone %s: input channels must be ≥ 1, got %d", name, inChannels)
	}
	if rng == nil {
		return nil, fmt.Errorf("backbone %s: nil random generator", name)
	}
	return f(inChannels, rng), nil
}

// rename prefixes the names of m's params and buffers and returns m.
func rename[M nn.Module](prefix string, m M) M {
	for _, p := range m.Params() {
		p.Name = prefix + "." + p.Name
	}
	for _, p := range m.Buffers() {
		p.Name = prefix + "." + p.Name
	}
	return m
}

// convBN is a bias-free convolution followed by BN: the unit of every
// backbone here.
type convBN struct {
	conv *nn.Conv2dLayer
	bn   *nn.BatchNormLayer
}

func newConvBN(rng *rand.Rand, name string, in, out, k, stride, pad int) *convBN {
	c := &convBN{
		conv: rename(name+".conv", nn.NewConv2d(rng, in, out, k, stride, pad, false).KaimingNormal(rng)),
		bn:   rename(name+".bn", nn.NewBatchNorm(out, true)),
	}
	return c
}

func (c *convBN) Forward(x *nn.Tensor) *nn.Tensor { return c.bn.Forward(c.conv.Forward(x)) }

// forwardReLU is ReLU(Forward(x)) with BN and ReLU fused.
func (c *convBN) forwardReLU(x *nn.Tensor) *nn.Tensor {
	b := c.bn
	return nn.BatchNormReLU(c.conv.Forward(x), b.Gamma.T, b.Beta.T, b.RunMean.T, b.RunVar.T, b.Training(), b.Momentum, b.Eps)
}

// forwardAddReLU is ReLU(Forward(x) + res) with BN, the sum and ReLU fused
// (the end of a residual block: one tensor kept for backward, not two).
func (c *convBN) forwardAddReLU(x, res *nn.Tensor) *nn.Tensor {
	b := c.bn
	return nn.BatchNormAddReLU(c.conv.Forward(x), res, b.Gamma.T, b.Beta.T, b.RunMean.T, b.RunVar.T, b.Training(), b.Momentum, b.Eps)
}

func (c *convBN) Params() []*nn.Param {
	return append(c.conv.Params(), c.bn.Params()...)
}
func (c *convBN) Buffers() []*nn.Param { return c.bn.Buffers() }
func (c *convBN) SetTraining(t bool)   { c.bn.SetTraining(t) }

// modules is a list of modules whose params/buffers/modes are combined.
type modules []nn.Module

func (ms modules) params() []*nn.Param {
	var ps []*nn.Param
	for _, m := range ms {
		ps = append(ps, m.Params()...)
	}
	return ps
}

func (ms modules) buffers() []*nn.Param {
	var ps []*nn.Param
	for _, m := range ms {
		ps = append(ps, m.Buffers()...)
	}
	return ps
}

func (ms modules) setTraining(t bool) {
	for _, m := range ms {
		m.SetTraining(t)
	}
}

// ---------------------------------------------------------------------------
// Reference network (DESIGN.md, Compute engine)

// RefNet is the engine benchmark's reference network:
// conv3x3(C→32, pad 1)-BN-ReLU → conv3x3(32→32)-BN-(+skip)-ReLU →
// conv3x3 stride 2 (32→64)-BN-ReLU → conv3x3(64→64)-BN-(+skip)-ReLU →
// global average pool → (N,64). Convolutions have no bias.
type RefNet struct {
	l1, l2, l3, l4 *convBN
}

// NewRefNet builds the reference backbone for inChannels-channel input.
func NewRefNet(inChannels int, rng *rand.Rand) *RefNet {
	return &RefNet{
		l1: newConvBN(rng, "layer1", inChannels, 32, 3, 1, 1),
		l2: newConvBN(rng, "layer2", 32, 32, 3, 1, 1),
		l3: newConvBN(rng, "layer3", 32, 64, 3, 2, 1),
		l4: newConvBN(rng, "layer4", 64, 64, 3, 1, 1),
	}
}

func (r *RefNet) all() modules { return modules{r.l1, r.l2, r.l3, r.l4} }

// Forward maps x (N,C,H,W) to (N,64).
func (r *RefNet) Forward(x *nn.Tensor) *nn.Tensor {
	h := r.l1.forwardReLU(x)
	h = r.l2.forwardAddReLU(h, h)
	h = r.l3.forwardReLU(h)
	h = r.l4.forwardAddReLU(h, h)
	return nn.GlobalAvgPool(h)
}

// OutDim is 64.
func (r *RefNet) OutDim() int { return 64 }

// Params lists conv weights and BN γ/β layer by layer.
func (r *RefNet) Params() []*nn.Param { return r.all().params() }

// Buffers lists the BN running statistics.
func (r *RefNet) Buffers() []*nn.Param { return r.all().buffers() }

// SetTraining switches every BN.
func (r *RefNet) SetTraining(t bool) { r.all().setTraining(t) }

// Classifier is a backbone followed by a linear layer to class logits.
type Classifier struct {
	Backbone Backbone
	Head     *nn.Linear
}

// NewClassifier puts Linear(OutDim→classes, with bias) on top of b.
func NewClassifier(b Backbone, classes int, rng *rand.Rand) *Classifier {
	return &Classifier{Backbone: b, Head: rename("fc", nn.NewLinear(rng, b.OutDim(), classes, true))}
}

// NewRefNetClassifier is the full reference network of DESIGN.md:
// RefNet then Linear(64→classes); train it with nn.CrossEntropy.
func NewRefNetClassifier(inChannels, classes int, rng *rand.Rand) *Classifier {
	return NewClassifier(NewRefNet(inChannels, rng), classes, rng)
}

// Forward maps x (N,C,H,W) to logits (N,classes).
func (c *Classifier) Forward(x *nn.Tensor) *nn.Tensor { return c.Head.Forward(c.Backbone.Forward(x)) }

// Params lists the backbone's params then the head's.
func (c *Classifier) Params() []*nn.Param {
	return append(c.Backbone.Params(), c.Head.Params()...)
}

// Buffers lists the backbone's buffers.
func (c *Classifier) Buffers() []*nn.Param { return c.Backbone.Buffers() }

// SetTraining sets the backbone's mode.
func (c *Classifier) SetTraining(t bool) { c.Backbone.SetTraining(t) }

// OutDim is the number of classes.
func (c *Classifier) OutDim() int { return c.Head.Out }

// ---------------------------------------------------------------------------
// ResNet

// ResNetConfig describes a CIFAR-style ResNet of basic blocks: a 3×3 stem
// (stride 1, no max-pool) to Widths[0], then one stage per width with
// Depths[i] blocks, the first block of every stage after the first with
// stride 2, then a global average pool (D = last width).
type ResNetConfig struct {
	InChannels int
	Widths     []int
	Depths     []int
	// ZeroInitResidual sets γ of the last BN in each block to 0, so every
	// block starts as the identity (Goyal et al. 2017; SimSiam's default).
	ZeroInitResidual bool
}

// ResNet18CIFAR is ResNet-18's CIFAR variant (widths 64-512, 2 blocks per
// stage, 512-d output).
func ResNet18CIFAR(in int) ResNetConfig {
	return ResNetConfig{InChannels: in, Widths: []int{64, 128, 256, 512}, Depths: []int{2, 2, 2, 2}}
}

// ResNetSmall has widths 32-256 and one block per stage (256-d output).
func ResNetSmall(in int) ResNetConfig {
	return ResNetConfig{InChannels: in, Widths: []int{32, 64, 128, 256}, Depths: []int{1, 1, 1, 1}}
}

// ResNetTiny has widths 16-64 and one block per stage (64-d output).
func ResNetTiny(in int) ResNetConfig {
	return ResNetConfig{InChannels: in, Widths: []int{16, 32, 64}, Depths: []int{1, 1, 1}}
}

// basicBlock: conv3x3(s)-BN-ReLU-conv3x3-BN, plus the shortcut (identity,
// or conv1x1(s)-BN when the shape changes), then ReLU.
type basicBlock struct {
	a, b, short *convBN // short nil for identity
}

func (bb *basicBlock) Forward(x *nn.Tensor) *nn.Tensor {
	s := x
	if bb.short != nil {
		s = bb.short.Forward(x)
	}
	return bb.b.forwardAddReLU(bb.a.forwardReLU(x), s)
}

func (bb *basicBlock) mods() modules {
	if bb.short != nil {
		return modules{bb.a, bb.b, bb.short}
	}
	return modules{bb.a, bb.b}
}
func (bb *basicBlock) Params() []*nn.Param  { return bb.mods().params() }
func (bb *basicBlock) Buffers() []*nn.Param { return bb.mods().buffers() }
func (bb *basicBlock) SetTraining(t bool)   { bb.mods().setTraining(t) }

// ResNet is a configurable CIFAR-style ResNet backbone.
type ResNet struct {
	cfg    ResNetConfig
	stem   *convBN
	blocks []*basicBlock
}

// NewResNet builds a ResNet from cfg. It panics on an empty or inconsistent
// config (a programmer error); use New for user-facing names.
func NewResNet(cfg ResNetConfig, rng *rand.Rand) *ResNet {
	if len(cfg.Widths) == 0 || len(cfg.Widths) != len(cfg.Depths) || cfg.InChannels < 1 {
		panic(fmt.Sprintf("models.NewResNet: need ≥1 stage, len(Widths)==len(Depths) and InChannels ≥ 1, got %+v", cfg))
	}
	r := &ResNet{cfg: cfg, stem: newConvBN(rng, "stem", cfg.InChannels, cfg.Widths[0], 3, 1, 1)}
	in := cfg.Widths[0]
	for s, w := range cfg.Widths {
		for d := 0; d < cfg.Depths[s]; d++ {
			stride := 1
			if s > 0 && d == 0 {
				stride = 2
			}
			name := fmt.Sprintf("stage%d.block%d", s+1, d)
			bb := &basicBlock{
				a: newConvBN(rng, name+".a", in, w, 3, stride, 1),
				b: newConvBN(rng, name+".b", w, w, 3, 1, 1),
			}
			if stride != 1 || in != w {
				bb.short = newConvBN(rng, name+".shortcut", in, w, 1, stride, 0)
			}
			if cfg.ZeroInitResidual {
				clear(bb.b.bn.Gamma.T.Data)
			}
			r.blocks = append(r.blocks, bb)
			in = w
		}
	}
	return r
}

func (r *ResNet) mods() modules {
	ms := modules{r.stem}
	for _, b := range r.blocks {
		ms = append(ms, b)
	}
	return ms
}

// Forward maps x (N,C,H,W) to (N,D).
func (r *ResNet) Forward(x *nn.Tensor) *nn.Tensor {
	h := r.stem.forwardReLU(x)
	for _, b := range r.blocks {
		h = b.Forward(h)
	}
	return nn.GlobalAvgPool(h)
}

// OutDim is the last stage's width.
func (r *ResNet) OutDim() int { return r.cfg.Widths[len(r.cfg.Widths)-1] }

// Config returns the configuration the network was built from.
func (r *ResNet) Config() ResNetConfig { return r.cfg }

// Params lists all parameters, stem first.
func (r *ResNet) Params() []*nn.Param { return r.mods().params() }

// Buffers lists all BN running statistics.
func (r *ResNet) Buffers() []*nn.Param { return r.mods().buffers() }

// SetTraining switches every BN.
func (r *ResNet) SetTraining(t bool) { r.mods().setTraining(t) }
