package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/nn/optim"
)

func rng(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, 9)) }

func newNet(t *testing.T, name string, in int, seed uint64) models.Backbone {
	t.Helper()
	b, err := models.New(name, in, rng(seed))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trainedState returns a refnet after one SGD step (so BN buffers and
// momentum are non-trivial) and its optimizer.
func trainedState(t *testing.T) (models.Backbone, *optim.SGD) {
	net := newNet(t, "refnet", 1, 1)
	o := optim.NewSGD([]optim.Group{{Params: net.Params(), WeightDecay: 1e-4}}, 0.9, false)
	x := nn.Randn(rng(2), 1, 4, 1, 8, 8)
	nn.MeanAll(net.Forward(x)).Backward()
	o.Step(0.1)
	return net, o
}

func TestRoundTrip(t *testing.T) {
	net, o := trainedState(t)
	f := FromModule(net)
	f.Optim = o.State()
	f.Blobs = map[string][]byte{"plugin": {1, 2, 3, 0, 255}, "empty": {}}
	f.Meta = map[string]string{"epoch": "3", "method": "simsiam"}
	path := filepath.Join(t.TempDir(), "ckpt.bin")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newNet(t, "refnet", 1, 99)
	if err := g.LoadModule(fresh); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2][]*nn.Param{{net.Params(), fresh.Params()}, {net.Buffers(), fresh.Buffers()}} {
		for i := range pair[0] {
			if !bytes.Equal(f32bytes(pair[0][i].T.Data), f32bytes(pair[1][i].T.Data)) {
				t.Fatalf("%s differs after round trip", pair[0][i].Name)
			}
		}
	}
	o2 := optim.NewSGD([]optim.Group{{Params: fresh.Params(), WeightDecay: 1e-4}}, 0.9, false)
	if err := o2.SetState(g.Optim); err != nil {
		t.Fatal(err)
	}
	if len(g.Optim) != len(net.Params()) {
		t.Fatalf("optimizer entries: want %d, got %d", len(net.Params()), len(g.Optim))
	}
	if !bytes.Equal(g.Blobs["plugin"], []byte{1, 2, 3, 0, 255}) || len(g.Blobs["empty"]) != 0 {
		t.Fatalf("blobs: %v", g.Blobs)
	}
	if g.Meta["epoch"] != "3" || g.Meta["method"] != "simsiam" {
		t.Fatalf("meta: %v", g.Meta)
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], mathFloat32bits(x))
	}
	return b
}

func TestArchitectureMismatch(t *testing.T) {
	f := FromModule(newNet(t, "refnet", 1, 1))
	cases := []struct {
		name string
		into models.Backbone
		want string
	}{
		{"channels", newNet(t, "refnet", 3, 1), `parameter "layer1.conv.weight" has shape (32,1,3,3) in the checkpoint but (32,3,3,3) in the model`},
		{"other-net", newNet(t, "resnet-tiny", 1, 1), `parameter 0 is "layer1.conv.weight" (32,1,3,3) in the checkpoint but "stem.conv.weight" (16,1,3,3) in the model`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.into.Params()[0].T.Clone()
			err := f.LoadModule(tc.into)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %s", err, tc.want)
			}
			if !bytes.Equal(f32bytes(before.Data), f32bytes(tc.into.Params()[0].T.Data)) {
				t.Fatal("a failed load modified the model")
			}
		})
	}
	short := &File{Params: f.Params[:3], Buffers: f.Buffers}
	err := short.LoadModule(newNet(t, "refnet", 1, 1))
	if err == nil || !strings.Contains(err.Error(), `model parameter "layer2.conv.weight" (32,32,3,3) is missing from the checkpoint`) {
		t.Fatalf("missing tensor: %v", err)
	}
}

func TestDamagedFiles(t *testing.T) {
	var buf bytes.Buffer
	f := FromModule(newNet(t, "refnet", 1, 1))
	f.Blobs = map[string][]byte{"x": []byte("state")}
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0x40
	badVersion := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(badVersion[8:], 7)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)-100], "checksum mismatch"},
		{"tiny", good[:10], "truncated"},
		{"flipped-bit", flip, "checksum mismatch"},
		{"not-a-checkpoint", []byte("PK\x03\x04 some zip file"), "not a siambench checkpoint"},
		{"empty", nil, "not a siambench checkpoint"},
		{"version", badVersion, "format version 7, this build reads version 1"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v: want ErrCorrupt mentioning %q and the path", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func mathFloat32bits(f float32) uint32 { return math.Float32bits(f) }
