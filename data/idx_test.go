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
// accepts is consistent with its header.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(f, []int{2, 2}, []uint8{1, 2, 3, 4}, false))
	f.Add(idxBytes(f, []int{3}, []uint8{1, 2, 3}, true))
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 0})
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
	})
}
