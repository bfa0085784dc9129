package data

// Shapes: B=batch size, V=views per image, C=channels, S=view side.

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	BatchSize int
	// Views lists the view groups; every image yields Σ Count views, in
	// this order (e.g. SwAV: 2 global then 6 local).
	Views []ViewSpec
	// Seed fixes the shuffle order and every augmentation.
	Seed int64
	// Workers is the number of goroutines making batches; 0 means GOMAXPROCS.
	Workers int
	// Prefetch bounds how many finished batches may wait unread; 0 means 2.
	Prefetch int
	// DropLast drops the last incomplete batch of an epoch.
	DropLast bool
	// NoShuffle keeps dataset order (evaluation); by default every epoch
	// is shuffled.
	NoShuffle bool
	// Norm overrides the normalisation; nil means NormOf(ds).
	Norm *Norm
}

// Batch is one batch: the dataset indices of its images, their labels (-1
// when unlabelled) and one View per view, in spec order.
type Batch struct {
	Epoch, Number int // epoch and batch number within it
	Index         []int
	Labels        []int
	Views         []View
}

// View is one view of every image of a batch: N×C×H×W float32, normalised.
type View struct {
	N, C, H, W int
	Data       []float32
}

type viewPlan struct {
	aug  Aug
	side int
	idx  int // view index v in [0,V): part of the RNG seed
}

// Loader makes batches of augmented multi-view images. The images of epoch
// e are visited in a permutation seeded by (Seed, e); view v of image i in
// epoch e is drawn from a stream seeded by (Seed, e, i, v). Batches are
// therefore identical for every worker count and for every method that uses
// the same seed and specs.
type Loader struct {
	ds    Dataset
	cfg   LoaderConfig
	plans []viewPlan
	norm  Norm
	c     int
}

// NewLoader checks cfg against ds and returns a Loader. Errors name the bad
// field: an empty dataset, a non-positive batch size or view count, an
// unknown preset, a batch larger than the dataset with DropLast.
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	if ds == nil || ds.Len() == 0 {
		return nil, fmt.Errorf("loader: the dataset is empty")
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("loader: batch size %d must be positive", cfg.BatchSize)
	}
	if cfg.DropLast && cfg.BatchSize > ds.Len() {
		return nil, fmt.Errorf("loader: batch size %d exceeds the %d images of %s, so drop-last leaves no batch; use a smaller batch", cfg.BatchSize, ds.Len(), ds.Name())
	}
	if len(cfg.Views) == 0 {
		return nil, fmt.Errorf("loader: no views configured")
	}
	im := ds.Image(0)
	side := min(im.H, im.W)
	var plans []viewPlan
	for i, v := range cfg.Views {
		if v.Count <= 0 {
			return nil, fmt.Errorf("loader: view group %d (%s) has count %d; want ≥ 1", i, v.Preset, v.Count)
		}
		aug, err := v.Aug()
		if err != nil {
			return nil, fmt.Errorf("loader: view group %d: %w", i, err)
		}
		s := v.Side(side)
		if s > 4096 {
			return nil, fmt.Errorf("loader: view group %d: side %d is too large (max 4096)", i, s)
		}
		for range v.Count {
			plans = append(plans, viewPlan{aug: aug, side: s, idx: len(plans)})
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	nm := NormOf(ds)
	if cfg.Norm != nil {
		nm = *cfg.Norm
	}
	if len(nm.Mean) < im.C || len(nm.Std) < im.C {
		return nil, fmt.Errorf("loader: normalisation has %d channels, images have %d", len(nm.Mean), im.C)
	}
	return &Loader{ds: ds, cfg: cfg, plans: plans, norm: nm, c: im.C}, nil
}

// BatchesPerEpoch returns the number of batches in one epoch.
func (l *Loader) BatchesPerEpoch() int {
	n, b := l.ds.Len(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Views returns the number of views per image.
func (l *Loader) Views() int { return len(l.plans) }

// Order returns the permutation of dataset indices visited in epoch.
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if l.cfg.NoShuffle {
		return perm
	}
	r := newRNG(uint64(l.cfg.Seed), uint64(epoch), 0x53485546464c45, 0) // "SHUFFLE"
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// Epoch streams the batches of epoch from batch number startBatch on (to
// resume mid-epoch), in order, on a channel that is closed after the last
// batch or once ctx is done. At most Prefetch finished batches wait unread.
// A consumer that stops early must cancel ctx: every goroutine then exits.
// An out-of-range startBatch gives a closed channel.
func (l *Loader) Epoch(ctx context.Context, epoch, startBatch int) <-chan Batch {
	out := make(chan Batch)
	nb := l.BatchesPerEpoch()
	if startBatch < 0 || startBatch >= nb {
		close(out)
		return out
	}
	order := l.Order(epoch)
	type job struct {
		b   int
		res chan Batch
	}
	jobs := make(chan job)
	// pending holds the result slots in batch order; its capacity bounds the
	// batches in flight (being made or made and waiting).
	pending := make(chan chan Batch, l.cfg.Prefetch)
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var aug Augmenter
			for j := range jobs {
				j.res <- l.makeBatch(&aug, order, epoch, j.b) // res has room for 1: never blocks
			}
		}()
	}
	go func() { // producer: hands out batch numbers in order
		defer close(jobs)
		defer close(pending)
		for b := startBatch; b < nb && ctx.Err() == nil; b++ {
			res := make(chan Batch, 1)
			select {
			case pending <- res:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{b: b, res: res}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // emitter: forwards results in batch order
		defer close(out)
		defer wg.Wait()
		for res := range pending {
			var b Batch
			select {
			case b = <-res:
			case <-ctx.Done():
				drain(pending)
				return
			}
			select {
			case out <- b:
			case <-ctx.Done():
				drain(pending)
				return
			}
		}
	}()
	return out
}

// drain empties pending so the producer (blocked sending to it) can see ctx
// and exit; results still being computed land in their buffered slots.
func drain(pending chan chan Batch) {
	for range pending {
	}
}

// makeBatch builds batch number b of an epoch with the given order.
func (l *Loader) makeBatch(aug *Augmenter, order []int, epoch, b int) Batch {
	bs := l.cfg.BatchSize
	lo, hi := b*bs, min((b+1)*bs, len(order))
	idx := order[lo:hi:hi]
	n := len(idx)
	batch := Batch{Epoch: epoch, Number: b, Index: append([]int(nil), idx...), Labels: make([]int, n), Views: make([]View, len(l.plans))}
	for v, p := range l.plans {
		batch.Views[v] = View{N: n, C: l.c, H: p.side, W: p.side, Data: make([]float32, n*l.c*p.side*p.side)}
	}
	for k, i := range idx {
		batch.Labels[k] = l.ds.Label(i)
		im := l.ds.Image(i)
		for v := range l.plans {
			p := &l.plans[v]
			sz := l.c * p.side * p.side
			aug.Apply(batch.Views[v].Data[k*sz:(k+1)*sz], im, &p.aug, p.side, &l.norm, l.cfg.Seed, epoch, i, p.idx)
		}
	}
	return batch
}
