package data

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// pngHeader returns a PNG stream that is valid up to its first IDAT: the
// signature, an IHDR chunk declaring w×h 8-bit RGB with a correct CRC, and a
// tiny IDAT, then IEND. A decoder that trusts the header allocates w·h·4
// bytes before it notices the data is missing.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		b.Write(body)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // bit depth 8, colour type RGB; compression, filter, interlace 0
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x62, 0x00, 0x00, 0x00, 0xff, 0xff}) // a zlib stream that stops short
	chunk("IEND", nil)
	return b.Bytes()
}

// TestOpenFolderHugeHeader: a few dozen bytes claiming 200000×200000 pixels
// used to kill bench with "fatal error: runtime: out of memory", and
// 20000×20000 decoded silently into 580 MB. Both are now refused from the
// header, naming the file and the limit, without allocating the image.
func TestOpenFolderHugeHeader(t *testing.T) {
	for _, side := range []uint32{200000, 20000, 8193} {
		t.Run(fmt.Sprint(side), func(t *testing.T) {
			root := t.TempDir()
			writePNG(t, filepath.Join(root, "train", "a", "ok.png"), solid(4, 4, color.White))
			writePNG(t, filepath.Join(root, "test", "a", "ok.png"), solid(4, 4, color.White))
			huge := filepath.Join(root, "train", "a", "huge.png")
			must(t, os.WriteFile(huge, pngHeader(side, side), 0o644))
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Open(context.Background(), "folder:"+root, OpenOptions{ImageSize: 8})
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("want an error, got nil")
			}
			for _, s := range []string{huge, fmt.Sprintf("%d×%d", side, side), fmt.Sprint(MaxImagePixels), "limit"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("opening the folder allocated %d MiB: the image was decoded", got>>20)
			}
		})
	}
}

// TestDecodeImageLimit: an image exactly at the limit is accepted, one pixel
// over it is refused, naming the file and its size.
func TestDecodeImageLimit(t *testing.T) {
	var buf bytes.Buffer
	must(t, png.Encode(&buf, solid(40, 10, color.White)))
	if _, _, err := decodeImage(bytes.NewReader(buf.Bytes()), "x.png", 4, 400, nil); err != nil {
		t.Fatalf("400 pixels at a limit of 400: %v", err)
	}
	if _, _, err := decodeImage(bytes.NewReader(buf.Bytes()), "x.png", 4, 399, nil); err == nil || !strings.Contains(err.Error(), "x.png") || !strings.Contains(err.Error(), "40×10") {
		t.Fatalf("400 pixels at a limit of 399: want an error naming x.png and 40×10, got %v", err)
	}
}

// TestPixelBudget: parallel decodes never hold more pixels together than
// the budget, and all finish.
func TestPixelBudget(t *testing.T) {
	var imgs [][]byte
	for _, side := range []int{30, 20, 10, 25, 5, 30, 15} {
		var b bytes.Buffer
		must(t, png.Encode(&b, solid(side, side, color.White)))
		imgs = append(imgs, b.Bytes())
	}
	budget := newPixelBudget(30 * 30)
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(imgs))
	for range 4 {
		for _, im := range imgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := decodeImage(bytes.NewReader(im), "x.png", 4, 30*30, budget)
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if budget.peak > 30*30 || budget.used != 0 || budget.free != 30*30 {
		t.Fatalf("peak %d used %d free %d, want peak ≤ 900, 0, 900", budget.peak, budget.used, budget.free)
	}
}

// --- fuzz targets for the binary formats and image files

// FuzzCIFAR checks the CIFAR record reader: no panic; an accepted file has
// one label per record, labels among the classes and the pixels unchanged.
func FuzzCIFAR(f *testing.F) {
	f.Add(cifarRecords(2, 1, 10), 1)
	f.Add(cifarRecords(2, 2, 100), 2)
	f.Add(cifarRecords(1, 1, 12), 1)        // label outside the classes
	f.Add(cifarRecords(2, 1, 10)[:4000], 1) // truncated
	f.Add(cifarRecords(1, 2, 100), 1)       // CIFAR-100 read as CIFAR-10
	f.Add([]byte{}, 1)
	f.Fuzz(func(t *testing.T, raw []byte, labelBytes int) {
		if labelBytes < 1 || labelBytes > 2 {
			return // the callers pass 1 or 2
		}
		pix, labels, err := appendCIFAR(nil, nil, "f.bin", raw, labelBytes, CIFAR10Classes)
		if err != nil {
			if !strings.Contains(err.Error(), "f.bin") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		rec := labelBytes + cifarImageBytes
		if len(labels) != len(raw)/rec || len(pix) != len(labels)*cifarImageBytes {
			t.Fatalf("%d bytes gave %d labels and %d pixels", len(raw), len(labels), len(pix))
		}
		for i, l := range labels {
			if l < 0 || l >= len(CIFAR10Classes) || l != int(raw[i*rec+labelBytes-1]) {
				t.Fatalf("label %d of record %d", l, i)
			}
			if !bytes.Equal(pix[i*cifarImageBytes:(i+1)*cifarImageBytes], raw[i*rec+labelBytes:(i+1)*rec]) {
				t.Fatalf("pixels of record %d changed", i)
			}
		}
		if _, err := NewMemory("x", 3, 32, 32, pix, labels, CIFAR10Classes); err != nil {
			t.Fatalf("accepted records make no dataset: %v", err)
		}
	})
}

// FuzzSTL10 checks the STL-10 reader: no panic; an accepted file has
// size/27648 images, labels 1..10 shifted to 0..9 (or −1 without a labels
// file), and pixel (c,y,x) is byte c·96²+x·96+y of the column-major file.
func FuzzSTL10(f *testing.F) {
	f.Add(stlImages(1), []byte{3}, true)
	f.Add(stlImages(2), []byte{1, 10}, true)
	f.Add(stlImages(1), []byte{}, false)
	f.Add(stlImages(1), []byte{0}, true)        // label 0
	f.Add(stlImages(1), []byte{1, 2}, true)     // count mismatch
	f.Add(stlImages(1)[:1000], []byte{1}, true) // truncated
	f.Add([]byte{}, []byte{}, true)
	f.Fuzz(func(t *testing.T, raw, labels []byte, hasLabels bool) {
		lp := ""
		if hasLabels {
			lp = "y.bin"
		}
		m, err := decodeSTL10("s", "x.bin", bytes.NewReader(raw), int64(len(raw)), lp, labels, STL10Classes)
		if err != nil {
			if !strings.Contains(err.Error(), "x.bin") && !strings.Contains(err.Error(), "y.bin") {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		if m.Len() != len(raw)/stlImageBytes || len(raw)%stlImageBytes != 0 {
			t.Fatalf("%d bytes gave %d images", len(raw), m.Len())
		}
		for i := range m.Len() {
			want := -1
			if hasLabels {
				want = int(labels[i]) - 1
			}
			if m.Label(i) != want {
				t.Fatalf("label of image %d = %d, want %d", i, m.Label(i), want)
			}
			im := m.Image(i)
			for _, p := range [][3]int{{0, 0, 0}, {1, 5, 7}, {2, 95, 3}, {0, 10, 90}} {
				c, y, x := p[0], p[1], p[2]
				if got, want := im.Pix[c*96*96+y*96+x], raw[i*stlImageBytes+c*96*96+x*96+y]; got != want {
					t.Fatalf("image %d pixel (c=%d,y=%d,x=%d) = %d, want %d", i, c, y, x, got, want)
				}
			}
		}
	})
}

// fuzzImageMaxPixels keeps the fuzzer's decodes small (and fast): the limit
// logic is the same at any size.
const fuzzImageMaxPixels = 1 << 16

// FuzzDecodeImage checks the image-folder decoder on arbitrary file bytes:
// no panic, no decode beyond the pixel limit, and an accepted image comes
// out at the requested side.
func FuzzDecodeImage(f *testing.F) {
	enc := func(im image.Image, jpg bool) []byte {
		var b bytes.Buffer
		if jpg {
			must(f, jpeg.Encode(&b, im, &jpeg.Options{Quality: 90}))
		} else {
			must(f, png.Encode(&b, im))
		}
		return b.Bytes()
	}
	g := image.NewGray(image.Rect(0, 0, 9, 5))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 5)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 3, 7), color.Palette{color.Black, color.White})
	f.Add(enc(solid(6, 4, color.RGBA{200, 10, 10, 255}), false))
	f.Add(enc(solid(6, 4, color.RGBA{200, 10, 10, 255}), true))
	f.Add(enc(g, false))
	f.Add(enc(g, true))
	f.Add(enc(pal, false))
	f.Add(enc(image.NewNRGBA64(image.Rect(0, 0, 2, 3)), false))
	f.Add(pngHeader(200000, 200000))
	f.Add(pngHeader(300, 300)) // within int, over the fuzz limit
	f.Add(pngHeader(16, 16))   // under the limit, data missing
	f.Add(pngHeader(0, 5))
	f.Add([]byte("not an image"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg, _, cfgErr := image.DecodeConfig(bytes.NewReader(in))
		dst, _, err := decodeImage(bytes.NewReader(in), "f.png", 5, fuzzImageMaxPixels, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "f.png") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if cfgErr != nil || int64(cfg.Width)*int64(cfg.Height) > fuzzImageMaxPixels {
			t.Fatalf("accepted an image whose header is %v (%v)", cfg, cfgErr)
		}
		if b := dst.Bounds(); b.Dx() != 5 || b.Dy() != 5 {
			t.Fatalf("output is %v, want 5×5", b)
		}
	})
}
