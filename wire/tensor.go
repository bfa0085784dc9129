package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/siambench/siambench/proto/methodpb"
)

// nativeLittleEndian is true on the machines we run on (amd64, arm64); the
// codec then copies memory instead of converting element by element.
var nativeLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// MaxTensorElems bounds one tensor's element count (a corrupt shape must
// not make us allocate terabytes).
const MaxTensorElems = MaxMessageBytes / 4

// EncodeF32 packs a float32 tensor of the given shape. It copies data, so the
// caller may reuse it afterwards. It returns an error when len(data) does not
// match the shape.
func EncodeF32(shape []int, data []float32) (*methodpb.Tensor, error) {
	s := make([]int64, len(shape))
	for i, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("encode tensor: negative dimension in shape %v", shape)
		}
		s[i] = int64(d)
	}
	// The product is checked as it grows, so a shape whose product overflows
	// (and might wrap to len(data)) is a mismatch, not a corrupt message.
	n, ok := numelAtMost(s, math.MaxInt64)
	if !ok {
		return nil, fmt.Errorf("encode tensor: shape %v holds more than 2^63 values, data has %d", shape, len(data))
	}
	if n != int64(len(data)) {
		return nil, fmt.Errorf("encode tensor: shape %v holds %d values, data has %d", shape, n, len(data))
	}
	b := make([]byte, 4*len(data))
	if nativeLittleEndian {
		if len(data) > 0 {
			copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
		}
	} else {
		for i, v := range data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	}
	return &methodpb.Tensor{Shape: s, Dtype: methodpb.DType_DTYPE_FLOAT32, Data: b}, nil
}

// DecodeF32 unpacks a float32 tensor into a fresh slice. A wrong dtype, a
// negative or oversized shape, or a byte count that does not match the shape
// is an error naming what was received.
func DecodeF32(t *methodpb.Tensor) (shape []int, data []float32, err error) {
	if t == nil {
		return nil, nil, fmt.Errorf("decode tensor: missing tensor")
	}
	if t.GetDtype() != methodpb.DType_DTYPE_FLOAT32 {
		return nil, nil, fmt.Errorf("decode tensor: dtype %v, want DTYPE_FLOAT32", t.GetDtype())
	}
	for _, d := range t.GetShape() {
		if d < 0 || d > MaxTensorElems {
			return nil, nil, fmt.Errorf("decode tensor: bad dimension %d in shape %v", d, t.GetShape())
		}
	}
	// Checked in 64 bits as the product grows: nothing is allocated for a
	// shape the limit or the message's bytes cannot back.
	n64, ok := numelAtMost(t.GetShape(), MaxTensorElems)
	if !ok {
		return nil, nil, fmt.Errorf("decode tensor: shape %v exceeds %d elements", t.GetShape(), MaxTensorElems)
	}
	n := int(n64)
	shape = make([]int, len(t.GetShape()))
	for i, d := range t.GetShape() {
		shape[i] = int(d)
	}
	if len(t.GetData()) != 4*n {
		return nil, nil, fmt.Errorf("decode tensor: shape %v needs %d bytes, got %d", t.GetShape(), 4*n, len(t.GetData()))
	}
	data = make([]float32, n)
	if nativeLittleEndian {
		if n > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*n), t.GetData())
		}
	} else {
		b := t.GetData()
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return shape, data, nil
}

// numelAtMost returns the product of the non-negative dims and whether it is
// at most limit; a zero dimension makes it 0 whatever the others are.
func numelAtMost(dims []int64, limit int64) (int64, bool) {
	if slices.Contains(dims, 0) {
		return 0, true
	}
	n := int64(1)
	for _, d := range dims {
		if n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}
