package wire

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/siambench/siambench/proto/methodpb"
)

// TestEncodeOverflow: a shape whose product overflows int64 (and used to
// wrap, possibly to len(data)) is an encode error, not a message the other
// side must reject.
func TestEncodeOverflow(t *testing.T) {
	for _, shape := range [][]int{{1 << 32, 1 << 32}, {1 << 62, 4}, {math.MaxInt, 2, 0, 3}} {
		_, err := EncodeF32(shape, nil)
		if slices.Contains(shape, 0) {
			if err != nil {
				t.Errorf("shape %v with a zero dimension: %v", shape, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "more than 2^63") {
			t.Errorf("shape %v: err = %v", shape, err)
		}
	}
	// Zero dimension next to huge ones: no values, whatever the others say.
	msg := &methodpb.Tensor{Shape: []int64{MaxTensorElems, 0, MaxTensorElems}, Dtype: methodpb.DType_DTYPE_FLOAT32}
	if shape, data, err := DecodeF32(msg); err != nil || len(data) != 0 || len(shape) != 3 {
		t.Fatalf("zero-size tensor: shape %v, %d values, %v", shape, len(data), err)
	}
}

// FuzzDecodeF32 feeds arbitrary bytes through the protobuf decoder and the
// tensor codec, as a message from a plugin would arrive: no panic, no
// allocation beyond MaxTensorElems, and an accepted tensor re-encodes to the
// same shape and bytes and decodes again to the same values.
func FuzzDecodeF32(f *testing.F) {
	add := func(shape []int, data []float32) {
		t, err := EncodeF32(shape, data)
		if err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(t)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add([]int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25})
	add([]int{}, []float32{42})
	add([]int{0, 4}, nil)
	add([]int{3}, []float32{float32(math.NaN()), math.SmallestNonzeroFloat32, math.MaxFloat32})
	for _, m := range []*methodpb.Tensor{
		{Shape: []int64{1 << 20, 1 << 20}, Dtype: methodpb.DType_DTYPE_FLOAT32},
		{Shape: []int64{2}, Dtype: methodpb.DType_DTYPE_FLOAT32, Data: make([]byte, 4)},
		{Shape: []int64{-2}, Dtype: methodpb.DType_DTYPE_FLOAT32},
		{Shape: []int64{1}, Data: make([]byte, 4)},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var msg methodpb.Tensor
		if err := proto.Unmarshal(in, &msg); err != nil {
			return
		}
		shape, data, err := DecodeF32(&msg)
		if err != nil {
			return
		}
		if len(data) > MaxTensorElems || 4*len(data) != len(msg.GetData()) {
			t.Fatalf("%d values from %d bytes", len(data), len(msg.GetData()))
		}
		enc, err := EncodeF32(shape, data)
		if err != nil {
			t.Fatalf("accepted tensor %v does not re-encode: %v", shape, err)
		}
		if !slices.Equal(enc.GetShape(), msg.GetShape()) || !bytes.Equal(enc.GetData(), msg.GetData()) || enc.GetDtype() != msg.GetDtype() {
			t.Fatalf("re-encoding changed the tensor: shape %v → %v", msg.GetShape(), enc.GetShape())
		}
		b, err := proto.Marshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		var back methodpb.Tensor
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		shape2, data2, err := DecodeF32(&back)
		if err != nil || !slices.Equal(shape, shape2) || len(data) != len(data2) {
			t.Fatalf("second decode: shape %v vs %v, %v", shape, shape2, err)
		}
		for i := range data {
			if math.Float32bits(data[i]) != math.Float32bits(data2[i]) {
				t.Fatalf("value %d changed: %v → %v", i, data[i], data2[i])
			}
		}
	})
}
