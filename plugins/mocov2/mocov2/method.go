// Package mocov2 is MoCo v2 (He et al., CVPR 2020, arXiv:1911.05722; Chen,
// Fan, Girshick & He, arXiv:2003.04297) as a siambench method: a 2-layer MLP
// query head on the backbone, a momentum key head on the host's momentum
// backbone, a queue of earlier keys as negatives, and InfoNCE, symmetrised
// as in the SimSiam paper's Table 4. See ../README.md.
package mocov2

import (
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, K=dim, Q=queue length.

// New returns an uninitialised MoCo v2.
func New() *kit.Method {
	return kit.NewMethod(sdk.Spec{
		Name: "mocov2", Version: "1.0.0",
		Paper:       "Chen, Fan, Girshick & He, Improved Baselines with Momentum Contrastive Learning, arXiv:2003.04297 (MoCo: He et al., CVPR 2020, arXiv:1911.05722)",
		Description: "query MLP head + momentum key head and backbone; InfoNCE against a queue of earlier keys (symmetrised)",
		Views:       []sdk.ViewSpec{{Count: 2, Preset: "simclr"}},
		Negatives:   true,
		// MoCo's m = 0.999 is for 800 ImageNet epochs (≈ 400k steps); at a
		// few thousand steps the target would barely move, so m is scaled
		// as BYOL's (0.996 → 0.99), and kept constant as in MoCo.
		Target: &sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "constant"},
		Hyper:  sdk.Hyper{Optimizer: "sgd", BaseLR: 0.06, LRBatchDiv: 128, WeightDecay: 5e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "temperature", Type: "float", Default: "0.2", Min: new(0.0), MinExclusive: true, Max: new(100.0), Help: "InfoNCE temperature τ (MoCo v2: 0.2)"},
			{Name: "dim", Type: "int", Default: "128", Min: new(1.0), Help: "key/query width (MoCo v2: 128)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "MLP head hidden width (MoCo v2: 2048)"},
			{Name: "queue", Type: "int", Default: "2048", Min: new(1.0), Help: "negative keys kept (MoCo: 65536 for 1.28M images; 2048 is 20% of the embedded train split, keys at most 16 steps old at batch 64)"},
		},
	}, build)
}

// model is MoCo v2's heads and queue.
type model struct {
	temp    float64
	proj    *nn.Sequential // query head D→H→K
	key     *nn.Sequential // momentum key head, EMA of proj
	queue   *nn.Param      // (Q,K) unit rows
	ptr     *nn.Param      // (1): the next row to overwrite
	pending []*nn.Tensor   // this step's keys, queued by AfterStep
}

func mlp(hidden, dim int) []kit.Layer { // MoCo v2's head has no BN
	return []kit.Layer{{Out: hidden, BN: kit.NoBN, ReLU: true}, {Out: dim, BN: kit.NoBN}}
}

func build(b *kit.Build) (kit.Model, error) {
	temp, dim, hidden, q := b.FloatIn("temperature", 0, 100), b.IntAtLeast("dim", 1), b.IntAtLeast("hidden", 1), b.IntAtLeast("queue", 1)
	if b.Err != nil {
		return nil, b.Err
	}
	rng := b.RNG(0x30c0)
	proj, err := kit.NewMLP(rng, "projector", b.Config.FeatureDim, mlp(hidden, dim)...)
	if err != nil {
		return nil, err
	}
	key, err := kit.NewMLP(rng, "key", b.Config.FeatureDim, mlp(hidden, dim)...)
	if err != nil {
		return nil, err
	}
	// The queue starts as random unit vectors, as MoCo's.
	queue := nn.L2Normalize(nn.Randn(rng, 1, q, dim), 1e-12)
	return &model{
		temp: temp, proj: proj, key: key,
		queue: &nn.Param{Name: "queue", T: queue}, ptr: &nn.Param{Name: "queue_ptr", T: nn.Zeros(1)},
	}, nil
}

func (m *model) Heads() kit.HeadSet {
	return kit.HeadSet{
		Train:   []*nn.Sequential{m.proj},
		Targets: []kit.Target{{EMA: m.key, Online: m.proj}},
		State:   []kit.Section{{Name: "queue", Params: []*nn.Param{m.queue, m.ptr}}},
	}
}

// Loss is InfoNCE of each view's query against the other view's key, the
// queue's keys as negatives.
func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) {
	q1, q2 := m.proj.Forward(in.Views[0]), m.proj.Forward(in.Views[1])
	var k1, k2 *nn.Tensor
	nn.NoGrad(func() {
		k1 = nn.L2Normalize(m.key.Forward(in.Targets[0]), 1e-12)
		k2 = nn.L2Normalize(m.key.Forward(in.Targets[1]), 1e-12)
	})
	// Symmetrised, as the SimSiam paper's MoCo v2 (its Table 4): each view
	// is a query once, and both views' keys are queued. (MoCo's one
	// direction would leave the second view without a gradient.)
	l1, qn1 := InfoNCE(q1, k2, m.queue.T, m.temp)
	l2, qn2 := InfoNCE(q2, k1, m.queue.T, m.temp)
	loss := nn.Scale(nn.Add(l1, l2), 0.5)
	m.pending = []*nn.Tensor{k2, k1}
	outputs := []*nn.Tensor{qn1, qn2}
	pos := (meanDot(qn1, k2) + meanDot(qn2, k1)) / 2
	return kit.Loss{Value: loss, Outputs: outputs, Metrics: map[string]float64{
		"pos_cos": pos, // mean cosine of a query and its key
	}}, nil
}

// AfterStep queues this step's keys, overwriting the oldest.
func (m *model) AfterStep(sdk.StepInput) {
	q, k := m.queue.T.Dim(0), m.queue.T.Dim(1)
	p := int(m.ptr.T.Data[0])
	for _, keys := range m.pending {
		for i := 0; i < keys.Dim(0); i++ {
			copy(m.queue.T.Data[p*k:(p+1)*k], keys.Data[i*k:(i+1)*k])
			p = (p + 1) % q
		}
	}
	m.ptr.T.Data[0] = float32(p)
	m.pending = nil
}

// meanDot is the mean over rows of a_i·b_i.
func meanDot(a, b *nn.Tensor) float64 {
	n, k := a.Dim(0), a.Dim(1)
	s := 0.0
	for i := 0; i < n*k; i++ {
		s += float64(a.Data[i]) * float64(b.Data[i])
	}
	return s / float64(n)
}
