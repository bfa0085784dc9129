package harness

// Shape legend: N = images, C,H,W = image channels and size, D = feature width.

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/nn"
)

// evalBatch is the largest batch of feature extraction (no gradients kept).
const evalBatch = 500

// evalBudget caps the activation storage of one feature-extraction batch.
// A forward pass inside nn.NoGradRecycle holds all its intermediates until
// it ends: 500 1×28×28 images hold 2.8 GB in ResNet-18-CIFAR (the host's
// peak, by far), 0.47 GB in the reference network (nn.ForwardBytes). Each
// image's features do not depend on the batch it is in (BN uses its
// running statistics), so the batch changes memory and speed, never a
// number (TestFeaturesBatchFree).
const evalBudget = 512 << 20

// featureBatch returns how many images of ds one forward pass of m takes
// within evalBudget (between 1 and evalBatch), from the footprint of a
// probe batch of two images.
func featureBatch(m nn.Module, ds data.Dataset, nm data.Norm) (int, error) {
	idx := []int{0, min(1, ds.Len()-1)}
	x, c, h, w := normalizedBatch(ds, idx, nm)
	var bytes int64
	err := nn.Catch(func() {
		bytes = nn.ForwardBytes(func() []*nn.Tensor { return []*nn.Tensor{m.Forward(nn.New(x, len(idx), c, h, w))} })
	})
	if err != nil {
		return 0, fmt.Errorf("features of %s: %w", ds.Name(), err)
	}
	per := max(1, bytes/int64(len(idx)))
	return int(min(evalBatch, max(1, evalBudget/per))), nil
}

// normalizedBatch returns images idx of ds, normalised with nm, as NCHW.
func normalizedBatch(ds data.Dataset, idx []int, nm data.Norm) (x []float32, c, h, w int) {
	im0 := ds.Image(idx[0])
	c, h, w = im0.C, im0.H, im0.W
	hw := h * w
	x = make([]float32, len(idx)*c*hw)
	for b, i := range idx {
		im := ds.Image(i)
		for ch := 0; ch < c; ch++ {
			scale := 1 / (255 * nm.Std[ch])
			off := nm.Mean[ch] / nm.Std[ch]
			dst := x[(b*c+ch)*hw : (b*c+ch+1)*hw]
			for j, p := range im.Pix[ch*hw : (ch+1)*hw] {
				dst[j] = float32(p)*scale - off
			}
		}
	}
	return x, c, h, w
}

// labels returns the labels of ds and checks they are usable for evaluation.
func labels(ds data.Dataset) ([]int, error) {
	out := make([]int, ds.Len())
	k := len(ds.Classes())
	for i := range out {
		out[i] = ds.Label(i)
		if out[i] < 0 || out[i] >= k {
			return nil, fmt.Errorf("dataset %s: image %d has label %d, outside its %d classes (evaluation needs a labelled split)", ds.Name(), i, out[i], k)
		}
	}
	return out, nil
}

// PixelFeatures returns the normalised pixels of ds as features (the raw
// pixel baseline).
func PixelFeatures(ds data.Dataset) (eval.Features, error) {
	lab, err := labels(ds)
	if err != nil {
		return eval.Features{}, err
	}
	if ds.Len() == 0 {
		return eval.Features{}, fmt.Errorf("dataset %s is empty", ds.Name())
	}
	idx := make([]int, ds.Len())
	for i := range idx {
		idx[i] = i
	}
	x, c, h, w := normalizedBatch(ds, idx, data.NormOf(ds))
	return eval.Features{Data: x, Labels: lab, N: ds.Len(), D: c * h * w}, nil
}

// BackboneFeatures runs m in evaluation mode (BN with running statistics, no
// gradients) over every image of ds, un-augmented, and returns the (N,D)
// features. m is left in training mode.
func BackboneFeatures(ctx context.Context, m nn.Module, ds data.Dataset) (eval.Features, error) {
	lab, err := labels(ds)
	if err != nil {
		return eval.Features{}, err
	}
	m.SetTraining(false)
	defer m.SetTraining(true)
	nm := data.NormOf(ds)
	if ds.Len() == 0 {
		return eval.Features{Labels: lab}, nil
	}
	batch, err := featureBatch(m, ds, nm)
	if err != nil {
		return eval.Features{}, err
	}
	return backboneFeatures(ctx, m, ds, lab, nm, batch)
}

// backboneFeatures is BackboneFeatures in batches of batch images.
func backboneFeatures(ctx context.Context, m nn.Module, ds data.Dataset, lab []int, nm data.Norm, batch int) (eval.Features, error) {
	f := eval.Features{Labels: lab, N: ds.Len()}
	for start := 0; start < ds.Len(); start += batch {
		if err := ctx.Err(); err != nil {
			return eval.Features{}, err
		}
		idx := make([]int, min(batch, ds.Len()-start))
		for i := range idx {
			idx[i] = start + i
		}
		x, c, h, w := normalizedBatch(ds, idx, nm)
		out, err := forwardNoGrad(m, nn.New(x, len(idx), c, h, w))
		if err != nil {
			return eval.Features{}, fmt.Errorf("features of %s: %w", ds.Name(), err)
		}
		f.D = out.Len() / len(idx)
		f.Data = append(f.Data, out.Data...)
		out.FreeGraph()
	}
	return f, nil
}

// forwardNoGrad applies m to x recording no graph, its intermediate
// activations recycled at once (nn.NoGradRecycle); a shape misuse becomes an
// error.
func forwardNoGrad(m nn.Module, x *nn.Tensor) (out *nn.Tensor, err error) {
	err = nn.Catch(func() {
		out = nn.NoGradRecycle(func() []*nn.Tensor { return []*nn.Tensor{m.Forward(x)} })[0]
	})
	return out, err
}

// recalBatches is the least number of batches RecalibrateBN runs: with the
// usual BN momentum 0.1 the initial statistics then weigh 0.9^60 < 0.2%.
const recalBatches = 60

// RecalibrateBN re-estimates the running statistics of every BN layer of m on
// ds: the buffers are reset (mean 0, variance 1) and m runs in training mode,
// without gradients, over seeded shuffles of the split (as many passes as it
// takes to see recalBatches batches), so each layer's running statistics
// become an average of batch statistics under the current weights. Without
// it a random-init backbone is evaluated with meaningless statistics and
// looks unfairly weak.
func RecalibrateBN(ctx context.Context, m nn.Module, ds data.Dataset, batch int, seed uint64) error {
	for _, b := range m.Buffers() {
		v := float32(0)
		if isVarBuffer(b.Name) {
			v = 1
		}
		for i := range b.T.Data {
			b.T.Data[i] = v
		}
	}
	m.SetTraining(true)
	nm := data.NormOf(ds)
	batch = min(batch, ds.Len())
	if batch < 2 {
		return fmt.Errorf("recalibrate batch norm: %s has %d images, need 2", ds.Name(), ds.Len())
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e))
	for done := 0; done < recalBatches; {
		perm := rng.Perm(ds.Len())
		for start := 0; start+batch <= len(perm) && done < recalBatches; start += batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			x, c, h, w := normalizedBatch(ds, perm[start:start+batch], nm)
			out, err := forwardNoGrad(m, nn.New(x, batch, c, h, w))
			if err != nil {
				return fmt.Errorf("recalibrate batch norm: %w", err)
			}
			out.FreeGraph()
			done++
		}
	}
	return nil
}

func isVarBuffer(name string) bool {
	return len(name) >= 3 && (name[len(name)-3:] == "var")
}

// ---

// Subset is the first n images of a fixed, seeded permutation of a dataset:
// a class-balanced-in-expectation sample whatever the dataset's order. It
// keeps the parent's normalisation.
type Subset struct {
	data.Dataset
	idx  []int
	norm data.Norm
}

// NewSubset returns n images of ds (all of ds when n ≤ 0 or n ≥ ds.Len()).
func NewSubset(ds data.Dataset, n int) data.Dataset {
	if n <= 0 || n >= ds.Len() {
		return ds
	}
	perm := rand.New(rand.NewPCG(0x5eed, uint64(n))).Perm(ds.Len())[:n]
	return &Subset{Dataset: ds, idx: perm, norm: data.NormOf(ds)}
}

func (s *Subset) Len() int               { return len(s.idx) }
func (s *Subset) Image(i int) data.Image { return s.Dataset.Image(s.idx[i]) }
func (s *Subset) Label(i int) int        { return s.Dataset.Label(s.idx[i]) }
func (s *Subset) Norm() data.Norm        { return s.norm }
