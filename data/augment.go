package data

// Shapes: C=channels, H,W=source image, S=view side. Views are square S×S.
//
// The augmentations follow torchvision's definitions (RandomResizedCrop,
// RandomHorizontalFlip, ColorJitter, RandomGrayscale, GaussianBlur,
// RandomSolarize, Normalize), applied in that order, on float32 pixels in
// [0,1]. Each view draws all of its randomness from one SplitMix64 stream
// seeded by (seed, epoch, image index, view index), so a view does not depend
// on which worker made it or in what order.

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
)

// ---------------------------------------------------------------------------
// Random numbers.

// rng is a SplitMix64 stream: tiny, allocation-free, and the same on every
// platform and Go release (unlike math/rand's Shuffle), which makes runs
// reproducible everywhere.
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRNG seeds a stream from a tuple of integers.
func newRNG(a, b, c, d uint64) rng {
	h := mix64(a + 0x9e3779b97f4a7c15)
	h = mix64(h ^ (b + 0x632be59bd9b4e019))
	h = mix64(h ^ (c + 0x8cb92ba72f3d8dd7))
	h = mix64(h ^ (d + 0xd6e8feb86659fd93))
	return rng{s: h}
}

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// float returns a uniform value in [0,1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// uniform returns a uniform value in [lo,hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// intn returns a uniform int in [0,n) for n > 0 (Lemire's multiply-shift;
// the bias is below 2^-32 for the n used here).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// coin draws one value and reports whether it fell below p. It always
// consumes exactly one draw, whatever p is.
func (r *rng) coin(p float64) bool { return r.float() < p }

// ---------------------------------------------------------------------------
// Augmentation parameters and presets.

// Aug is one augmentation recipe. Probabilities are in [0,1]; a zero field
// switches its transform off.
type Aug struct {
	Name string
	// Crop enables RandomResizedCrop with area fraction in [ScaleMin,ScaleMax]
	// and aspect ratio in [RatioMin,RatioMax] (log-uniform). Without it the
	// whole image is resized to the view size.
	Crop               bool
	ScaleMin, ScaleMax float64
	RatioMin, RatioMax float64
	// FlipP is the probability of a horizontal flip.
	FlipP float64
	// JitterP is the probability of ColorJitter; Brightness, Contrast,
	// Saturation, Hue are its strengths as in torchvision (factor in
	// [1−s, 1+s], hue shift in [−h, h] turns). Saturation and hue apply to
	// 3-channel images only.
	JitterP                               float64
	Brightness, Contrast, Saturation, Hue float64
	// GrayP is the probability of converting a 3-channel view to grayscale
	// (no effect on 1-channel images).
	GrayP float64
	// BlurP is the probability of a Gaussian blur with σ uniform in
	// [SigmaMin,SigmaMax] pixels at a 224-pixel view, scaled by S/224 so the
	// blur covers the same fraction of the image at every size; the kernel
	// side is about 10% of S (odd, at least 3).
	BlurP              float64
	SigmaMin, SigmaMax float64
	// SolarizeP is the probability of solarisation (x ≥ 0.5 → 1−x).
	SolarizeP float64
}

// presets are the recipes of the papers (ImageNet values; sizes adapt to
// the view, and blur σ scales with it). See docs/data.md.
var presets = map[string]Aug{
	// MoCo v2 recipe used by SimSiam (arXiv 2011.10566, Sec. 4 / appendix A).
	"simsiam": {Crop: true, ScaleMin: 0.2, ScaleMax: 1, FlipP: 0.5,
		JitterP: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1,
		GrayP: 0.2, BlurP: 0.5, SigmaMin: 0.1, SigmaMax: 2},
	// BYOL (arXiv 2006.07733, Table 6): asymmetric blur and solarisation.
	"byol1": {Crop: true, ScaleMin: 0.08, ScaleMax: 1, FlipP: 0.5,
		JitterP: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1,
		GrayP: 0.2, BlurP: 1.0, SigmaMin: 0.1, SigmaMax: 2},
	"byol2": {Crop: true, ScaleMin: 0.08, ScaleMax: 1, FlipP: 0.5,
		JitterP: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1,
		GrayP: 0.2, BlurP: 0.1, SigmaMin: 0.1, SigmaMax: 2, SolarizeP: 0.2},
	// SimCLR (arXiv 2002.05709, appendix A): colour strength s=1 → 0.8·s.
	"simclr": {Crop: true, ScaleMin: 0.08, ScaleMax: 1, FlipP: 0.5,
		JitterP: 0.8, Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2,
		GrayP: 0.2, BlurP: 0.5, SigmaMin: 0.1, SigmaMax: 2},
	// SwAV multi-crop (arXiv 2006.09882): 2 global crops at scale 0.14–1 and
	// small local crops at 0.05–0.14 (give them Size -50: half the side, like
	// 96 px next to 224 px).
	"swav-global": {Crop: true, ScaleMin: 0.14, ScaleMax: 1, FlipP: 0.5,
		JitterP: 0.8, Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2,
		GrayP: 0.2, BlurP: 0.5, SigmaMin: 0.1, SigmaMax: 2},
	"swav-local": {Crop: true, ScaleMin: 0.05, ScaleMax: 0.14, FlipP: 0.5,
		JitterP: 0.8, Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2,
		GrayP: 0.2, BlurP: 0.5, SigmaMin: 0.1, SigmaMax: 2},
	// Evaluation: the whole image, resized to the view size, normalised.
	"none": {},
}

// PresetNames returns the preset names, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns the named augmentation recipe ("" means "none").
func Preset(name string) (Aug, error) {
	if name == "" {
		name = "none"
	}
	a, ok := presets[name]
	if !ok {
		return Aug{}, fmt.Errorf("unknown augmentation preset %q: choose one of %s", name, strings.Join(PresetNames(), ", "))
	}
	a.Name = name
	if a.Crop {
		a.RatioMin, a.RatioMax = 3.0/4, 4.0/3
	}
	return a, nil
}

// Validate reports the first out-of-range field.
func (a Aug) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"FlipP", a.FlipP}, {"JitterP", a.JitterP}, {"GrayP", a.GrayP}, {"BlurP", a.BlurP}, {"SolarizeP", a.SolarizeP}} {
		if p.v < 0 || p.v > 1 || math.IsNaN(p.v) {
			return fmt.Errorf("augmentation %s: %s = %v is not a probability in [0,1]", a.Name, p.name, p.v)
		}
	}
	if a.Crop {
		if !(a.ScaleMin > 0 && a.ScaleMin <= a.ScaleMax && a.ScaleMax <= 1) {
			return fmt.Errorf("augmentation %s: crop scale [%v,%v] must satisfy 0 < min ≤ max ≤ 1", a.Name, a.ScaleMin, a.ScaleMax)
		}
		if !(a.RatioMin > 0 && a.RatioMin <= a.RatioMax) {
			return fmt.Errorf("augmentation %s: crop ratio [%v,%v] must satisfy 0 < min ≤ max", a.Name, a.RatioMin, a.RatioMax)
		}
	}
	if a.Brightness < 0 || a.Contrast < 0 || a.Saturation < 0 || a.Hue < 0 || a.Hue > 0.5 {
		return fmt.Errorf("augmentation %s: jitter strengths must be ≥ 0 and hue ≤ 0.5", a.Name)
	}
	if a.BlurP > 0 && !(a.SigmaMin > 0 && a.SigmaMin <= a.SigmaMax) {
		return fmt.Errorf("augmentation %s: blur σ range [%v,%v] must satisfy 0 < min ≤ max", a.Name, a.SigmaMin, a.SigmaMax)
	}
	return nil
}

// ViewSpec is one group of identically-made views (it mirrors sdk.ViewSpec).
type ViewSpec struct {
	Count int
	// Size is the view side in pixels; 0 means the image side; a negative
	// value -N means N percent of it (-50 is half).
	Size int
	// Preset names the recipe (see PresetNames).
	Preset string
	// ScaleMin, ScaleMax override the preset's crop scale when non-zero.
	ScaleMin, ScaleMax float64
}

// Side returns the view side for images of side imgSide.
func (v ViewSpec) Side(imgSide int) int {
	switch {
	case v.Size > 0:
		return v.Size
	case v.Size < 0:
		return max(1, int(math.Round(float64(imgSide)*float64(-v.Size)/100)))
	}
	return imgSide
}

// Aug resolves the spec's preset with its scale overrides and validates it.
func (v ViewSpec) Aug() (Aug, error) {
	a, err := Preset(v.Preset)
	if err != nil {
		return Aug{}, err
	}
	if v.ScaleMin != 0 {
		a.ScaleMin = v.ScaleMin
	}
	if v.ScaleMax != 0 {
		a.ScaleMax = v.ScaleMax
	}
	if err := a.Validate(); err != nil {
		return Aug{}, err
	}
	return a, nil
}

// ---------------------------------------------------------------------------
// The per-view pipeline.

// Augmenter applies augmentations. It owns scratch buffers, so one
// Augmenter must not be used by two goroutines at once; after warm-up it
// allocates nothing.
type Augmenter struct {
	x0, x1 []int32   // S: source columns left/right of each output column
	wx     []float32 // S: weight of x1
	rowA   []float32 // S: horizontally interpolated source rows
	rowB   []float32
	tmp    []float32 // C·S·S: blur scratch
	pad    []float32 // S+2·radius: one reflect-padded row
	ridx   []int32   // S+2·radius: reflected row indices
	kern   []float32 // blur kernel
}

// Apply writes one augmented, normalised view of im into dst (length
// C·S·S, CHW), drawing randomness from (seed, epoch, index, view). It panics
// if len(dst) is wrong (a programmer error).
func (a *Augmenter) Apply(dst []float32, im Image, aug *Aug, s int, nm *Norm, seed int64, epoch, index, view int) {
	r := newRNG(uint64(seed), uint64(epoch), uint64(index), uint64(view))
	a.apply(dst, im, aug, s, nm, &r)
}

func (a *Augmenter) apply(dst []float32, im Image, aug *Aug, s int, nm *Norm, r *rng) {
	c := im.C
	ss := s * s
	if len(dst) != c*ss {
		panic(fmt.Sprintf("data: view buffer has %d floats, want %d (C=%d, S=%d)", len(dst), c*ss, c, s))
	}
	// RandomResizedCrop (or the whole image), then flip.
	top, left, ch, cw := 0, 0, im.H, im.W
	if aug.Crop {
		top, left, ch, cw = cropBox(r, im.H, im.W, aug)
	}
	flip := r.coin(aug.FlipP)
	a.resize(dst, im, top, left, ch, cw, s, flip)

	// ColorJitter: factors drawn as in torchvision, applied in random order.
	if r.coin(aug.JitterP) {
		b := r.uniform(max(0, 1-aug.Brightness), 1+aug.Brightness)
		ct := r.uniform(max(0, 1-aug.Contrast), 1+aug.Contrast)
		sat := r.uniform(max(0, 1-aug.Saturation), 1+aug.Saturation)
		hue := r.uniform(-aug.Hue, aug.Hue)
		order := [4]int{0, 1, 2, 3}
		for i := 3; i > 0; i-- {
			j := r.intn(i + 1)
			order[i], order[j] = order[j], order[i]
		}
		for _, op := range order {
			switch op {
			case 0:
				if aug.Brightness > 0 {
					scaleClamp(dst, float32(b))
				}
			case 1:
				if aug.Contrast > 0 {
					adjustContrast(dst, c, ss, float32(ct))
				}
			case 2:
				if aug.Saturation > 0 && c == 3 {
					adjustSaturation(dst, ss, float32(sat))
				}
			case 3:
				if aug.Hue > 0 && c == 3 {
					shiftHue(dst, ss, float32(hue))
				}
			}
		}
	}
	if r.coin(aug.GrayP) && c == 3 {
		toGray(dst, ss)
	}
	if r.coin(aug.BlurP) {
		sigma := r.uniform(aug.SigmaMin, aug.SigmaMax) * float64(s) / 224
		a.blur(dst, c, s, sigma)
	}
	if r.coin(aug.SolarizeP) {
		for i, v := range dst {
			if v >= 0.5 {
				dst[i] = 1 - v
			}
		}
	}
	// Normalise.
	for k := range c {
		m, inv := nm.Mean[k], 1/nm.Std[k]
		p := dst[k*ss : (k+1)*ss]
		for i, v := range p {
			p[i] = (v - m) * inv
		}
	}
}

// cropBox samples torchvision's RandomResizedCrop box: up to 10 tries of an
// area fraction and log-uniform aspect ratio that fit, else a centre crop
// with the ratio clamped into range.
func cropBox(r *rng, h, w int, aug *Aug) (top, left, ch, cw int) {
	area := float64(h * w)
	lr0, lr1 := math.Log(aug.RatioMin), math.Log(aug.RatioMax)
	for range 10 {
		target := area * r.uniform(aug.ScaleMin, aug.ScaleMax)
		ar := math.Exp(r.uniform(lr0, lr1))
		cw = int(math.Round(math.Sqrt(target * ar)))
		ch = int(math.Round(math.Sqrt(target / ar)))
		if cw > 0 && ch > 0 && cw <= w && ch <= h {
			top = r.intn(h - ch + 1)
			left = r.intn(w - cw + 1)
			return
		}
	}
	ratio := float64(w) / float64(h)
	switch {
	case ratio < aug.RatioMin:
		cw, ch = w, int(math.Round(float64(w)/aug.RatioMin))
	case ratio > aug.RatioMax:
		ch, cw = h, int(math.Round(float64(h)*aug.RatioMax))
	default:
		cw, ch = w, h
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// resize samples the box (top,left,ch,cw) of im bilinearly (half-pixel
// centres, like align_corners=False) into dst (C,S,S) scaled to [0,1],
// mirrored horizontally when flip is set. Two passes: each needed source row
// is interpolated horizontally once (cached), then rows are blended.
func (a *Augmenter) resize(dst []float32, im Image, top, left, ch, cw, s int, flip bool) {
	if cap(a.x0) < s {
		a.x0, a.x1, a.wx = make([]int32, s), make([]int32, s), make([]float32, s)
		a.rowA, a.rowB = make([]float32, s), make([]float32, s)
	}
	x0, x1, wx := a.x0[:s], a.x1[:s], a.wx[:s]
	rowA, rowB := a.rowA[:s], a.rowB[:s]
	sx := float64(cw) / float64(s)
	for ox := range s {
		src := (float64(ox)+0.5)*sx - 0.5
		src = min(max(src, 0), float64(cw-1))
		i0 := int(src)
		i1 := min(i0+1, cw-1)
		k := ox
		if flip {
			k = s - 1 - ox
		}
		x0[k], x1[k], wx[k] = int32(left+i0), int32(left+i1), float32(src-float64(i0))
	}
	hpass := func(out []float32, row []uint8) {
		for ox := range out {
			v0 := float32(row[x0[ox]])
			out[ox] = v0 + (float32(row[x1[ox]])-v0)*wx[ox]
		}
	}
	sy := float64(ch) / float64(s)
	hw := im.H * im.W
	const inv = 1.0 / 255
	for c := range im.C {
		plane := im.Pix[c*hw : (c+1)*hw]
		ja, jb := -1, -1 // source rows held in rowA, rowB
		for oy := range s {
			src := (float64(oy)+0.5)*sy - 0.5
			src = min(max(src, 0), float64(ch-1))
			j0 := int(src)
			j1 := min(j0+1, ch-1)
			wy := float32(src - float64(j0))
			if j0 != ja {
				if j0 == jb {
					rowA, rowB = rowB, rowA
					ja, jb = jb, ja
				} else {
					hpass(rowA, plane[(top+j0)*im.W:(top+j0+1)*im.W])
					ja = j0
				}
			}
			out := dst[c*s*s+oy*s : c*s*s+(oy+1)*s]
			if wy == 0 {
				for ox, v := range rowA {
					out[ox] = v * inv
				}
				continue
			}
			if j1 != jb {
				hpass(rowB, plane[(top+j1)*im.W:(top+j1+1)*im.W])
				jb = j1
			}
			for ox, v := range rowA {
				out[ox] = (v + (rowB[ox]-v)*wy) * inv
			}
		}
	}
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// scaleClamp is torchvision's adjust_brightness: x·f clipped to [0,1].
func scaleClamp(x []float32, f float32) {
	for i, v := range x {
		x[i] = clamp01(v * f)
	}
}

// gray is ITU-R 601-2 luma, as in PIL's convert("L").
func gray(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

// adjustContrast blends every pixel with the mean luma of the image:
// f·x + (1−f)·mean, clipped (torchvision's adjust_contrast).
func adjustContrast(x []float32, c, ss int, f float32) {
	var sum float64
	if c == 3 {
		for i := range ss {
			sum += float64(gray(x[i], x[ss+i], x[2*ss+i]))
		}
	} else {
		for _, v := range x[:ss] {
			sum += float64(v)
		}
	}
	m := float32(sum/float64(ss)) * (1 - f)
	for i, v := range x {
		x[i] = clamp01(f*v + m)
	}
}

// adjustSaturation blends each RGB pixel with its luma.
func adjustSaturation(x []float32, ss int, f float32) {
	r, g, b := x[:ss], x[ss:2*ss], x[2*ss:3*ss]
	for i := range ss {
		l := gray(r[i], g[i], b[i]) * (1 - f)
		r[i] = clamp01(f*r[i] + l)
		g[i] = clamp01(f*g[i] + l)
		b[i] = clamp01(f*b[i] + l)
	}
}

// shiftHue rotates the hue of each RGB pixel by h turns (HSV round trip).
func shiftHue(x []float32, ss int, h float32) {
	r, g, b := x[:ss], x[ss:2*ss], x[2*ss:3*ss]
	for i := range ss {
		r[i], g[i], b[i] = hueRotate(r[i], g[i], b[i], h)
	}
}

func hueRotate(r, g, b, dh float32) (float32, float32, float32) {
	mx := max(r, g, b)
	mn := min(r, g, b)
	d := mx - mn
	if d == 0 {
		return r, g, b // gray: hue undefined, unchanged
	}
	var h float32
	switch mx {
	case r:
		h = (g - b) / d
		if h < 0 {
			h += 6
		}
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	h = h/6 + dh // in [-0.5, 1.5): wrap into [0,1)
	if h < 0 {
		h++
	} else if h >= 1 {
		h--
	}
	s, v := d/mx, mx
	h6 := h * 6
	k := int(h6)
	f := h6 - float32(k)
	p := v * (1 - s)
	q := v * (1 - s*f)
	t := v * (1 - s*(1-f))
	switch k % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

// toGray replaces every channel of an RGB view with its luma.
func toGray(x []float32, ss int) {
	r, g, b := x[:ss], x[ss:2*ss], x[2*ss:3*ss]
	for i := range ss {
		l := gray(r[i], g[i], b[i])
		r[i], g[i], b[i] = l, l, l
	}
}

// blur is a separable Gaussian blur with reflect padding. The kernel side
// is about 10% of S (odd, ≥ 3) as in the papers, truncated to ±4σ where the
// dropped weights are below 3.4e-4 of the peak.
func (a *Augmenter) blur(x []float32, c, s int, sigma float64) {
	if s < 2 {
		return
	}
	k := int(math.Round(0.1 * float64(s)))
	k = max(3, k|1)
	rad := min(k/2, max(1, int(math.Ceil(4*sigma))), s-1)
	k = 2*rad + 1
	if cap(a.kern) < k {
		a.kern = make([]float32, k)
	}
	kern := a.kern[:k]
	var sum float64
	for i := range k {
		d := float64(i - rad)
		w := math.Exp(-d * d / (2 * sigma * sigma))
		kern[i] = float32(w)
		sum += w
	}
	// Weights below 1e-6 are flushed to zero: they change no pixel by more
	// than 1e-6, and as float32 denormals they would make the loops ~50×
	// slower. A kernel left with only its centre is the identity.
	for i := range kern {
		w := float64(kern[i]) / sum
		if w < 1e-6 {
			w = 0
		}
		kern[i] = float32(w)
	}
	for kern[0] == 0 && rad > 0 {
		rad--
		kern = kern[1 : len(kern)-1]
	}
	if rad == 0 {
		return
	}
	k = len(kern)
	if cap(a.tmp) < c*s*s {
		a.tmp = make([]float32, c*s*s)
	}
	if cap(a.pad) < s+2*rad {
		a.pad = make([]float32, s+2*rad)
		a.ridx = make([]int32, s+2*rad)
	}
	tmp, pad, ridx := a.tmp[:c*s*s], a.pad[:s+2*rad], a.ridx[:s+2*rad]
	// reflect without repeating the edge (torch's "reflect"); rad < s.
	for i := range ridx {
		j := i - rad
		if j < 0 {
			j = -j
		}
		if j >= s {
			j = 2*(s-1) - j
		}
		ridx[i] = int32(j)
	}
	// Horizontal pass x → tmp through a padded copy of each row.
	for row := range c * s {
		in := x[row*s : (row+1)*s]
		for i, j := range ridx {
			pad[i] = in[j]
		}
		out := tmp[row*s : (row+1)*s]
		for ox := range out {
			win := pad[ox : ox+k]
			var acc float32
			for t, w := range kern {
				acc += w * win[t]
			}
			out[ox] = acc
		}
	}
	// Vertical pass tmp → x.
	for ch := range c {
		in := tmp[ch*s*s : (ch+1)*s*s]
		out := x[ch*s*s : (ch+1)*s*s]
		for oy := range s {
			o := out[oy*s : (oy+1)*s]
			clear(o)
			for t, w := range kern {
				r := int(ridx[oy+t])
				src := in[r*s : (r+1)*s]
				for ox := range o {
					o[ox] += w * src[ox]
				}
			}
		}
	}
}
