package data

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// synthetic returns an n-image c×side×side dataset with labels i mod 10.
func synthetic(t testing.TB, n, c, side int) *Memory {
	t.Helper()
	pix := make([]uint8, n*c*side*side)
	for i := range pix {
		pix[i] = uint8(i*31 + i/97)
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i % 10
	}
	m, err := NewMemory("synthetic", c, side, side, pix, labels, MNISTClasses)
	must(t, err)
	return m
}

func collect(t *testing.T, l *Loader, epoch, start int) []Batch {
	t.Helper()
	var out []Batch
	for b := range l.Epoch(context.Background(), epoch, start) {
		out = append(out, b)
	}
	return out
}

func batchesEqual(a, b []Batch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Number != b[i].Number || len(a[i].Index) != len(b[i].Index) || len(a[i].Views) != len(b[i].Views) {
			return false
		}
		for k := range a[i].Index {
			if a[i].Index[k] != b[i].Index[k] || a[i].Labels[k] != b[i].Labels[k] {
				return false
			}
		}
		for v := range a[i].Views {
			if !equal(a[i].Views[v].Data, b[i].Views[v].Data) {
				return false
			}
		}
	}
	return true
}

var swavViews = []ViewSpec{{Count: 2, Preset: "swav-global"}, {Count: 3, Size: -50, Preset: "swav-local"}}

// TestLoaderSameForAnyWorkerCount is the fairness contract: the same seed
// gives the same order and views whatever the worker count and prefetch.
func TestLoaderSameForAnyWorkerCount(t *testing.T) {
	ds := synthetic(t, 37, 3, 16)
	var ref []Batch
	for _, w := range []struct{ workers, prefetch int }{{1, 1}, {4, 1}, {3, 8}} {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 8, Views: swavViews, Seed: 42, Workers: w.workers, Prefetch: w.prefetch})
		must(t, err)
		got := collect(t, l, 3, 0)
		if ref == nil {
			ref = got
			continue
		}
		if !batchesEqual(ref, got) {
			t.Fatalf("workers=%d prefetch=%d gave different batches than workers=1", w.workers, w.prefetch)
		}
	}
	// Shapes: 5 batches (37/8, last has 5), views 2×16² then 3×8².
	if len(ref) != 5 || len(ref[4].Index) != 5 {
		t.Fatalf("%d batches, last of %d", len(ref), len(ref[len(ref)-1].Index))
	}
	v := ref[0].Views
	if len(v) != 5 || v[0].H != 16 || v[1].W != 16 || v[2].H != 8 || v[4].W != 8 || v[2].C != 3 || len(v[2].Data) != 8*3*8*8 {
		t.Fatalf("view shapes: %+v", []int{v[0].H, v[2].H, len(v[2].Data)})
	}
	// The epoch is a permutation and labels follow the indices.
	var seen []int
	for _, b := range ref {
		for k, i := range b.Index {
			seen = append(seen, i)
			if b.Labels[k] != ds.Label(i) {
				t.Fatalf("label of index %d = %d, want %d", i, b.Labels[k], ds.Label(i))
			}
		}
	}
	sort.Ints(seen)
	for i, v := range seen {
		if v != i {
			t.Fatalf("epoch is not a permutation of 0..36: %v", seen)
		}
	}
}

func TestLoaderEpochsSeedsResume(t *testing.T) {
	ds := synthetic(t, 50, 1, 12)
	mk := func(seed int64, dropLast bool) *Loader {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 16, Views: []ViewSpec{{Count: 2, Preset: "simsiam"}}, Seed: seed, Workers: 2, DropLast: dropLast})
		must(t, err)
		return l
	}
	l := mk(1, false)
	e0, e1 := collect(t, l, 0, 0), collect(t, l, 1, 0)
	if batchesEqual(e0, e1) {
		t.Error("epochs 0 and 1 are identical")
	}
	if batchesEqual(e0, collect(t, mk(2, false), 0, 0)) {
		t.Error("seeds 1 and 2 give identical epochs")
	}
	// The two views of an image differ (independent draws).
	if equal(e0[0].Views[0].Data, e0[0].Views[1].Data) {
		t.Error("view 0 and view 1 are identical")
	}
	// Resuming at batch 2 gives the tail of the full epoch.
	if tail := collect(t, l, 1, 2); !batchesEqual(tail, e1[2:]) {
		t.Error("startBatch=2 does not reproduce batches 2.. of the epoch")
	}
	if len(collect(t, l, 1, 99)) != 0 {
		t.Error("out-of-range startBatch gave batches")
	}
	// Drop-last: 50/16 → 3 full batches; otherwise 4, the last of 2.
	if d := mk(1, true); d.BatchesPerEpoch() != 3 || len(collect(t, d, 0, 0)) != 3 {
		t.Errorf("drop-last: %d batches per epoch", d.BatchesPerEpoch())
	}
	if l.BatchesPerEpoch() != 4 || len(e0[3].Index) != 2 {
		t.Errorf("no drop-last: %d batches, last of %d", l.BatchesPerEpoch(), len(e0[3].Index))
	}
}

func TestLoaderConfigErrors(t *testing.T) {
	ds := synthetic(t, 10, 1, 8)
	empty, _ := NewMemory("empty", 1, 8, 8, nil, nil, nil)
	cases := []struct {
		name string
		ds   Dataset
		cfg  LoaderConfig
		want string
	}{
		{"empty", empty, LoaderConfig{BatchSize: 1, Views: []ViewSpec{{Count: 1}}}, "empty"},
		{"batch", ds, LoaderConfig{BatchSize: 0, Views: []ViewSpec{{Count: 1}}}, "batch size 0"},
		{"drop-last too big", ds, LoaderConfig{BatchSize: 11, DropLast: true, Views: []ViewSpec{{Count: 1}}}, "exceeds"},
		{"no views", ds, LoaderConfig{BatchSize: 2}, "no views"},
		{"count", ds, LoaderConfig{BatchSize: 2, Views: []ViewSpec{{Count: 0, Preset: "simsiam"}}}, "count 0"},
		{"preset", ds, LoaderConfig{BatchSize: 2, Views: []ViewSpec{{Count: 1, Preset: "mocov9"}}}, "mocov9"},
		{"norm channels", ds, LoaderConfig{BatchSize: 2, Views: []ViewSpec{{Count: 1}}, Norm: &Norm{}}, "channels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLoader(tc.ds, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// countingDataset counts Image calls, to observe how far ahead the loader runs.
type countingDataset struct {
	*Memory
	calls atomic.Int64
}

func (c *countingDataset) Image(i int) Image { c.calls.Add(1); return c.Memory.Image(i) }

// TestLoaderPrefetchBoundAndCancel: a consumer that stops reading holds the
// loader to a bounded number of batches; cancelling ends every goroutine.
func TestLoaderPrefetchBoundAndCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := &countingDataset{Memory: synthetic(t, 400, 1, 8)}
	const bs, workers, prefetch = 4, 3, 2
	l, err := NewLoader(ds, LoaderConfig{BatchSize: bs, Views: []ViewSpec{{Count: 1, Preset: "simsiam"}}, Seed: 1, Workers: workers, Prefetch: prefetch})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := l.Epoch(ctx, 0, 0)
	<-ch // read one batch, then stall
	time.Sleep(100 * time.Millisecond)
	// In flight at most: 1 read + prefetch slots + 1 batch held by the emitter.
	if made := ds.calls.Load() / bs; made > 1+prefetch+1 {
		t.Errorf("loader made %d batches while the consumer read 1 (prefetch %d)", made, prefetch)
	}
	cancel()
	for range ch { // the channel must close
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after cancel, %d before: leak", n, before)
	}
}

func TestNormalized(t *testing.T) {
	s, err := Open(context.Background(), "default", OpenOptions{})
	must(t, err)
	x, n, c, h, w := Normalized(s.Train)
	if n != 10000 || c != 1 || h != 28 || w != 28 || len(x) != n*c*h*w {
		t.Fatalf("shape %d %d %d %d", n, c, h, w)
	}
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean := sum / float64(len(x))
	std := math.Sqrt(sq/float64(len(x)) - mean*mean)
	if math.Abs(mean) > 1e-3 || math.Abs(std-1) > 1e-3 {
		t.Errorf("normalised train split: mean %v std %v, want 0, 1", mean, std)
	}
	// The test split uses the train statistics, and the loader's "none" view
	// at full size equals Normalized.
	xt, _, _, _, _ := Normalized(s.Test)
	l, err := NewLoader(s.Test, LoaderConfig{BatchSize: 7, Views: []ViewSpec{{Count: 1, Preset: "none"}}, NoShuffle: true})
	must(t, err)
	b := <-l.Epoch(context.Background(), 0, 0)
	for i, v := range b.Views[0].Data {
		if math.Abs(float64(v-xt[i])) > 1e-5 {
			t.Fatalf("loader none view differs from Normalized at %d: %v vs %v", i, v, xt[i])
		}
	}
}

func TestOpenEmbedded(t *testing.T) {
	cases := []struct {
		name              string
		train, test, per  int
		license, classOne string
	}{
		{"default", 10000, 2000, 1000, "MIT", "Trouser"},
		{"", 10000, 2000, 1000, "MIT", "Trouser"},
		{"default-mnist", 5000, 1000, 500, "CC BY-SA 3.0", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.name, OpenOptions{})
			must(t, err)
			if s.Train.Len() != tc.train || s.Test.Len() != tc.test {
				t.Fatalf("train %d test %d", s.Train.Len(), s.Test.Len())
			}
			for c, n := range ClassCounts(s.Train)[:10] {
				if n != tc.per {
					t.Fatalf("class %d has %d train images, want %d", c, n, tc.per)
				}
			}
			if !strings.Contains(s.Info.License, tc.license) || s.Train.Classes()[1] != tc.classOne {
				t.Errorf("license %q class 1 %q", s.Info.License, s.Train.Classes()[1])
			}
			must(t, s.Info.HashFiles(context.Background()))
			var total int64
			for _, f := range s.Info.Files {
				if len(f.SHA256) != 64 {
					t.Errorf("file %s has no SHA-256", f.Path)
				}
				total += f.Size
			}
			if total > 8<<20 {
				t.Errorf("embedded files total %d bytes, over 8 MB", total)
			}
			if tn, tr := s.Test.(Normer).Norm(), s.Info.Norm; tn.Mean[0] != tr.Mean[0] || tn.Std[0] != tr.Std[0] {
				t.Error("test split does not share the train normalisation")
			}
		})
	}
}

// TestOpenFindsLocalCopies: MNIST is found in a GoMNIST module folder of
// $GOMODCACHE, Fashion-MNIST in $SIAMBENCH_DATA/fashion-mnist; a missing
// dataset's error says where it looked and what to run.
func TestOpenFindsLocalCopies(t *testing.T) {
	mod := t.TempDir()
	gm := filepath.Join(mod, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
	must(t, os.MkdirAll(gm, 0o755))
	writeIDXPair(t, gm, "train", 20, 28, 28, 10, true)
	writeIDXPair(t, gm, "t10k", 10, 28, 28, 10, true)
	cache := t.TempDir()
	fm := filepath.Join(cache, "fashion-mnist")
	must(t, os.MkdirAll(fm, 0o755))
	writeIDXPair(t, fm, "train", 30, 28, 28, 10, false) // uncompressed files work too
	writeIDXPair(t, fm, "t10k", 5, 28, 28, 10, false)
	t.Setenv("GOMODCACHE", mod)
	t.Setenv("SIAMBENCH_DATA", cache)
	s, err := Open(context.Background(), "mnist", OpenOptions{})
	must(t, err)
	if s.Train.Len() != 20 || s.Info.Source != gm {
		t.Errorf("mnist: %d images from %s, want 20 from %s", s.Train.Len(), s.Info.Source, gm)
	}
	s, err = Open(context.Background(), "fashion-mnist", OpenOptions{})
	must(t, err)
	if s.Train.Len() != 30 || s.Info.Source != fm || s.Train.Classes()[9] != "Ankle boot" {
		t.Errorf("fashion-mnist: %d images from %s", s.Train.Len(), s.Info.Source)
	}
	_, err = Open(context.Background(), "cifar10", OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "bench data fetch cifar10") || !strings.Contains(err.Error(), cache) {
		t.Errorf("missing cifar10: %v", err)
	}
	if _, err := Open(context.Background(), "imagenet", OpenOptions{}); err == nil || !strings.Contains(err.Error(), "cifar10") {
		t.Errorf("unknown dataset error should list the known ones: %v", err)
	}
}

func TestComputeNorm(t *testing.T) {
	// Channel 0 alternates 0 and 255 (mean 0.5, std 0.5); channel 1 is a
	// constant 51 (mean 0.2, std 0 → 1 so normalising never divides by 0).
	pix := make([]uint8, 0, 4*2*2*2)
	for range 4 {
		pix = append(pix, 0, 255, 255, 0) // channel 0
		pix = append(pix, 51, 51, 51, 51) // channel 1
	}
	m, err := NewMemory("n", 2, 2, 2, pix, []int{0, 0, 0, 0}, []string{"x"})
	must(t, err)
	nm := NormOf(m)
	want := Norm{Mean: []float32{0.5, 0.2}, Std: []float32{0.5, 1}}
	for c := range 2 {
		if math.Abs(float64(nm.Mean[c]-want.Mean[c])) > 1e-6 || math.Abs(float64(nm.Std[c]-want.Std[c])) > 1e-6 {
			t.Fatalf("norm %+v, want %+v", nm, want)
		}
	}
	m.SetNorm(Norm{Mean: []float32{1, 2}, Std: []float32{3, 4}})
	if NormOf(m).Mean[1] != 2 {
		t.Error("SetNorm ignored")
	}
}

func TestHueNegativeWrap(t *testing.T) {
	x := []float32{1, 0, 0} // red
	shiftHue(x, 1, -1.0/3)  // → blue
	assertClose(t, "hue -1/3", x, []float32{0, 0, 1})
}

// BenchmarkLoaderEpoch measures a training epoch of the embedded default
// (10,000 Fashion-MNIST images, two simsiam views, batch 256) through the
// loader with all cores, in augmented views per second.
func BenchmarkLoaderEpoch(b *testing.B) {
	s, err := Open(context.Background(), "default", OpenOptions{})
	must(b, err)
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run("workers="+strconv.Itoa(w), func(b *testing.B) {
			l, err := NewLoader(s.Train, LoaderConfig{BatchSize: 256, Views: []ViewSpec{{Count: 2, Preset: "simsiam"}}, Seed: 1, Workers: w, DropLast: true})
			must(b, err)
			views := 0
			e := 0
			for b.Loop() {
				for batch := range l.Epoch(context.Background(), e, 0) {
					views += len(batch.Index) * len(batch.Views)
				}
				e++
			}
			b.ReportMetric(float64(views)/b.Elapsed().Seconds(), "views/s")
		})
	}
}

func TestNewMemoryErrors(t *testing.T) {
	cases := []struct {
		name    string
		c, h, w int
		pix     int
		labels  []int
		want    string
	}{
		{"shape", 0, 2, 2, 4, []int{0}, "must be positive"},
		{"ragged", 1, 2, 2, 6, []int{0}, "not a multiple"},
		{"count", 1, 2, 2, 8, []int{0}, "2 images but 1 labels"},
		{"label", 1, 2, 2, 4, []int{3}, "label 3 of image 0"},
		{"below -1", 1, 2, 2, 4, []int{-2}, "label -2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMemory("m", tc.c, tc.h, tc.w, make([]uint8, tc.pix), tc.labels, []string{"a", "b"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	m, err := NewMemory("m", 1, 2, 2, make([]uint8, 8), []int{-1, 1}, []string{"a", "b"})
	must(t, err)
	if c := ClassCounts(m); len(c) != 3 || c[0] != 0 || c[1] != 1 || c[2] != 1 {
		t.Errorf("ClassCounts = %v, want [0 1 1]", c)
	}
}
