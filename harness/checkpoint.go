package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/results"
)

// A checkpoint file is: the magic "SBCKPT01", a little-endian uint32 header
// length, the JSON header (ckptHeader), the tensors' float32 data in header
// order (little-endian), the plugin's state blob, and the SHA-256 of all the
// preceding bytes. It is written atomically; a torn or edited file fails its
// checksum.
const ckptMagic = "SBCKPT01"

// ckptHeader describes a checkpoint's contents.
type ckptHeader struct {
	Epoch       int          `json:"epoch"` // epochs completed
	Step        int          `json:"step"`  // global steps completed
	WallSeconds float64      `json:"wall_seconds"`
	TrainSecs   float64      `json:"train_seconds"`
	Images      int64        `json:"images"`
	Restarts    int          `json:"restarts"`
	Tensors     []ckptTensor `json:"tensors"`
	BlobLen     int          `json:"blob_len"`
}

type ckptTensor struct {
	Name string `json:"name"`
	Len  int    `json:"len"`
}

// ckptGroup is a named list of tensors saved together (e.g. the backbone's
// params and buffers under "backbone/").
type ckptGroup struct {
	prefix  string
	tensors []*nn.Param
}

// checkpoint is what a run saves each epoch.
type checkpoint struct {
	ckptHeader
	Blob []byte // the plugin's opaque state
}

// saveCheckpoint writes c with the tensors of groups to path atomically.
func saveCheckpoint(path string, c checkpoint, groups []ckptGroup) error {
	h := c.ckptHeader
	h.Tensors = nil
	var body bytes.Buffer
	for _, g := range groups {
		for _, p := range g.tensors {
			h.Tensors = append(h.Tensors, ckptTensor{Name: g.prefix + p.Name, Len: p.T.Len()})
			if err := binary.Write(&body, binary.LittleEndian, p.T.Data); err != nil {
				return fmt.Errorf("checkpoint %s: %w", path, err)
			}
		}
	}
	h.BlobLen = len(c.Blob)
	hj, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var out bytes.Buffer
	out.WriteString(ckptMagic)
	binary.Write(&out, binary.LittleEndian, uint32(len(hj)))
	out.Write(hj)
	out.Write(body.Bytes())
	out.Write(c.Blob)
	sum := sha256.Sum256(out.Bytes())
	out.Write(sum[:])
	return results.WriteFileAtomic(path, out.Bytes())
}

// errNoCheckpoint is returned by loadCheckpoint when the file does not exist.
var errNoCheckpoint = errors.New("no checkpoint")

// loadCheckpoint reads and verifies path. Its tensors are returned in file
// order as 1-D tensors; restore copies them into a model.
func loadCheckpoint(path string) (checkpoint, []*nn.Param, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{}, nil, errNoCheckpoint
	}
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("read checkpoint: %w", err)
	}
	bad := func(what string) error {
		return fmt.Errorf("checkpoint %s is %s: delete it to restart the run from scratch", path, what)
	}
	if len(b) < len(ckptMagic)+4+sha256.Size || string(b[:len(ckptMagic)]) != ckptMagic {
		return checkpoint{}, nil, bad("not a bench checkpoint or truncated")
	}
	payload, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return checkpoint{}, nil, bad("corrupt (checksum mismatch)")
	}
	hl := int(binary.LittleEndian.Uint32(b[len(ckptMagic):]))
	off := len(ckptMagic) + 4
	if off+hl > len(payload) {
		return checkpoint{}, nil, bad("corrupt (header length)")
	}
	var c checkpoint
	if err := json.Unmarshal(payload[off:off+hl], &c.ckptHeader); err != nil {
		return checkpoint{}, nil, bad("corrupt (header: " + err.Error() + ")")
	}
	off += hl
	var ts []*nn.Param
	for _, t := range c.Tensors {
		n := t.Len * 4
		if t.Len < 0 || off+n > len(payload) {
			return checkpoint{}, nil, bad("truncated")
		}
		d := make([]float32, t.Len)
		for j := range d {
			d[j] = math.Float32frombits(binary.LittleEndian.Uint32(payload[off+4*j:]))
		}
		ts = append(ts, &nn.Param{Name: t.Name, T: nn.New(d, t.Len)})
		off += n
	}
	if off+c.BlobLen != len(payload) {
		return checkpoint{}, nil, bad("corrupt (blob length)")
	}
	c.Blob = append([]byte(nil), payload[off:]...)
	return c, ts, nil
}

// restoreGroup copies the loaded tensors named prefix+name into dst, which
// must match them exactly in names, order and sizes (the same architecture).
func restoreGroup(loaded []*nn.Param, prefix string, dst []*nn.Param) error {
	var src []*nn.Param
	for _, t := range loaded {
		if strings.HasPrefix(t.Name, prefix) {
			src = append(src, t)
		}
	}
	if len(src) != len(dst) {
		return fmt.Errorf("checkpoint holds %d %s tensors, the model has %d: it was made by another architecture (delete it to restart)", len(src), prefix, len(dst))
	}
	for i, p := range dst {
		if src[i].Name != prefix+p.Name || src[i].T.Len() != p.T.Len() {
			return fmt.Errorf("checkpoint tensor %s (%d values) does not match the model's %s%s (%d values): another architecture (delete it to restart)",
				src[i].Name, src[i].T.Len(), prefix, p.Name, p.T.Len())
		}
		copy(p.T.Data, src[i].T.Data)
	}
	return nil
}

// strippedGroup returns the loaded tensors under prefix with it removed
// (the optimizer's state, whose entries appear after the first step).
func strippedGroup(loaded []*nn.Param, prefix string) []*nn.Param {
	var out []*nn.Param
	for _, t := range loaded {
		if name, ok := strings.CutPrefix(t.Name, prefix); ok {
			out = append(out, &nn.Param{Name: name, T: t.T})
		}
	}
	return out
}
