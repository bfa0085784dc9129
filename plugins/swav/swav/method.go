// Package swav is SwAV (Caron et al., NeurIPS 2020, arXiv:2006.09882) as a
// siambench method: projector, l2-normalised prototypes, Sinkhorn-Knopp
// codes on the global crops, swapped prediction over all crops, multi-crop,
// prototypes frozen during the first epoch(s), and an optional queue of past
// embeddings for small batches. See ../README.md.
package swav

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"

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

// Method is SwAV. The zero value is not usable; call New, then Init.
type Method struct {
	nLocal int // local crops per image; fixed at construction (it shapes the Spec)

	opts                 kit.Options
	temp, eps            float64
	iters, freeze        int
	queueLen, queueStart int
	proj                 *nn.Sequential // D→H→E
	protos               *nn.Param      // (K,E), rows l2-normalised at each step
	opt                  *kit.HeadOptimizer
	queue                [2]*nn.Tensor // (L,E) per global crop, newest first; nil until queue_start
	queueFill            int           // rows of the queue holding embeddings
	steps                int64
}

var (
	_ sdk.Method          = (*Method)(nil)
	_ sdk.DetachedStepper = (*Method)(nil)
)

// New returns an uninitialised SwAV asking for 2 global and
// DefaultLocalCrops local crops per image.
func New() *Method { return &Method{nLocal: DefaultLocalCrops} }

// NewWithLocalCrops returns an uninitialised SwAV asking for 2 global and n
// local crops (n ≥ 0) per image. The crop count is part of the Spec, which
// must not depend on Init, hence a constructor rather than an option; a
// plugin main that wants 6 local crops calls sdk.Serve(swav.NewWithLocalCrops(6)).
func NewWithLocalCrops(n int) *Method { return &Method{nLocal: max(0, n)} }

// Describe returns SwAV's spec: 2 × swav-global at full size and N ×
// swav-local at half size, SGD settings for small batches (see README).
func (m *Method) Describe() sdk.Spec {
	views := []sdk.ViewSpec{{Count: 2, Preset: "swav-global"}}
	if m.nLocal > 0 {
		views = append(views, sdk.ViewSpec{Count: m.nLocal, Size: -50, Preset: "swav-local"})
	}
	return sdk.Spec{
		Name: "swav", Version: "1.0.0",
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

// Init parses the options and builds the projector and prototypes from cfg.Seed.
func (m *Method) Init(cfg sdk.InitConfig) error {
	o, err := kit.ParseOptions(m.Describe().Options, cfg.Options)
	if err != nil {
		return err
	}
	c := o.Check()
	k, dim, hidden := c.IntAtLeast("prototypes", 2), c.IntAtLeast("dim", 1), c.IntAtLeast("hidden", 1)
	iters, freeze := c.IntAtLeast("sinkhorn_iters", 1), c.IntAtLeast("freeze_epochs", 0)
	queue, queueStart := c.IntAtLeast("queue", 0), c.IntAtLeast("queue_start", 0)
	temp, eps := c.FloatIn("temperature", 0, 100), c.FloatIn("epsilon", 0, 100)
	if c.Err != nil {
		return c.Err
	}
	if queue > 0 && queue < cfg.BatchSize {
		return o.Invalid("queue", fmt.Sprintf("must be 0 or at least the batch size %d", cfg.BatchSize))
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5a7))
	proj, err := kit.NewMLP(rng, "projector", cfg.FeatureDim,
		kit.Layer{Out: hidden, BN: kit.Affine, ReLU: true}, kit.Layer{Out: dim, BN: kit.NoBN})
	if err != nil {
		return err
	}
	// Prototypes: nn.Linear(dim, K, bias=False) in the official code.
	bound := float32(1 / math.Sqrt(float64(dim)))
	protos := &nn.Param{Name: "prototypes", T: nn.Uniform(rng, -bound, bound, k, dim).SetRequiresGrad(true)}
	opt, err := kit.NewHeadOptimizer(kit.RunHyper(cfg, m.Describe().Hyper), append(proj.Params(), protos), nil)
	if err != nil {
		return err
	}
	*m = Method{nLocal: m.nLocal, opts: o, temp: temp, eps: eps, iters: iters,
		freeze: freeze, queueLen: queue, queueStart: queueStart,
		proj: proj, protos: protos, opt: opt}
	return nil
}

// Step computes the loss and feature gradients and updates the heads.
func (m *Method) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	return m.step(ctx, in, nil)
}

// StepDetached computes the codes (and the queue's new entries) from
// detached instead of in.Views (sdk.DetachedStepper).
func (m *Method) StepDetached(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	return m.step(ctx, in, detached)
}

func (m *Method) step(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	if m.proj == nil {
		return sdk.StepOutput{}, fmt.Errorf("%w: Step before Init", sdk.ErrBadInput)
	}
	b := in.Views[0].Dim(0)
	if b < 2 {
		return sdk.StepOutput{}, fmt.Errorf("%w: batch of %d: SwAV's BatchNorm projector and Sinkhorn need at least 2 images per step", sdk.ErrBadInput, b)
	}
	if m.queueLen > 0 && b > m.queueLen {
		return sdk.StepOutput{}, fmt.Errorf("%w: batch of %d is larger than the queue (%d): raise option queue", sdk.ErrBadInput, b, m.queueLen)
	}
	v := len(in.Views)
	sizes := make([]int, v)
	for i := range sizes {
		sizes[i] = b
	}
	m.normalizePrototypes()
	m.opt.ZeroGrad()

	x := kit.Leaves(in.Views)
	z := nn.L2Normalize(m.proj.Forward(nn.Concat(x)), 1e-12) // (V·N,E)
	scores := nn.Split(nn.MatMul(z, m.protos.T, false, true), sizes...)

	// Codes of the global crops, without gradient, from the same
	// embeddings or (detached mode) from the detached features.
	zc := z
	if detached != nil {
		nn.NoGrad(func() { zc = nn.L2Normalize(kit.ForwardKeepStats(m.proj, nn.Concat(detached)), 1e-12) })
	}
	if m.queueLen > 0 && in.Epoch >= m.queueStart && m.queue[0] == nil {
		e := m.protos.T.Dim(1)
		m.queue = [2]*nn.Tensor{nn.Zeros(m.queueLen, e), nn.Zeros(m.queueLen, e)}
	}
	codes := make([][]float32, 2)
	queueUsed := 0.0
	if m.queueFull() {
		queueUsed = 1
	}
	var used float64
	for i := 0; i < 2; i++ {
		emb := zc.Data[i*b*zc.Dim(1) : (i+1)*b*zc.Dim(1)]
		codes[i] = m.assign(i, emb, b)
		used += protoUsage(codes[i], b, m.protos.T.Dim(0)) / 2
	}
	if m.queue[0] != nil {
		e := zc.Dim(1)
		for i := 0; i < 2; i++ {
			// Shift by one batch and put the newest embeddings first.
			q := m.queue[i].Data
			copy(q[b*e:], q[:len(q)-b*e])
			copy(q[:b*e], zc.Data[i*b*e:(i+1)*b*e])
		}
		m.queueFill = min(m.queueLen, m.queueFill+b)
	}

	loss := SwappedLoss(scores, codes, m.temp)
	loss.Backward()
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	if in.Epoch < m.freeze {
		m.protos.T.Grad = nil // frozen: the optimizer skips a parameter without gradient
	}
	m.opt.Step(in)
	m.steps++
	zg := nn.New(z.Data[:2*b*z.Dim(1)], 2*b, z.Dim(1))
	return sdk.StepOutput{
		Loss:  float64(loss.Item()),
		Grads: kit.Grads(x),
		Metrics: map[string]float64{
			"output_std":      kit.OutputStd(zg), // normalised embeddings of the global crops
			"output_dim":      float64(zg.Dim(1)),
			"prototypes_used": used,      // fraction of prototypes that are some image's top code
			"queue_used":      queueUsed, // 1 when this step's codes used the queue
		},
	}, nil
}

// normalizePrototypes l2-normalises the prototype rows in place (SwAV does
// this at the start of every iteration, outside the graph).
func (m *Method) normalizePrototypes() {
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

func (m *Method) queueFull() bool { return m.queue[0] != nil && m.queueFill == m.queueLen }

// assign returns the Sinkhorn codes (N,K) of global crop i's embeddings
// emb (N,E). Once the queue is full its L embeddings go in front of the
// batch (the official code uses the queue once its last row is non-zero)
// and only the batch's rows of the codes are kept.
func (m *Method) assign(i int, emb []float32, b int) []float32 {
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

// ---  state

type meta struct {
	Options    map[string]string `json:"options"`
	LocalCrops int               `json:"local_crops"`
	Steps      int64             `json:"steps"`
	QueueFill  int               `json:"queue_fill"`
	HasQueue   bool              `json:"has_queue"`
}

func (m *Method) sections() []kit.Section {
	s := []kit.Section{
		{Name: "params", Params: append(m.proj.Params(), m.protos)},
		{Name: "buffers", Params: m.proj.Buffers()},
	}
	if m.queue[0] != nil {
		s = append(s, kit.Section{Name: "queue", Params: m.queueParams()})
	}
	return s
}

func (m *Method) queueParams() []*nn.Param {
	return []*nn.Param{{Name: "queue0", T: m.queue[0]}, {Name: "queue1", T: m.queue[1]}}
}

// State serialises the projector, prototypes, BN statistics, queue and
// optimizer state.
func (m *Method) State() ([]byte, error) {
	if m.proj == nil {
		return nil, fmt.Errorf("%w: State before Init", sdk.ErrBadInput)
	}
	mt := meta{Options: m.opts.Map(), LocalCrops: m.nLocal, Steps: m.steps, QueueFill: m.queueFill, HasQueue: m.queue[0] != nil}
	return kit.EncodeState("swav", mt, append(m.sections(), m.opt.Section())...)
}

// SetState restores a State blob saved by a SwAV with the same crops,
// options and feature dim; anything else is an error and changes nothing.
func (m *Method) SetState(blob []byte) error {
	if m.proj == nil {
		return fmt.Errorf("%w: SetState before Init", sdk.ErrBadInput)
	}
	var mt meta
	d, err := kit.DecodeState(blob, "swav", &mt)
	if err != nil {
		return err
	}
	if !maps.Equal(mt.Options, m.opts.Map()) || mt.LocalCrops != m.nLocal {
		return fmt.Errorf("%w: state saved with options %v and %d local crops, this SwAV was initialised with %v and %d",
			sdk.ErrBadInput, mt.Options, mt.LocalCrops, m.opts.Map(), m.nLocal)
	}
	var queue [2]*nn.Tensor
	secs := m.sections()[:2]
	if mt.HasQueue {
		e := m.protos.T.Dim(1)
		queue = [2]*nn.Tensor{nn.Zeros(m.queueLen, e), nn.Zeros(m.queueLen, e)}
		secs = append(secs, kit.Section{Name: "queue", Params: []*nn.Param{{Name: "queue0", T: queue[0]}, {Name: "queue1", T: queue[1]}}})
	}
	if mt.QueueFill < 0 || mt.QueueFill > m.queueLen {
		return fmt.Errorf("%w: swav state: queue fill %d outside [0, %d]", sdk.ErrBadInput, mt.QueueFill, m.queueLen)
	}
	if err := d.Restore(m.opt, secs...); err != nil {
		return err
	}
	m.queue, m.queueFill, m.steps = queue, mt.QueueFill, mt.Steps
	return nil
}
