// Package checkpoint saves and restores training state: a module's named
// parameters and buffers, optimizer state, opaque blobs (a method plugin's
// state) and string metadata, in a versioned, checksummed binary file.
//
// File layout (little-endian):
//
//	"SIAMCKPT" · version u32 ·
//	3 tensor sections (params, buffers, optim): count u32, then per tensor
//	  name (u32 length + bytes) · ndim u32 · dims u32… · float32 data ·
//	blobs: count u32, then name · u64 length · bytes ·
//	meta: count u32, then key · value (u32 length + bytes each) ·
//	SHA-256 of everything before it (32 bytes)
//
// A file that is truncated, corrupted, of another version or not a
// checkpoint at all is reported as such; loading into a module of another
// architecture is an error naming the first mismatching tensor and both shapes.
package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/siambench/siambench/atomicfile"
	"github.com/siambench/siambench/nn"
)

// Version is the format version this build writes and reads.
const Version = 1

const magic = "SIAMCKPT"

// maxDims is the most dimensions a tensor may have in a checkpoint.
const maxDims = 16

// File is the content of a checkpoint.
type File struct {
	Params  []*nn.Param // trainable parameters, in the module's order
	Buffers []*nn.Param // BN running statistics and other buffers
	Optim   []*nn.Param // optimizer state (optim.Optimizer.State)
	Blobs   map[string][]byte
	Meta    map[string]string
}

// FromModule returns a File holding copies of m's params and buffers.
func FromModule(m nn.Module) *File {
	return &File{Params: copyParams(m.Params()), Buffers: copyParams(m.Buffers())}
}

func copyParams(ps []*nn.Param) []*nn.Param {
	out := make([]*nn.Param, len(ps))
	for i, p := range ps {
		out[i] = &nn.Param{Name: p.Name, NoDecay: p.NoDecay, T: p.T.Clone()}
	}
	return out
}

// ---------------------------------------------------------------------------
// writing

// Write encodes f to w. A tensor the format cannot hold (more than 16
// dimensions, a dimension over 32 bits) is an error before anything is written.
func Write(w io.Writer, f *File) error {
	for _, sec := range [][]*nn.Param{f.Params, f.Buffers, f.Optim} {
		for _, p := range sec {
			shape := p.T.Shape()
			if len(shape) > maxDims {
				return fmt.Errorf("write checkpoint: tensor %q has %d dimensions, the format holds at most %d", p.Name, len(shape), maxDims)
			}
			for _, d := range shape {
				if uint64(d) > math.MaxUint32 {
					return fmt.Errorf("write checkpoint: tensor %q has shape %s: dimensions must fit 32 bits", p.Name, shapeStr(shape))
				}
			}
		}
	}
	h := sha256.New()
	bw := &errWriter{w: io.MultiWriter(w, h)}
	bw.bytes([]byte(magic))
	bw.u32(Version)
	for _, sec := range [][]*nn.Param{f.Params, f.Buffers, f.Optim} {
		bw.u32(uint32(len(sec)))
		for _, p := range sec {
			shape := p.T.Shape()
			bw.str(p.Name)
			bw.u32(uint32(len(shape)))
			for _, d := range shape {
				bw.u32(uint32(d))
			}
			buf := make([]byte, 4*p.T.Len())
			for i, v := range p.T.Data {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			bw.bytes(buf)
		}
	}
	names := slices.Sorted(maps.Keys(f.Blobs))
	bw.u32(uint32(len(names)))
	for _, k := range names {
		bw.str(k)
		bw.u64(uint64(len(f.Blobs[k])))
		bw.bytes(f.Blobs[k])
	}
	keys := slices.Sorted(maps.Keys(f.Meta))
	bw.u32(uint32(len(keys)))
	for _, k := range keys {
		bw.str(k)
		bw.str(f.Meta[k])
	}
	if bw.err != nil {
		return fmt.Errorf("write checkpoint: %w", bw.err)
	}
	if _, err := w.Write(h.Sum(nil)); err != nil {
		return fmt.Errorf("write checkpoint checksum: %w", err)
	}
	return nil
}

// Save writes f to path atomically, mode 0644 (package atomicfile), so a
// crash never leaves a half-written checkpoint.
func Save(path string, f *File) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Write(w, f) }); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

type errWriter struct {
	w   io.Writer
	err error
	b   [8]byte
}

func (e *errWriter) bytes(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}
func (e *errWriter) u32(v uint32) { binary.LittleEndian.PutUint32(e.b[:4], v); e.bytes(e.b[:4]) }
func (e *errWriter) u64(v uint64) { binary.LittleEndian.PutUint64(e.b[:8], v); e.bytes(e.b[:8]) }
func (e *errWriter) str(s string) { e.u32(uint32(len(s))); e.bytes([]byte(s)) }

// ---------------------------------------------------------------------------
// reading

// ErrCorrupt is wrapped by every error about a damaged or foreign file.
var ErrCorrupt = errors.New("corrupt checkpoint")

// Read decodes a checkpoint from r, verifying magic, version and checksum.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a siambench checkpoint (bad magic header)", ErrCorrupt)
	}
	if len(data) < len(magic)+4+sha256.Size {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrCorrupt, len(data))
	}
	if v := binary.LittleEndian.Uint32(data[len(magic):]); v != Version {
		return nil, fmt.Errorf("%w: format version %d, this build reads version %d", ErrCorrupt, v, Version)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: checksum mismatch: the file is truncated or damaged; use an earlier checkpoint", ErrCorrupt)
	}
	rd := &reader{b: body[len(magic)+4:]}
	f := &File{Blobs: map[string][]byte{}, Meta: map[string]string{}}
	for _, sec := range []*[]*nn.Param{&f.Params, &f.Buffers, &f.Optim} {
		n := rd.u32()
		for i := uint32(0); i < n && rd.err == nil; i++ {
			name := rd.str()
			nd := rd.u32()
			if nd > maxDims {
				rd.fail("tensor %q has %d dimensions", name, nd)
				break
			}
			shape := make([]int, nd)
			for d := range shape {
				shape[d] = int(rd.u32())
			}
			// The shape is checked against the bytes left before anything is
			// allocated: the checksum only proves the file is whole, not
			// that whoever wrote it was honest.
			count, ok := numel(shape, uint64(len(rd.b))/4)
			if rd.err == nil && !ok {
				rd.fail("tensor %q has shape %s, more values than the %d bytes left in the file hold (a file not written by siambench, or a bug in whatever wrote it); use an earlier checkpoint",
					name, shapeStr(shape), len(rd.b))
			}
			raw := rd.take(uint64(count) * 4)
			if rd.err != nil {
				break
			}
			// Zeros keeps a 0-dimensional (scalar) shape as it was written.
			t := nn.Zeros(shape...)
			for j := range t.Data {
				t.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
			*sec = append(*sec, &nn.Param{Name: name, T: t})
		}
	}
	nb := rd.u32()
	for i := uint32(0); i < nb && rd.err == nil; i++ {
		name := rd.str()
		ln := rd.u64()
		b := rd.take(ln)
		if _, dup := f.Blobs[name]; dup {
			rd.fail("blob %q appears twice", name)
		}
		if rd.err == nil {
			f.Blobs[name] = append([]byte{}, b...)
		}
	}
	nm := rd.u32()
	for i := uint32(0); i < nm && rd.err == nil; i++ {
		k := rd.str()
		v := rd.str()
		if _, dup := f.Meta[k]; dup {
			rd.fail("meta key %q appears twice", k)
		}
		f.Meta[k] = v
	}
	if rd.err == nil && len(rd.b) != 0 {
		rd.fail("%d unexpected trailing bytes", len(rd.b))
	}
	if rd.err != nil {
		return nil, rd.err
	}
	return f, nil
}

// Load reads the checkpoint at path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return f, nil
}

// numel returns the number of values of shape and whether it is at most
// limit (and fits an int); a product that overflows is reported as too large
// unless a dimension is 0.
func numel(shape []int, limit uint64) (int, bool) {
	n := uint64(1)
	over := false
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
		if d < 0 || n > limit/uint64(d) {
			over = true
			continue
		}
		n *= uint64(d)
	}
	if over || n > limit || n > math.MaxInt {
		return 0, false
	}
	return int(n), true
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("record needs %d bytes, %d left (a file not written by siambench, or a bug in whatever wrote it); use an earlier checkpoint", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *reader) str() string { return string(r.take(uint64(r.u32()))) }

// ---------------------------------------------------------------------------
// restoring

// LoadModule copies the checkpoint's params and buffers into m. The names,
// order and shapes must match m's exactly; otherwise nothing is copied and
// the error names the first mismatching tensor and both shapes.
func (f *File) LoadModule(m nn.Module) error {
	if err := match("parameter", f.Params, m.Params()); err != nil {
		return err
	}
	if err := match("buffer", f.Buffers, m.Buffers()); err != nil {
		return err
	}
	for _, pair := range [][2][]*nn.Param{{f.Params, m.Params()}, {f.Buffers, m.Buffers()}} {
		for i, p := range pair[0] {
			copy(pair[1][i].T.Data, p.T.Data)
		}
	}
	return nil
}

func match(kind string, saved, model []*nn.Param) error {
	for i := 0; i < max(len(saved), len(model)); i++ {
		switch {
		case i >= len(saved):
			return fmt.Errorf("checkpoint does not fit this model: model %s %q %s is missing from the checkpoint (different architecture?)", kind, model[i].Name, shapeStr(model[i].T.Shape()))
		case i >= len(model):
			return fmt.Errorf("checkpoint does not fit this model: checkpoint %s %q %s has no counterpart in the model (different architecture?)", kind, saved[i].Name, shapeStr(saved[i].T.Shape()))
		case saved[i].Name != model[i].Name:
			return fmt.Errorf("checkpoint does not fit this model: %s %d is %q %s in the checkpoint but %q %s in the model", kind, i, saved[i].Name, shapeStr(saved[i].T.Shape()), model[i].Name, shapeStr(model[i].T.Shape()))
		case !slices.Equal(saved[i].T.Shape(), model[i].T.Shape()):
			return fmt.Errorf("checkpoint does not fit this model: %s %q has shape %s in the checkpoint but %s in the model", kind, saved[i].Name, shapeStr(saved[i].T.Shape()), shapeStr(model[i].T.Shape()))
		}
	}
	return nil
}

func shapeStr(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ",") + ")"
}
