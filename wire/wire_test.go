package wire

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/siambench/siambench/proto/methodpb"
)

func TestTensorRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		data  []float32
	}{
		{"matrix", []int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}},
		{"scalar", []int{}, []float32{42}},
		{"empty", []int{0, 4}, []float32{}},
		{"special", []int{3}, []float32{float32(math.NaN()), math.SmallestNonzeroFloat32, math.MaxFloat32}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := EncodeF32(tc.shape, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			// Through the real protobuf encoding, as on the wire.
			b, err := proto.Marshal(enc)
			if err != nil {
				t.Fatal(err)
			}
			var got methodpb.Tensor
			if err := proto.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			shape, data, err := DecodeF32(&got)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) != len(tc.shape) {
				t.Fatalf("shape %v, want %v", shape, tc.shape)
			}
			for i := range shape {
				if shape[i] != tc.shape[i] {
					t.Fatalf("shape %v, want %v", shape, tc.shape)
				}
			}
			if len(data) != len(tc.data) {
				t.Fatalf("len %d, want %d", len(data), len(tc.data))
			}
			for i := range data {
				if math.Float32bits(data[i]) != math.Float32bits(tc.data[i]) {
					t.Errorf("data[%d] = %v, want %v (bitwise)", i, data[i], tc.data[i])
				}
			}
		})
	}
}

// The wire format is little-endian whatever the machine: check the bytes.
func TestTensorLittleEndianBytes(t *testing.T) {
	enc, err := EncodeF32([]int{1}, []float32{1})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x00, 0x80, 0x3f} // 1.0f = 0x3f800000
	if string(enc.Data) != string(want) {
		t.Fatalf("bytes % x, want % x", enc.Data, want)
	}
}

func TestEncodeCopies(t *testing.T) {
	data := []float32{1, 2}
	enc, err := EncodeF32([]int{2}, data)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 99
	_, got, _ := DecodeF32(enc)
	if got[0] != 1 {
		t.Fatalf("encoded tensor aliases caller data: got %v", got[0])
	}
}

func TestTensorErrors(t *testing.T) {
	if _, err := EncodeF32([]int{2, 2}, []float32{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "holds 4 values, data has 3") {
		t.Errorf("encode length mismatch: err = %v", err)
	}
	if _, err := EncodeF32([]int{-1}, nil); err == nil {
		t.Error("encode negative dim: no error")
	}
	cases := []struct {
		name string
		in   *methodpb.Tensor
		want string
	}{
		{"nil", nil, "missing tensor"},
		{"dtype", &methodpb.Tensor{Shape: []int64{1}, Data: make([]byte, 4)}, "dtype DTYPE_UNSPECIFIED"},
		{"short", &methodpb.Tensor{Shape: []int64{2}, Dtype: methodpb.DType_DTYPE_FLOAT32, Data: make([]byte, 4)}, "needs 8 bytes, got 4"},
		{"negative", &methodpb.Tensor{Shape: []int64{-2}, Dtype: methodpb.DType_DTYPE_FLOAT32}, "bad dimension -2"},
		{"huge", &methodpb.Tensor{Shape: []int64{1 << 20, 1 << 20}, Dtype: methodpb.DType_DTYPE_FLOAT32}, "exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeF32(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestMismatchedVersion(t *testing.T) {
	// The exact text go-plugin v1.8.0 returns (client.go checkProtoVersion).
	goPluginErr := errors.New("incompatible API version with plugin. Plugin version: 1, Client versions: [2]")
	v, ok := MismatchedVersion(goPluginErr)
	if !ok || v != 1 {
		t.Fatalf("MismatchedVersion = %d, %v; want 1, true", v, ok)
	}
	if _, ok := MismatchedVersion(errors.New("plugin exited before we could connect")); ok {
		t.Fatal("an unrelated error was taken for a version mismatch")
	}
	if _, ok := MismatchedVersion(nil); ok {
		t.Fatal("nil error was taken for a version mismatch")
	}
	old := MismatchMessage("bench-method-x", 1, 2)
	if !strings.Contains(old, "plugin bench-method-x speaks protocol 1, bench speaks 2: rebuild the plugin") {
		t.Errorf("older plugin message: %q", old)
	}
	newer := MismatchMessage("bench-method-x", 3, 2)
	if !strings.Contains(newer, "rebuild bench") {
		t.Errorf("newer plugin message: %q", newer)
	}
}

func TestServeConfig(t *testing.T) {
	sc := ServeConfig(7, methodpb.UnimplementedMethodServer{})
	if sc.ProtocolVersion != 7 || sc.MagicCookieKey != MagicCookieKey || sc.MagicCookieValue != MagicCookieValue {
		t.Fatalf("handshake %+v", sc.HandshakeConfig)
	}
	if sc.GRPCServer == nil {
		t.Fatal("ServeConfig must serve gRPC (GRPCServer is nil)")
	}
	if _, ok := sc.Plugins[PluginName]; !ok {
		t.Fatalf("plugin map lacks %q", PluginName)
	}
}
