package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an IDX stream, gzipped when gz is set.
func idxBytes(t testing.TB, dims []int, payload []uint8, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if !gz {
		if err := WriteIDX(&buf, dims, payload); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	zw := gzip.NewWriter(&buf)
	if err := WriteIDX(zw, dims, payload); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeIDXPair writes n images of h×w (pixel = (i*7+k) mod 256) with labels
// i mod classes into dir under the MNIST file names with the given prefix.
func writeIDXPair(t testing.TB, dir, prefix string, n, h, w, classes int, gz bool) ([]uint8, []uint8) {
	t.Helper()
	pix := make([]uint8, n*h*w)
	for i := range pix {
		pix[i] = uint8(i*7 + i/(h*w))
	}
	lab := make([]uint8, n)
	for i := range lab {
		lab[i] = uint8(i % classes)
	}
	ext := ""
	if gz {
		ext = ".gz"
	}
	must(t, os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"+ext), idxBytes(t, []int{n, h, w}, pix, gz), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"+ext), idxBytes(t, []int{n}, lab, gz), 0o644))
	return pix, lab
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadIDXRoundTrip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		payload := []uint8{1, 2, 3, 4, 5, 6}
		x, err := ReadIDX(bytes.NewReader(idxBytes(t, []int{2, 3}, payload, gz)))
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if len(x.Dims) != 2 || x.Dims[0] != 2 || x.Dims[1] != 3 || !bytes.Equal(x.Data, payload) {
			t.Fatalf("gz=%v: got dims %v data %v", gz, x.Dims, x.Data)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(t, []int{2, 2}, []uint8{1, 2, 3, 4}, false)
	gzGood := idxBytes(t, []int{2, 2}, []uint8{1, 2, 3, 4}, true)
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"wrong magic", append([]byte{1, 2}, good[2:]...), "wrong IDX magic"},
		{"wrong magic says what is expected", append([]byte{8, 3, 0, 0}, good[4:]...), "00000803"},
		{"rank byte wrong", []byte{0, 0, 8, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "wrong magic number"},
		{"float type", append([]byte{0, 0, 0x0d}, good[3:]...), "not supported"},
		{"rank zero", []byte{0, 0, 8, 0}, "rank is 0"},
		{"truncated header", good[:6], "truncated"},
		{"truncated payload", good[:len(good)-1], "payload truncated"},
		{"trailing data", append(append([]byte{}, good...), 9), "trailing data"},
		{"huge header", []byte{0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "corrupt header"},
		{"truncated gzip", gzGood[:len(gzGood)-10], "IDX"},
		{"gzip garbage", []byte{0x1f, 0x8b, 0, 0}, "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLoadIDXPair(t *testing.T) {
	dir := t.TempDir()
	pix, lab := writeIDXPair(t, dir, "train", 5, 4, 3, 10, true)
	m, err := LoadIDXPair("x", filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"), MNISTClasses)
	must(t, err)
	if m.Len() != 5 {
		t.Fatalf("Len = %d, want 5", m.Len())
	}
	im := m.Image(3)
	if im.C != 1 || im.H != 4 || im.W != 3 || !bytes.Equal(im.Pix, pix[36:48]) || m.Label(3) != int(lab[3]) {
		t.Fatalf("image 3 = %+v label %d", im, m.Label(3))
	}
}

func TestLoadIDXPairErrors(t *testing.T) {
	dir := t.TempDir()
	w := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o644))
		return p
	}
	imgs := w("imgs", idxBytes(t, []int{3, 2, 2}, make([]uint8, 12), false))
	labs := w("labs", idxBytes(t, []int{3}, []uint8{0, 1, 2}, false))
	labs2 := w("labs2", idxBytes(t, []int{2}, []uint8{0, 1}, false))
	bad := w("badlab", idxBytes(t, []int{3}, []uint8{0, 1, 12}, false))
	rank2 := w("rank2", idxBytes(t, []int{3, 4}, make([]uint8, 12), false))
	empty := w("empty", idxBytes(t, []int{0, 2, 2}, nil, false))
	emptyL := w("emptyl", idxBytes(t, []int{0}, nil, false))
	cases := []struct {
		name, imgs, labs string
		want             []string
	}{
		{"count mismatch", imgs, labs2, []string{"count mismatch", "imgs", "labs2", "3 images", "2 labels"}},
		{"label out of range", imgs, bad, []string{"badlab", "label 12"}},
		{"images rank", rank2, labs, []string{"rank2", "rank 2"}},
		{"labels rank", imgs, rank2, []string{"rank2", "rank 2"}},
		{"no images", empty, emptyL, []string{"empty", "no images"}},
		// An images file whose rank byte is wrong used to read pixels as
		// dimensions and report "announces more than 4294967296 bytes".
		{"images magic", w("badmagic", append([]byte{0, 0, 8, 8}, idxBytes(t, []int{3, 2, 2}, make([]uint8, 12), false)[4:]...)), labs,
			[]string{"badmagic", "wrong IDX magic number 00000808", "an images file starts with 00000803"}},
		{"labels magic", imgs, w("badlabmagic", append([]byte{0, 0, 8, 3}, idxBytes(t, []int{3}, []uint8{0, 1, 2}, false)[4:]...)),
			[]string{"badlabmagic", "wrong IDX magic number 00000803", "a labels file starts with 00000801"}},
		{"not IDX at all", w("text", []byte("hello, world\n")), labs, []string{"text", "wrong IDX magic", "00000803"}},
		{"missing file", filepath.Join(dir, "nope"), labs, []string{"nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadIDXPair("x", tc.imgs, tc.labs, MNISTClasses)
			if err == nil {
				t.Fatal("want error, got nil")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

// FuzzReadIDX checks that no input makes the parser panic, and that what it
// accepts is consistent with its header: the dimensions hold exactly the
// payload, and an accepted plain (not gzipped) stream re-encodes to itself.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(f, []int{2, 2}, []uint8{1, 2, 3, 4}, false))
	f.Add(idxBytes(f, []int{3}, []uint8{1, 2, 3}, true))
	f.Add(idxBytes(f, []int{2, 3, 2}, make([]uint8, 12), false))
	f.Add(idxBytes(f, []int{2, 3, 2}, make([]uint8, 12), true))
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 8, 8, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2}) // wrong rank byte: pixels read as dims
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1})             // truncated header
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := ReadIDX(bytes.NewReader(in))
		if err != nil {
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v hold %d bytes, data has %d", x.Dims, n, len(x.Data))
		}
		var out bytes.Buffer
		if err := WriteIDX(&out, x.Dims, x.Data); err != nil {
			t.Fatalf("accepted dims %v do not re-encode: %v", x.Dims, err)
		}
		if !(len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b) && !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("re-encoding differs from the accepted input (%d vs %d bytes)", out.Len(), len(in))
		}
	})
}

// FuzzLoadIDXPair checks the images+labels pair reader end to end: no
// panic, and an accepted pair has one label per image, labels among the
// classes and the images' bytes unchanged.
func FuzzLoadIDXPair(f *testing.F) {
	imgs := idxBytes(f, []int{3, 2, 2}, []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, false)
	labs := idxBytes(f, []int{3}, []uint8{0, 1, 9}, false)
	f.Add(imgs, labs)
	f.Add(idxBytes(f, []int{3, 2, 2}, make([]uint8, 12), true), idxBytes(f, []int{3}, []uint8{0, 1, 2}, true))
	f.Add(labs, imgs)                                            // swapped files
	f.Add(imgs, idxBytes(f, []int{2}, []uint8{0, 1}, false))     // count mismatch
	f.Add(imgs, idxBytes(f, []int{3}, []uint8{0, 1, 10}, false)) // label out of range
	f.Add(idxBytes(f, []int{3, 0, 2}, nil, false), labs)         // zero-size images
	dir := f.TempDir()
	ip, lp := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
	f.Fuzz(func(t *testing.T, im, lb []byte) {
		must(t, os.WriteFile(ip, im, 0o644))
		must(t, os.WriteFile(lp, lb, 0o644))
		m, err := LoadIDXPair("x", ip, lp, MNISTClasses)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		x, err := ReadIDX(bytes.NewReader(im))
		if err != nil {
			t.Fatalf("pair accepted but images file alone is not: %v", err)
		}
		if len(x.Dims) != 3 || m.Len() != x.Dims[0] {
			t.Fatalf("dims %v but %d images", x.Dims, m.Len())
		}
		for i := range m.Len() {
			img := m.Image(i)
			sz := img.H * img.W
			if img.C != 1 || img.H != x.Dims[1] || img.W != x.Dims[2] || !bytes.Equal(img.Pix, x.Data[i*sz:(i+1)*sz]) {
				t.Fatalf("image %d differs from the file", i)
			}
			if l := m.Label(i); l < 0 || l >= len(MNISTClasses) {
				t.Fatalf("label %d of image %d outside the classes", l, i)
			}
		}
	})
}
