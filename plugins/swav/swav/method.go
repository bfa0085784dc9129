// Package swav is SwAV (Caron et al., NeurIPS 2020, arXiv:2006.09882) as a
// siambench method: projector, l2-normalised prototypes, Sinkhorn-Knopp
// codes on the global crops, swapped prediction over all crops, multi-crop,
// prototypes frozen during the first epoch(s), and an optional queue of past
// embeddings for small batches. See ../README.md.
package swav

import (
	"fmt"
	"math"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, E=dim (embedding), K=prototypes,
// V=crops (2 global + local), L=queue length.

// DefaultLocalCrops is the number of small crops New asks for: 2 (the
// paper uses 6 on ImageNet). Each costs a quarter of a global crop at half
// size; with 4 the default 2-core sweep took 12 minutes 3 seconds, over its
// 12-minute budget, for SwAV kNN 66.65 (docs/harness.md).
const DefaultLocalCrops = 2

// New returns an uninitialised SwAV asking for 2 global and
// DefaultLocalCrops local crops per image.
func New() kit.DetachedMethod { return NewWithLocalCrops(DefaultLocalCrops) }

// NewWithLocalCrops returns an uninitialised SwAV asking for 2 global and n
// local crops (n ≥ 0) per image. The crop count is part of the Spec, which
// must not depend on Init, hence a constructor rather than an option; a
// plugin main that wants 6 local crops calls sdk.Serve(swav.NewWithLocalCrops(6)).
func NewWithLocalCrops(n int) kit.DetachedMethod {
	return kit.NewDetachedMethod(spec(max(0, n)), build)
}

// spec is SwAV's spec: 2 × swav-global at full size and n × swav-local at
// half size, SGD settings for small batches (see README).
func spec(n int) sdk.Spec {
	views := []sdk.ViewSpec{{Count: 2, Preset: "swav-global"}}
	if n > 0 {
		views = append(views, sdk.ViewSpec{Count: n, Size: -50, Preset: "swav-local"})
	}
	return sdk.Spec{
		Name: "swav", Version: "1.1.0",
		Paper:       "Caron et al., Unsupervised Learning of Visual Features by Contrasting Cluster Assignments, NeurIPS 2020, arXiv:2006.09882",
		Description: "online clustering: Sinkhorn codes of the global crops predicted from every other crop; multi-crop, no negatives",
		Views:       views,
		Hyper:       sdk.Hyper{Optimizer: "sgd", BaseLR: 0.06, LRBatchDiv: 128, WeightDecay: 1e-6, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "prototypes", Type: "int", Default: "100", Min: new(2.0), Help: "number of prototypes K (paper 3000 for ImageNet)"},
			{Name: "dim", Type: "int", Default: "128", Min: new(1.0), Help: "embedding width (paper 128)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "projector hidden width (paper 2048)"},
			{Name: "temperature", Type: "float", Default: "0.1", Min: new(0.0), MinExclusive: true, Max: new(100.0), Help: "softmax temperature τ of the swapped prediction"},
			{Name: "epsilon", Type: "float", Default: "0.05", Min: new(0.0), MinExclusive: true, Max: new(100.0), Help: "Sinkhorn entropy regularisation ε"},
			{Name: "sinkhorn_iters", Type: "int", Default: "3", Min: new(1.0), Help: "Sinkhorn-Knopp iterations"},
			{Name: "freeze_epochs", Type: "int", Default: "1", Min: new(0.0), Help: "epochs during which the prototypes are not updated"},
			{Name: "queue", Type: "int", Default: "0", Min: new(0.0), Help: "embeddings of past batches kept per global crop (0 = no queue; use ≥ prototypes when the batch is smaller than K)"},
			{Name: "queue_start", Type: "int", Default: "0", Min: new(0.0), Help: "epoch from which the queue is filled and, once full, used"},
		},
	}
}

// model is SwAV's heads, its queue and its settings.
type model struct {
	temp, eps            float64
	iters, freeze        int
	queueLen, queueStart int
	proj                 *nn.Sequential // D→H→E
	protoHead            *nn.Sequential // holds protos, for the optimizer and the state
	protos               *nn.Param      // (K,E), rows l2-normalised at each step
	// queue holds the last L embeddings of each global crop, newest first,
	// once in.Epoch ≥ queue_start (nil when queue = 0); fill is the number
	// of rows that hold embeddings, as a 1-element tensor so the state saves
	// it with the queue.
	queue [2]*nn.Tensor
	fill  *nn.Tensor
	// pending are this step's global-crop embeddings (2N,E), the codes'
	// input, which AfterStep pushes into the queue.
	pending []float32
}

// build makes the projector and prototypes from the run's seed.
func build(b *kit.Build) (kit.DetachedModel, error) {
	k, dim, hidden := b.IntAtLeast("prototypes", 2), b.IntAtLeast("dim", 1), b.IntAtLeast("hidden", 1)
	m := &model{
		iters: b.IntAtLeast("sinkhorn_iters", 1), freeze: b.IntAtLeast("freeze_epochs", 0),
		queueLen: b.IntAtLeast("queue", 0), queueStart: b.IntAtLeast("queue_start", 0),
		temp: b.FloatIn("temperature", 0, 100), eps: b.FloatIn("epsilon", 0, 100),
	}
	if b.Err != nil {
		return nil, b.Err
	}
	if m.queueLen > 0 && m.queueLen < b.Config.BatchSize {
		return nil, b.Opts.Invalid("queue", fmt.Sprintf("must be 0 or at least the batch size %d", b.Config.BatchSize))
	}
	rng := b.RNG(0x5a7)
	var err error
	if m.proj, err = kit.NewMLP(rng, "projector", b.Config.FeatureDim,
		kit.Layer{Out: hidden, BN: kit.Affine, ReLU: true}, kit.Layer{Out: dim, BN: kit.NoBN}); err != nil {
		return nil, err
	}
	// Prototypes: nn.Linear(dim, K, bias=False) in the official code.
	lin := nn.NewLinear(rng, dim, k, false)
	m.protoHead, m.protos = nn.NewSequential("prototypes", lin), lin.Weight
	if m.queueLen > 0 {
		m.queue = [2]*nn.Tensor{nn.Zeros(m.queueLen, dim), nn.Zeros(m.queueLen, dim)}
		m.fill = nn.Zeros(1)
	}
	return m, nil
}

// Heads: the projector and the prototypes are trained at the scheduled lr;
// the queue is state.
func (m *model) Heads() kit.HeadSet {
	h := kit.HeadSet{Train: []*nn.Sequential{m.proj, m.protoHead}}
	if m.queueLen > 0 {
		h.State = []kit.Section{{Name: "queue", Params: []*nn.Param{
			{Name: "queue0", T: m.queue[0]}, {Name: "queue1", T: m.queue[1]}, {Name: "fill", T: m.fill}}}}
	}
	return h
}

// Loss is the swapped prediction over all crops, with codes from the
// global crops' embeddings.
func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) { return m.loss(in, nil) }

// LossDetached computes the codes (and the queue's new entries) from
// detached instead of in.Views.
func (m *model) LossDetached(in sdk.StepInput, detached []*nn.Tensor) (kit.Loss, error) {
	return m.loss(in, detached)
}

func (m *model) loss(in sdk.StepInput, detached []*nn.Tensor) (kit.Loss, error) {
	b := in.Views[0].Dim(0)
	if m.queueLen > 0 && b > m.queueLen {
		return kit.Loss{}, fmt.Errorf("%w: batch of %d is larger than the queue (%d): raise option queue", sdk.ErrBadInput, b, m.queueLen)
	}
	if f := m.queueFill(); f < 0 || f > m.queueLen {
		return kit.Loss{}, fmt.Errorf("%w: swav state: queue fill %d outside [0, %d]", sdk.ErrBadInput, f, m.queueLen)
	}
	sizes := make([]int, len(in.Views))
	for i := range sizes {
		sizes[i] = b
	}
	m.normalizePrototypes()
	protos := m.protos.T
	if in.Epoch < m.freeze {
		// Frozen: no gradient reaches the prototypes, and the optimizer
		// leaves a parameter without gradient alone.
		protos, m.protos.T.Grad = protos.Detach(), nil
	}
	z := nn.L2Normalize(m.proj.Forward(nn.Concat(in.Views)), 1e-12) // (V·N,E)
	scores := nn.Split(nn.MatMul(z, protos, false, true), sizes...)

	// Codes of the global crops, without gradient, from the same
	// embeddings or (detached mode) from the detached features.
	zc := z
	if detached != nil {
		nn.NoGrad(func() { zc = nn.L2Normalize(kit.ForwardKeepStats(m.proj, nn.Concat(detached)), 1e-12) })
	}
	e := zc.Dim(1)
	queueUsed := 0.0
	if m.queueFull() {
		queueUsed = 1
	}
	codes := make([][]float32, 2)
	var used float64
	for i := range codes {
		codes[i] = m.assign(i, zc.Data[i*b*e:(i+1)*b*e], b)
		used += protoUsage(codes[i], b, m.protos.T.Dim(0)) / 2
	}
	m.pending = nil
	if m.queueLen > 0 && in.Epoch >= m.queueStart {
		m.pending = zc.Data[:2*b*e]
	}
	zg := nn.New(z.Data[:2*b*e], 2*b, e) // normalised embeddings of the global crops
	return kit.Loss{
		Value:   SwappedLoss(scores, codes, m.temp),
		Outputs: []*nn.Tensor{zg},
		Metrics: map[string]float64{
			"prototypes_used": used,      // fraction of prototypes that are some image's top code
			"queue_used":      queueUsed, // 1 when this step's codes used the queue
		},
	}, nil
}

// AfterStep pushes the step's global-crop embeddings into the queue: shift
// by one batch and put the newest first.
func (m *model) AfterStep(in sdk.StepInput) {
	if m.pending == nil {
		return
	}
	b := in.Views[0].Dim(0)
	n := len(m.pending) / 2
	for i := 0; i < 2; i++ {
		q := m.queue[i].Data
		copy(q[n:], q[:len(q)-n])
		copy(q[:n], m.pending[i*n:(i+1)*n])
	}
	m.fill.Data[0] = float32(min(m.queueLen, m.queueFill()+b))
	m.pending = nil
}

// normalizePrototypes l2-normalises the prototype rows in place (SwAV does
// this at the start of every iteration, outside the graph).
func (m *model) normalizePrototypes() {
	k, e := m.protos.T.Dim(0), m.protos.T.Dim(1)
	w := m.protos.T.Data
	for r := 0; r < k; r++ {
		row := w[r*e : (r+1)*e]
		var s float64
		for _, x := range row {
			s += float64(x) * float64(x)
		}
		n := math.Max(math.Sqrt(s), 1e-12)
		for j := range row {
			row[j] = float32(float64(row[j]) / n)
		}
	}
}

func (m *model) queueFill() int {
	if m.fill == nil {
		return 0
	}
	return int(m.fill.Data[0])
}

func (m *model) queueFull() bool { return m.queueLen > 0 && m.queueFill() == m.queueLen }

// assign returns the Sinkhorn codes (N,K) of global crop i's embeddings
// emb (N,E). Once the queue is full its L embeddings go in front of the
// batch (the official code uses the queue once its last row is non-zero)
// and only the batch's rows of the codes are kept.
func (m *model) assign(i int, emb []float32, b int) []float32 {
	k, e := m.protos.T.Dim(0), m.protos.T.Dim(1)
	rows, n := emb, b
	if m.queueFull() {
		rows = append(append([]float32(nil), m.queue[i].Data...), emb...)
		n = m.queueLen + b
	}
	var s *nn.Tensor
	nn.NoGrad(func() { s = nn.MatMul(nn.New(rows, n, e), m.protos.T, false, true) })
	q := Sinkhorn(s.Data, n, k, m.eps, m.iters)
	return q[(n-b)*k:]
}

// protoUsage is the fraction of the K prototypes that are the top code of
// at least one of the N rows of q.
func protoUsage(q []float32, n, k int) float64 {
	hit := make([]bool, k)
	for r := 0; r < n; r++ {
		best := 0
		for j := 1; j < k; j++ {
			if q[r*k+j] > q[r*k+best] {
				best = j
			}
		}
		hit[best] = true
	}
	c := 0
	for _, h := range hit {
		if h {
			c++
		}
	}
	return float64(c) / float64(k)
}
