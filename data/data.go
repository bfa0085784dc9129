// Package data holds siambench's datasets (IDX, CIFAR-10/100, STL-10, image
// folders and the embedded default), the augmentation presets of the papers and
// the seeded multi-view loader that feeds every method the same images in the
// same order with the same augmentations.
//
// Images are uint8, channel-major (C,H,W). Views handed to the backbone are
// float32 NCHW, normalised per channel with the training split's statistics.
// The package does not import nn: everything crossing its boundary is plain
// slices.
package data

import (
	"fmt"
	"math"
)

// Image is one uint8 image in channel-major (C,H,W) order: Pix[c*H*W+y*W+x].
type Image struct {
	C, H, W int
	Pix     []uint8
}

// Dataset is an indexable set of equally-sized images with labels.
// Label returns -1 for unlabelled images. Image must not be modified by the
// caller: it may share memory with the dataset. Implementations are safe for
// concurrent reads.
type Dataset interface {
	Name() string
	Len() int
	Image(i int) Image
	Label(i int) int
	Classes() []string
}

// Splits is an opened dataset: its train and test splits and where it came
// from. An unlabelled dataset (an image folder without class sub-folders,
// "stl10-unlabeled") has only Train, whose labels are all -1, and no Test:
// it can pre-train a backbone, and is evaluated on another (labelled) one.
type Splits struct {
	Train, Test Dataset
	// Unlabeled is the extra unlabelled split (STL-10's 100,000 images) when
	// it was asked for with OpenOptions.Unlabeled; nil otherwise.
	Unlabeled Dataset
	Info      Info
}

// Labeled reports whether the dataset has labels and a test split (so it
// can be evaluated on: kNN, linear probe, supervised baseline).
func (s *Splits) Labeled() bool { return s.Test != nil }

// Info describes where a dataset came from.
type Info struct {
	Name    string // the name given to Open, e.g. "default" or "cifar10"
	Title   string // human name, e.g. "Fashion-MNIST (embedded stratified subset)"
	Source  string // where the files were read from (a directory, or "embedded")
	License string
	// Files are the files read, with their size and SHA-256.
	Files []FileInfo
	// Norm is the per-channel normalisation computed on the train split; the
	// loader and Normalized use it for every split.
	Norm Norm
}

// FileInfo is one file a dataset was read from.
type FileInfo struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Norm holds per-channel mean and standard deviation of pixel values scaled
// to [0,1]. A view pixel is (x/255 − Mean[c]) / Std[c].
type Norm struct {
	Mean, Std []float32
}

// Normer is implemented by datasets that carry their normalisation statistics
// (every dataset Open returns does: train and test share the train split's).
type Normer interface {
	Norm() Norm
}

// NormOf returns ds's normalisation: its own if it implements Normer,
// otherwise statistics computed over ds (evenly spaced images past 256 MB).
func NormOf(ds Dataset) Norm {
	if n, ok := ds.(Normer); ok {
		return n.Norm()
	}
	return computeNorm(ds)
}

// computeNorm measures per-channel mean and std over every image, or evenly
// spaced ones covering 256 MB of pixels for larger datasets. A channel with zero variance gets Std 1 so that normalising
// never divides by zero.
func computeNorm(ds Dataset) Norm {
	n := ds.Len()
	if n == 0 {
		return Norm{Mean: []float32{0}, Std: []float32{1}}
	}
	c := ds.Image(0).C
	sum := make([]float64, c)
	sq := make([]float64, c)
	cnt := make([]float64, c)
	// Every image up to 256 MB of pixels (all of MNIST, CIFAR, STL-10's
	// labelled splits), evenly spaced ones beyond.
	step := 1
	if total := n * c * ds.Image(0).H * ds.Image(0).W; total > 1<<28 {
		step = (total + 1<<28 - 1) / (1 << 28)
	}
	for i := 0; i < n; i += step {
		im := ds.Image(i)
		hw := im.H * im.W
		for ch := 0; ch < im.C && ch < c; ch++ {
			var s, q uint64
			for _, p := range im.Pix[ch*hw : (ch+1)*hw] {
				s += uint64(p)
				q += uint64(p) * uint64(p)
			}
			sum[ch] += float64(s)
			sq[ch] += float64(q)
			cnt[ch] += float64(hw)
		}
	}
	nm := Norm{Mean: make([]float32, c), Std: make([]float32, c)}
	for ch := range c {
		m := sum[ch] / cnt[ch] / 255
		v := sq[ch]/cnt[ch]/(255*255) - m*m
		sd := math.Sqrt(math.Max(v, 0))
		if sd < 1e-6 {
			sd = 1
		}
		nm.Mean[ch], nm.Std[ch] = float32(m), float32(sd)
	}
	return nm
}

// ---------------------------------------------------------------------------
// In-memory dataset.

// Memory is a Dataset held in one contiguous pixel slice. Every loader in
// this package produces one.
type Memory struct {
	name    string
	c, h, w int
	pix     []uint8 // n·c·h·w
	labels  []int   // n; -1 for unlabelled
	classes []string
	norm    *Norm // nil: computed on first use by NormOf's fallback
}

var _ Dataset = (*Memory)(nil)

// NewMemory wraps pix (n images of c×h×w, channel-major) and labels (n
// entries, each -1 or in [0, len(classes))) without copying. It returns an
// error when the sizes or labels disagree.
func NewMemory(name string, c, h, w int, pix []uint8, labels []int, classes []string) (*Memory, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("dataset %s: image shape %dx%dx%d must be positive", name, c, h, w)
	}
	sz := c * h * w
	if len(pix)%sz != 0 {
		return nil, fmt.Errorf("dataset %s: %d pixel bytes is not a multiple of the image size %d", name, len(pix), sz)
	}
	n := len(pix) / sz
	if len(labels) != n {
		return nil, fmt.Errorf("dataset %s: %d images but %d labels", name, n, len(labels))
	}
	for i, l := range labels {
		if l < -1 || l >= len(classes) {
			return nil, fmt.Errorf("dataset %s: label %d of image %d is outside [0,%d)", name, l, i, len(classes))
		}
	}
	return &Memory{name: name, c: c, h: h, w: w, pix: pix, labels: labels, classes: classes}, nil
}

// Name returns the dataset's name, e.g. "fashion-mnist/train".
func (m *Memory) Name() string { return m.name }

// Len returns the number of images.
func (m *Memory) Len() int { return len(m.labels) }

// Image returns image i sharing the dataset's memory; it panics if i is out of range.
func (m *Memory) Image(i int) Image {
	sz := m.c * m.h * m.w
	return Image{C: m.c, H: m.h, W: m.w, Pix: m.pix[i*sz : (i+1)*sz : (i+1)*sz]}
}

// Label returns image i's class index, or -1 if it is unlabelled.
func (m *Memory) Label(i int) int { return m.labels[i] }

// Classes returns the class names, indexed by label.
func (m *Memory) Classes() []string { return m.classes }

// Norm returns the normalisation attached with SetNorm, or the statistics of
// this dataset itself.
func (m *Memory) Norm() Norm {
	if m.norm != nil {
		return *m.norm
	}
	return computeNorm(m)
}

// SetNorm fixes the normalisation (Open gives train and test the train
// split's statistics). It is not safe to call concurrently with reads.
func (m *Memory) SetNorm(n Norm) { m.norm = &n }

// ClassCounts returns how many images of ds carry each label; the last entry
// counts unlabelled images (label -1).
func ClassCounts(ds Dataset) []int {
	counts := make([]int, len(ds.Classes())+1)
	for i := range ds.Len() {
		l := ds.Label(i)
		if l < 0 || l >= len(ds.Classes()) {
			counts[len(counts)-1]++
			continue
		}
		counts[l]++
	}
	return counts
}

// Normalized returns every image of ds without augmentation, normalised with
// NormOf(ds), as one NCHW float32 slice (for evaluation). All images must have
// the same shape, which every dataset of this package guarantees.
func Normalized(ds Dataset) (data []float32, n, c, h, w int) {
	n = ds.Len()
	if n == 0 {
		return nil, 0, 0, 0, 0
	}
	im0 := ds.Image(0)
	c, h, w = im0.C, im0.H, im0.W
	nm := NormOf(ds)
	sz := c * h * w
	data = make([]float32, n*sz)
	var lut [256]float32
	for ch := range c {
		for v := range lut {
			lut[v] = (float32(v)/255 - nm.Mean[ch]) / nm.Std[ch]
		}
		for i := range n {
			pix := ds.Image(i).Pix[ch*h*w : (ch+1)*h*w]
			dst := data[i*sz+ch*h*w : i*sz+(ch+1)*h*w]
			for j, p := range pix {
				dst[j] = lut[p]
			}
		}
	}
	return data, n, c, h, w
}
