package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFloat32RoundTrip(t *testing.T) {
	data := []float32{1, -2.5, 3, 4, 5, float32(math.Pi)}
	var b bytes.Buffer
	if err := WriteFloat32(&b, data, 2, 3); err != nil {
		t.Fatal(err)
	}
	descr, shape, raw, err := Header(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if descr != "<f4" || !reflect.DeepEqual(shape, []int{2, 3}) || len(raw) != 24 {
		t.Fatalf("descr %s shape %v, %d data bytes", descr, shape, len(raw))
	}
	if (b.Len()-len(raw))%64 != 0 {
		t.Errorf("data starts at %d, not 64-aligned", b.Len()-len(raw))
	}
	for i, v := range data {
		if g := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); g != v {
			t.Errorf("value %d: %v, want %v", i, g, v)
		}
	}
}

func TestInt64AndFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "labels.npy")
	if err := SaveInt64(p, []int64{0, 9, -1}, 3); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	descr, shape, raw, err := Header(b)
	if err != nil || descr != "<i8" || !reflect.DeepEqual(shape, []int{3}) || len(raw) != 24 {
		t.Fatalf("%s %v %d %v", descr, shape, len(raw), err)
	}
	if !bytes.Contains(b, []byte("'shape': (3,)")) {
		t.Errorf("1-d shape not written as a tuple: %q", b[:64])
	}
	if int64(binary.LittleEndian.Uint64(raw[16:])) != -1 {
		t.Error("int64 value wrong")
	}
}

func TestBadShape(t *testing.T) {
	if err := WriteFloat32(&bytes.Buffer{}, []float32{1, 2}, 3); err == nil {
		t.Error("no error for 2 values of shape (3)")
	}
	if _, _, _, err := Header([]byte("nope")); err == nil {
		t.Error("no error for a non-npy file")
	}
}
