package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() []Tensor {
	return []Tensor{
		{Name: "conv1.weight", Shape: []int{2, 1, 3, 3}, Data: seq(18, 0.5)},
		{Name: "bn1.running_var", Shape: []int{2}, Data: []float32{1, float32(math.Inf(1))}},
		{Name: "scalar", Shape: []int{}, Data: []float32{-3}},
		{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
	}
}

func seq(n int, step float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)*step - 1
	}
	return v
}

func encode(t *testing.T, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, ts, meta); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	meta := map[string]string{"backbone": "resnet-tiny", "in_channels": "3"}
	b := encode(t, sample(), meta)
	hl := binary.LittleEndian.Uint64(b)
	if hl%8 != 0 {
		t.Errorf("header length %d not padded to 8", hl)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	want := sample()
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want { // written in order, read back in offset order
		g := f.Tensors[i]
		if g.Name != w.Name || !reflect.DeepEqual(g.Shape, w.Shape) || !reflect.DeepEqual(g.Data, w.Data) {
			t.Errorf("tensor %d: got %+v, want %+v", i, g, w)
		}
	}
	if _, ok := f.Get("scalar"); !ok {
		t.Error("Get(scalar) missing")
	}
	p := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteFile(p, sample(), meta); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("stat %v, %v", st, err)
	}
	if g, err := ReadFile(p); err != nil || len(g.Tensors) != 4 {
		t.Fatalf("ReadFile: %v", err)
	}
}

func TestWriteRejects(t *testing.T) {
	for name, ts := range map[string][]Tensor{
		"size":      {{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}},
		"duplicate": {{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{1}}},
		"reserved":  {{Name: MetadataKey, Shape: []int{1}, Data: []float32{1}}},
		"negative":  {{Name: "a", Shape: []int{-1}, Data: nil}},
	} {
		if err := Write(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// craft builds a file from a literal header and n data bytes.
func craft(header string, n int) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func TestDecodeBadInput(t *testing.T) {
	good := encode(t, sample(), nil)
	huge := binary.LittleEndian.AppendUint64(nil, math.MaxUint64)
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":           {nil, "shorter than"},
		"short length":    {[]byte{1, 2, 3}, "shorter than"},
		"truncated data":  {good[:len(good)-5], "truncated"},
		"truncated head":  {good[:20], "header claims"},
		"header too long": {huge, "exceeds"},
		"claims more":     {craft(`{}`, 0)[:9], "header claims"},
		"not json":        {craft(`{"a":`, 0), "header JSON"},
		"not object":      {craft(`[1,2]   `, 0), "not a JSON object"},
		"wrong dtype":     {craft(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4), `dtype "F16"`},
		"shape mismatch":  {craft(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 16), "needs 12 bytes"},
		"beyond data":     {craft(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), "truncated"},
		"reversed":        {craft(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, 8), "bad data_offsets"},
		"negative dim":    {craft(`{"a":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}`, 16), "negative dimension"},
		"overflow shape":  {craft(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8), "more elements"},
		"overlap": {craft(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},`+
			`"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), "overlaps"},
		"gap":           {craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "gap"},
		"trailing":      {craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), "after the last tensor"},
		"bad metadata":  {craft(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
		"unknown field": {craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), "unknown field"},
		"entry not obj": {craft(`{"a":3}`, 0), `tensor "a"`},
		"empty name":    {craft(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "empty name"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := Decode(c.b)
			if err == nil {
				t.Fatalf("no error, got %+v", f)
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want ErrFormat containing %q", err, c.want)
			}
		})
	}
}

// TestDecodeNeverPanics decodes every truncation and many single-byte
// corruptions of a valid file.
func TestDecodeNeverPanics(t *testing.T) {
	good := encode(t, sample(), map[string]string{"k": "v"})
	for n := range good {
		Decode(good[:n])
	}
	for i := range good {
		for _, v := range []byte{0, 0xff, '"', '9', ']'} {
			b := bytes.Clone(good)
			b[i] = v
			Decode(b)
		}
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes to a
// file that decodes to the same tensors.
func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	if err := Write(&b, sample(), map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := Decode(in)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-encode of an accepted file: %v", err)
		}
		again, err := Decode(out.Bytes())
		if err != nil || len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
