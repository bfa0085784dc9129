// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors) for float32 tensors, so
// weights trained here load in PyTorch, JAX or numpy without pickle.
//
// File layout:
//
//	u64 little-endian N · N bytes of JSON header · raw tensor data
//
// The header maps each tensor name to {"dtype":"F32","shape":[...],
// "data_offsets":[begin,end]} (byte offsets into the data that follows the
// header) and may hold "__metadata__", a string→string map. Data is
// little-endian and row-major (C order). The writer pads the header with
// spaces to a multiple of 8 bytes, as the reference implementation does,
// and lays the tensors out back to back in the order given.
//
// Only F32 is supported. The reader checks everything before it allocates
// tensor memory: the header length against the file size, every shape
// against its byte range, that ranges lie inside the data, do not overlap
// and leave no gap; a bad file is an error naming what is wrong, never a
// panic.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/siambench/siambench/atomicfile"
)

// MaxHeaderBytes bounds the JSON header (the reference implementation's
// limit is 100 MB).
const MaxHeaderBytes = 100 << 20

// MetadataKey is the reserved header entry holding the string metadata.
const MetadataKey = "__metadata__"

// DTypeF32 is the only dtype this package reads and writes.
const DTypeF32 = "F32"

// Tensor is a named float32 tensor; len(Data) is the product of Shape (1
// for a scalar, Shape empty).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// File is the content of a safetensors file: tensors in data-offset order
// and the metadata (nil when absent).
type File struct {
	Tensors  []Tensor
	Metadata map[string]string
}

// Get returns the tensor called name.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

type entry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// numel is the product of shape, or an error for a negative dimension or
// an overflow past limit elements.
func numel(shape []int, limit int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > limit/int64(d) {
			return 0, fmt.Errorf("shape %v has more elements than the file can hold", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// Write encodes tensors and meta to w. Names must be unique, non-empty and
// not MetadataKey; len(Data) must match Shape.
func Write(w io.Writer, tensors []Tensor, meta map[string]string) error {
	header := map[string]any{}
	if len(meta) > 0 {
		header[MetadataKey] = meta
	}
	var off int64
	for _, t := range tensors {
		if t.Name == "" || t.Name == MetadataKey {
			return fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		n, err := numel(t.Shape, math.MaxInt64/4)
		if err != nil {
			return fmt.Errorf("safetensors: tensor %s: %w", t.Name, err)
		}
		if n != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: tensor %s: shape %v needs %d values, has %d", t.Name, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = entry{DType: DTypeF32, Shape: shape, DataOffsets: [2]int64{off, off + 4*n}}
		off += 4 * n
	}
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: encode header: %w", err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(h)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, t := range tensors {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// WriteFile writes tensors and meta to path atomically (atomicfile).
func WriteFile(path string, tensors []Tensor, meta map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, tensors, meta) })
}

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("not a valid safetensors file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Decode parses a whole safetensors file held in b.
func Decode(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, formatErr("%d bytes, shorter than the 8-byte header length", len(b))
	}
	hl := binary.LittleEndian.Uint64(b[:8])
	if hl > MaxHeaderBytes {
		return nil, formatErr("header length %d exceeds the %d-byte limit", hl, MaxHeaderBytes)
	}
	if hl > uint64(len(b)-8) {
		return nil, formatErr("header claims %d bytes but the file has only %d after the length (truncated?)", hl, len(b)-8)
	}
	hdr := b[8 : 8+hl]
	data := b[8+hl:]
	if len(bytes.TrimSpace(hdr)) == 0 || bytes.TrimSpace(hdr)[0] != '{' {
		return nil, formatErr("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, formatErr("header JSON: %v", err)
	}
	f := &File{}
	if m, ok := raw[MetadataKey]; ok {
		if err := json.Unmarshal(m, &f.Metadata); err != nil {
			return nil, formatErr("%s must map strings to strings: %v", MetadataKey, err)
		}
		delete(raw, MetadataKey)
	}
	type span struct {
		name       string
		shape      []int
		begin, end int64
	}
	spans := make([]span, 0, len(raw))
	for name, r := range raw {
		if name == "" {
			return nil, formatErr("a tensor has an empty name")
		}
		var e entry
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, formatErr("tensor %q: %v", name, err)
		}
		if e.DType != DTypeF32 {
			return nil, formatErr("tensor %q has dtype %q; only %s is supported", name, e.DType, DTypeF32)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin {
			return nil, formatErr("tensor %q: bad data_offsets [%d,%d]", name, begin, end)
		}
		if end > int64(len(data)) {
			return nil, formatErr("tensor %q ends at byte %d but the data section has %d bytes (truncated?)", name, end, len(data))
		}
		n, err := numel(e.Shape, int64(len(data))/4)
		if err != nil {
			return nil, formatErr("tensor %q: %v", name, err)
		}
		if 4*n != end-begin {
			return nil, formatErr("tensor %q: shape %v needs %d bytes, data_offsets [%d,%d] span %d", name, e.Shape, 4*n, begin, end, end-begin)
		}
		spans = append(spans, span{name, e.Shape, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var pos int64
	for _, s := range spans {
		if s.begin < pos {
			return nil, formatErr("tensor %q [%d,%d] overlaps the tensor before it (which ends at %d)", s.name, s.begin, s.end, pos)
		}
		if s.begin > pos {
			return nil, formatErr("gap of %d bytes before tensor %q at %d", s.begin-pos, s.name, s.begin)
		}
		pos = s.end
	}
	if pos != int64(len(data)) {
		return nil, formatErr("%d bytes after the last tensor are described by no header entry", int64(len(data))-pos)
	}
	for _, s := range spans {
		raw := data[s.begin:s.end]
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		f.Tensors = append(f.Tensors, Tensor{Name: s.name, Shape: slices.Clone(s.shape), Data: v})
	}
	return f, nil
}

// ReadFile reads and decodes the safetensors file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
