package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
)

// craft builds a checkpoint body by hand (magic, version, one params tensor
// named "w" with the given dims followed by payload bytes, empty buffers,
// optim, blobs and meta) and appends a correct checksum, as a forger would.
func craft(dims []uint32, payload int) []byte {
	var b bytes.Buffer
	u32 := func(v uint32) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString(magic)
	u32(Version)
	u32(1)
	u32(1)
	b.WriteString("w")
	u32(uint32(len(dims)))
	for _, d := range dims {
		u32(d)
	}
	b.Write(make([]byte, payload))
	for range 4 { // buffers, optim, blobs, meta: empty
		u32(0)
	}
	sum := sha256.Sum256(b.Bytes())
	return append(b.Bytes(), sum[:]...)
}

// TestCraftedShapes: a shape whose product overflows, with a recomputed
// checksum, used to panic with "makeslice: len out of range". It is now a
// corrupt-checkpoint error naming the file, the tensor and its shape.
func TestCraftedShapes(t *testing.T) {
	cases := []struct {
		name    string
		dims    []uint32
		payload int
		want    string
	}{
		{"product times 4 wraps to 0", []uint32{1 << 31, 1 << 31}, 0, "(2147483648,2147483648)"},
		{"product wraps int", []uint32{1 << 16, 1 << 16, 1 << 16, 1 << 16}, 16, "(65536,65536,65536,65536)"},
		{"16 huge dims", []uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32,
			math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32}, 8, "4294967295"},
		{"more than the file holds", []uint32{1000, 1000}, 64, "(1000,1000)"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "crafted.bin")
			if err := os.WriteFile(path, craft(tc.dims, tc.payload), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("want ErrCorrupt, got %v", err)
			}
			for _, s := range []string{path, `tensor "w"`, tc.want, "use an earlier checkpoint"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	// The same layout with an honest shape reads back.
	f, err := Read(bytes.NewReader(craft([]uint32{3, 5}, 60)))
	if err != nil || len(f.Params) != 1 || f.Params[0].T.Len() != 15 {
		t.Fatalf("honest crafted file: %v", err)
	}
	// A zero dimension holds no values whatever the others say.
	if f, err := Read(bytes.NewReader(craft([]uint32{math.MaxUint32, 0, math.MaxUint32}, 0))); err != nil || f.Params[0].T.Len() != 0 {
		t.Fatalf("zero-size tensor: %v", err)
	}
}

// TestScalarAndLimits: a 0-dimensional tensor keeps its shape through a
// round trip, and a tensor the format cannot hold is refused by Write.
func TestScalarAndLimits(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, &File{Params: []*nn.Param{{Name: "s", T: nn.Scalar(2.5)}}}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Params[0].T.Shape(); len(s) != 0 || f.Params[0].T.Data[0] != 2.5 {
		t.Fatalf("scalar came back with shape %v data %v", s, f.Params[0].T.Data)
	}
	deep := nn.Zeros(make([]int, 17)...) // 17 dims of size 0 would be unreadable
	buf.Reset()
	if err := Write(&buf, &File{Params: []*nn.Param{{Name: "deep", T: deep}}}); err == nil || !strings.Contains(err.Error(), "17 dimensions") || buf.Len() != 0 {
		t.Fatalf("17-dimensional tensor: err %v, %d bytes written", err, buf.Len())
	}
}

// FuzzRead drives the decoder past the checksum: the fuzzer's input is the
// file without its last 32 bytes, and the correct SHA-256 is appended, so
// mutations reach the tensor, blob and meta parsers. It checks that nothing
// panics, and that an accepted file re-encodes to one that reads back and
// re-encodes to the same bytes.
func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	ck := &File{
		Params:  []*nn.Param{{Name: "a.weight", T: nn.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3)}, {Name: "s", T: nn.Scalar(1)}},
		Buffers: []*nn.Param{{Name: "bn.mean", T: nn.New([]float32{0.5, -0.5}, 2)}},
		Optim:   []*nn.Param{{Name: "m", T: nn.Zeros(0, 4)}},
		Blobs:   map[string][]byte{"plugin": {1, 2, 3}, "empty": {}},
		Meta:    map[string]string{"epoch": "3"},
	}
	if err := Write(&good, ck); err != nil {
		f.Fatal(err)
	}
	body := func(b []byte) []byte { return b[:len(b)-sha256.Size] }
	f.Add(body(good.Bytes()))
	f.Add(body(craft([]uint32{1 << 31, 1 << 31}, 0)))
	f.Add(body(craft([]uint32{3, 5}, 60)))
	f.Add(body(craft([]uint32{3, 5}, 56)))
	f.Add([]byte(magic))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sum := sha256.Sum256(in)
		file := append(append([]byte{}, in...), sum[:]...)
		got, err := Read(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error is not ErrCorrupt: %v", err)
			}
			return
		}
		var b1, b2 bytes.Buffer
		if err := Write(&b1, got); err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		again, err := Read(bytes.NewReader(b1.Bytes()))
		if err != nil {
			t.Fatalf("re-encoded file does not read: %v", err)
		}
		if err := Write(&b2, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatal("encode→decode→encode changed the bytes")
		}
		if len(b1.Bytes()) != len(file) {
			t.Fatalf("accepted %d bytes but they re-encode to %d (something was dropped or invented)", len(file), b1.Len())
		}
	})
}
