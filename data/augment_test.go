package data

import (
	"math"
	"runtime"
	"strings"
	"testing"
)

// testImage returns a deterministic image with a gradient and some texture.
func testImage(c, h, w int) Image {
	pix := make([]uint8, c*h*w)
	for ch := range c {
		for y := range h {
			for x := range w {
				pix[ch*h*w+y*w+x] = uint8((x*13 + y*7 + ch*60 + x*y) % 256)
			}
		}
	}
	return Image{C: c, H: h, W: w, Pix: pix}
}

func unitNorm(c int) *Norm {
	n := &Norm{}
	for range c {
		n.Mean = append(n.Mean, 0)
		n.Std = append(n.Std, 1)
	}
	return n
}

func TestPresetsValid(t *testing.T) {
	want := []string{"byol1", "byol2", "none", "simclr", "simsiam", "swav-global", "swav-local"}
	if got := PresetNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("presets %v, want %v", got, want)
	}
	for _, n := range want {
		a, err := Preset(n)
		must(t, err)
		must(t, a.Validate())
	}
	// The papers' asymmetries.
	b1, _ := Preset("byol1")
	b2, _ := Preset("byol2")
	if b1.BlurP != 1 || b2.BlurP != 0.1 || b1.SolarizeP != 0 || b2.SolarizeP != 0.2 {
		t.Errorf("byol blur %v/%v solarize %v/%v", b1.BlurP, b2.BlurP, b1.SolarizeP, b2.SolarizeP)
	}
	if _, err := Preset("moco"); err == nil || !strings.Contains(err.Error(), "simsiam") {
		t.Errorf("unknown preset error should list the presets: %v", err)
	}
}

func TestAugValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Aug)
		want string
	}{
		{"prob", func(a *Aug) { a.FlipP = 1.5 }, "FlipP"},
		{"scale order", func(a *Aug) { a.ScaleMin, a.ScaleMax = 0.9, 0.1 }, "crop scale"},
		{"scale zero", func(a *Aug) { a.ScaleMin = 0 }, "crop scale"},
		{"hue", func(a *Aug) { a.Hue = 0.7 }, "hue"},
		{"sigma", func(a *Aug) { a.SigmaMin = 0 }, "σ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := Preset("simsiam")
			tc.mod(&a)
			if err := a.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := (ViewSpec{Count: 1, Preset: "simsiam", ScaleMin: 2}).Aug(); err == nil {
		t.Error("ScaleMin 2 accepted")
	}
}

func TestViewSide(t *testing.T) {
	cases := []struct{ size, img, want int }{{0, 28, 28}, {20, 28, 20}, {-50, 28, 14}, {-50, 96, 48}, {-1, 28, 1}}
	for _, tc := range cases {
		if got := (ViewSpec{Size: tc.size}).Side(tc.img); got != tc.want {
			t.Errorf("Side(size %d, img %d) = %d, want %d", tc.size, tc.img, got, tc.want)
		}
	}
}

// TestNoneIsNormalisedIdentity: preset "none" at the image's own size is
// exactly (x/255 − mean)/std.
func TestNoneIsNormalisedIdentity(t *testing.T) {
	im := testImage(3, 9, 9)
	aug, _ := Preset("none")
	nm := &Norm{Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{0.5, 0.25, 2}}
	dst := make([]float32, 3*81)
	var a Augmenter
	a.Apply(dst, im, &aug, 9, nm, 1, 0, 0, 0)
	for i, p := range im.Pix {
		c := i / 81
		want := (float32(p)/255 - nm.Mean[c]) / nm.Std[c]
		if math.Abs(float64(dst[i]-want)) > 1e-6 {
			t.Fatalf("pixel %d: got %v want %v", i, dst[i], want)
		}
	}
}

// resizeNaive is the reference bilinear crop-resize (half-pixel centres,
// clamped to the box), written directly from the definition.
func resizeNaive(im Image, top, left, ch, cw, s int, flip bool) []float32 {
	out := make([]float32, im.C*s*s)
	at := func(c, y, x int) float64 { return float64(im.Pix[c*im.H*im.W+(top+y)*im.W+left+x]) }
	for c := range im.C {
		for oy := range s {
			for ox := range s {
				sx := math.Min(math.Max((float64(ox)+0.5)*float64(cw)/float64(s)-0.5, 0), float64(cw-1))
				sy := math.Min(math.Max((float64(oy)+0.5)*float64(ch)/float64(s)-0.5, 0), float64(ch-1))
				x0, y0 := int(sx), int(sy)
				x1, y1 := min(x0+1, cw-1), min(y0+1, ch-1)
				fx, fy := sx-float64(x0), sy-float64(y0)
				v := (1-fy)*((1-fx)*at(c, y0, x0)+fx*at(c, y0, x1)) + fy*((1-fx)*at(c, y1, x0)+fx*at(c, y1, x1))
				k := ox
				if flip {
					k = s - 1 - ox
				}
				out[c*s*s+oy*s+k] = float32(v / 255)
			}
		}
	}
	return out
}

func TestResizeMatchesNaive(t *testing.T) {
	cases := []struct {
		name                 string
		c, h, w              int
		top, left, ch, cw, s int
		flip                 bool
	}{
		{"upscale gray", 1, 28, 28, 3, 5, 10, 12, 28, false},
		{"downscale rgb flip", 3, 32, 32, 0, 0, 32, 32, 13, true},
		{"odd non-square", 3, 17, 23, 2, 4, 11, 7, 9, false},
		{"1x1 box", 1, 5, 5, 2, 2, 1, 1, 4, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im := testImage(tc.c, tc.h, tc.w)
			var a Augmenter
			got := make([]float32, tc.c*tc.s*tc.s)
			a.resize(got, im, tc.top, tc.left, tc.ch, tc.cw, tc.s, tc.flip)
			want := resizeNaive(im, tc.top, tc.left, tc.ch, tc.cw, tc.s, tc.flip)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("pixel %d: got %v want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestCropBox: every sampled box lies inside the image; boxes that come
// from the sampling loop respect the scale and ratio ranges (up to rounding).
func TestCropBox(t *testing.T) {
	for _, tc := range []struct{ h, w int }{{28, 28}, {32, 32}, {96, 96}, {7, 40}, {3, 3}} {
		for _, name := range []string{"simsiam", "simclr", "swav-local"} {
			aug, _ := Preset(name)
			r := newRNG(1, 2, 3, uint64(tc.h))
			var inRange int
			for k := range 2000 {
				top, left, ch, cw := cropBox(&r, tc.h, tc.w, &aug)
				if top < 0 || left < 0 || ch <= 0 || cw <= 0 || top+ch > tc.h || left+cw > tc.w {
					t.Fatalf("%s %dx%d draw %d: box (%d,%d,%d,%d) outside the image", name, tc.h, tc.w, k, top, left, ch, cw)
				}
				frac := float64(ch*cw) / float64(tc.h*tc.w)
				// rounding of each side by ±0.5 px bounds the area error
				slack := (float64(ch+cw)*0.5 + 0.25) / float64(tc.h*tc.w)
				if frac >= aug.ScaleMin-slack && frac <= aug.ScaleMax+slack {
					inRange++
				}
			}
			if tc.h*tc.w >= 28*28 && inRange < 1990 {
				t.Errorf("%s %dx%d: only %d of 2000 boxes within the scale range", name, tc.h, tc.w, inRange)
			}
		}
	}
}

func TestColorOps(t *testing.T) {
	// Brightness: scale and clip.
	x := []float32{0.2, 0.6, 0.9}
	scaleClamp(x, 1.5)
	assertClose(t, "brightness", x, []float32{0.3, 0.9, 1})
	// Contrast on one channel: blend with the mean (0.5).
	x = []float32{0.2, 0.8}
	adjustContrast(x, 1, 2, 0.5)
	assertClose(t, "contrast", x, []float32{0.35, 0.65})
	// Saturation 0 gives luma in every channel.
	x = []float32{1, 0, 0} // one red pixel, planes R,G,B
	adjustSaturation(x, 1, 0)
	assertClose(t, "saturation", x, []float32{0.299, 0.299, 0.299})
	// Hue: a third of a turn maps red to green, green to blue.
	x = []float32{1, 0, 0, 1, 0, 0} // pixels red, green (planes R,G,B with 2 pixels)
	shiftHue(x, 2, 1.0/3)
	assertClose(t, "hue", x, []float32{0, 0, 1, 0, 0, 1})
	// Hue 0 is the identity on an arbitrary colour; gray stays gray.
	x = []float32{0.3, 0.5, 0.7, 0.5, 0.1, 0.5}
	shiftHue(x, 2, 0)
	assertClose(t, "hue0", x, []float32{0.3, 0.5, 0.7, 0.5, 0.1, 0.5})
	x = []float32{0.3, 0.6, 0.9}
	toGray(x, 1)
	l := float32(0.299*0.3 + 0.587*0.6 + 0.114*0.9)
	assertClose(t, "gray", x, []float32{l, l, l})
}

func assertClose(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Errorf("%s: got %v, want %v", name, got, want)
			return
		}
	}
}

func TestBlur(t *testing.T) {
	var a Augmenter
	s := 40
	// A constant image is unchanged.
	x := make([]float32, s*s)
	for i := range x {
		x[i] = 0.25
	}
	a.blur(x, 1, s, 1.5)
	for i, v := range x {
		if math.Abs(float64(v-0.25)) > 1e-6 {
			t.Fatalf("constant image changed at %d: %v", i, v)
		}
	}
	// An impulse in the middle spreads into the normalised, symmetric kernel.
	clear(x)
	x[20*s+20] = 1
	a.blur(x, 1, s, 1.0)
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("impulse mass %v after blur, want 1", sum)
	}
	if x[20*s+20] >= 1 || x[20*s+19] != x[20*s+21] || x[19*s+20] != x[21*s+20] || x[19*s+20] != x[20*s+19] {
		t.Errorf("blur not symmetric: centre %v, neighbours %v %v %v %v", x[20*s+20], x[20*s+19], x[20*s+21], x[19*s+20], x[21*s+20])
	}
	// The centre weight matches the Gaussian: kernel side 5 at s=40 (σ=1).
	var z float64
	for d := -2; d <= 2; d++ {
		z += math.Exp(-float64(d*d) / 2)
	}
	if want := 1 / (z * z); math.Abs(float64(x[20*s+20])-want) > 1e-5 {
		t.Errorf("centre weight %v, want %v", x[20*s+20], want)
	}
}

func TestSolarizeAndFlip(t *testing.T) {
	im := testImage(1, 6, 6)
	var a Augmenter
	nm := unitNorm(1)
	plain := make([]float32, 36)
	aug := Aug{Name: "t"}
	a.Apply(plain, im, &aug, 6, nm, 0, 0, 0, 0)
	sol := make([]float32, 36)
	aug = Aug{Name: "t", SolarizeP: 1}
	a.Apply(sol, im, &aug, 6, nm, 0, 0, 0, 0)
	flip := make([]float32, 36)
	aug = Aug{Name: "t", FlipP: 1}
	a.Apply(flip, im, &aug, 6, nm, 0, 0, 0, 0)
	for y := range 6 {
		for x := range 6 {
			p := plain[y*6+x]
			want := p
			if p >= 0.5 {
				want = 1 - p
			}
			if sol[y*6+x] != want {
				t.Fatalf("solarize at (%d,%d): %v from %v", y, x, sol[y*6+x], p)
			}
			if flip[y*6+5-x] != p {
				t.Fatalf("flip at (%d,%d)", y, x)
			}
		}
	}
}

// TestApplyDeterministic: the same (seed, epoch, index, view) gives the same
// view; changing any of them changes it.
func TestApplyDeterministic(t *testing.T) {
	im := testImage(3, 32, 32)
	aug, _ := Preset("simclr")
	nm := unitNorm(3)
	var a, b Augmenter
	view := func(x *Augmenter, seed int64, e, i, v int) []float32 {
		d := make([]float32, 3*24*24)
		x.Apply(d, im, &aug, 24, nm, seed, e, i, v)
		return d
	}
	ref := view(&a, 7, 1, 2, 3)
	if !equal(ref, view(&b, 7, 1, 2, 3)) {
		t.Fatal("same inputs gave different views")
	}
	for _, alt := range [][4]int{{8, 1, 2, 3}, {7, 2, 2, 3}, {7, 1, 3, 3}, {7, 1, 2, 4}} {
		if equal(ref, view(&a, int64(alt[0]), alt[1], alt[2], alt[3])) {
			t.Errorf("changing the seed tuple to %v did not change the view", alt)
		}
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestApplyNoAllocs: after warm-up a view costs no allocation.
func TestApplyNoAllocs(t *testing.T) {
	im := testImage(3, 32, 32)
	nm := unitNorm(3)
	for _, name := range PresetNames() {
		aug, _ := Preset(name)
		var a Augmenter
		dst := make([]float32, 3*32*32)
		k := 0
		allocs := testing.AllocsPerRun(50, func() {
			a.Apply(dst, im, &aug, 32, nm, 1, 0, k, 0)
			k++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per view, want 0", name, allocs)
		}
	}
}

func TestApplyWrongBufferPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("wrong buffer length did not panic")
		}
	}()
	var a Augmenter
	aug, _ := Preset("none")
	a.Apply(make([]float32, 5), testImage(1, 4, 4), &aug, 4, unitNorm(1), 0, 0, 0, 0)
}

// BenchmarkAugment measures augmented views per second on one core for each
// preset (wall clock, and per CPU-second of the benchmark's thread, which a
// loaded machine does not distort) at the sizes siambench uses: 28×28 gray (Fashion-MNIST, MNIST) and
// 32×32 RGB (CIFAR). swav-local views are half size.
func BenchmarkAugment(b *testing.B) {
	for _, shape := range []struct {
		name    string
		c, side int
	}{{"28x28x1", 1, 28}, {"32x32x3", 3, 32}, {"96x96x3", 3, 96}} {
		im := testImage(shape.c, shape.side, shape.side)
		nm := unitNorm(shape.c)
		for _, name := range PresetNames() {
			aug, _ := Preset(name)
			s := shape.side
			if name == "swav-local" {
				s /= 2
			}
			b.Run(shape.name+"/"+name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var a Augmenter
				dst := make([]float32, shape.c*s*s)
				i := 0
				cpu0 := threadCPU()
				for b.Loop() {
					a.Apply(dst, im, &aug, s, nm, 1, 0, i, 0)
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
				if cpu := threadCPU() - cpu0; cpu > 0 {
					b.ReportMetric(float64(b.N)/cpu, "views/cpu-s")
				}
			})
		}
	}
}
