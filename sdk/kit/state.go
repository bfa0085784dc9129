package kit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// State blob layout (all little-endian):
//
//	"SBKS" | version uint32 | header length uint32 | header JSON |
//	float32 data of every tensor, in header order | CRC-32 (IEEE) of all before
//
// The header names the method, carries the method's JSON meta (options,
// counters, RNG state) and lists each tensor's section, name and shape.

const (
	stateMagic   = "SBKS"
	stateVersion = 1
)

// Section is a named group of tensors in a state blob: a head's parameters,
// its buffers, the optimizer's momentum, a queue.
type Section struct {
	Name   string
	Params []*nn.Param
}

type stateHeader struct {
	Method  string          `json:"method"`
	Meta    json.RawMessage `json:"meta"`
	Tensors []stateEntry    `json:"tensors"`
}

type stateEntry struct {
	Section string `json:"section"`
	Name    string `json:"name"`
	Shape   []int  `json:"shape"`
}

// EncodeState serialises meta (any JSON-encodable value) and the tensors of
// every section into one blob for sdk.Method.State.
func EncodeState(method string, meta any, sections ...Section) ([]byte, error) {
	m, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode %s state meta: %w", method, err)
	}
	h := stateHeader{Method: method, Meta: m}
	n := 0
	for _, s := range sections {
		for _, p := range s.Params {
			h.Tensors = append(h.Tensors, stateEntry{Section: s.Name, Name: p.Name, Shape: p.T.Shape()})
			n += p.T.Len()
		}
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode %s state header: %w", method, err)
	}
	var buf bytes.Buffer
	buf.Grow(12 + len(hj) + 4*n + 4)
	buf.WriteString(stateMagic)
	_ = binary.Write(&buf, binary.LittleEndian, uint32(stateVersion))
	_ = binary.Write(&buf, binary.LittleEndian, uint32(len(hj)))
	buf.Write(hj)
	var w [4]byte
	for _, s := range sections {
		for _, p := range s.Params {
			for _, v := range p.T.Data {
				binary.LittleEndian.PutUint32(w[:], math.Float32bits(v))
				buf.Write(w[:])
			}
		}
	}
	_ = binary.Write(&buf, binary.LittleEndian, crc32.ChecksumIEEE(buf.Bytes()))
	return buf.Bytes(), nil
}

// Decoded is a decoded state blob: the tensors of each section, in order.
type Decoded map[string][]*nn.Param

// DecodeState checks blob (magic, version, checksum, method name), decodes
// its meta into meta (a pointer, as for json.Unmarshal) and returns its
// tensors. Every failure wraps sdk.ErrBadInput and says what was wrong.
// Nothing of the caller's is changed except *meta.
func DecodeState(blob []byte, method string, meta any) (Decoded, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s state: %s", sdk.ErrBadInput, method, fmt.Sprintf(format, args...))
	}
	if len(blob) < 16 || string(blob[:4]) != stateMagic {
		return nil, bad("not a siambench kit state blob (%d bytes, no %q header)", len(blob), stateMagic)
	}
	body, sum := blob[:len(blob)-4], binary.LittleEndian.Uint32(blob[len(blob)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, bad("checksum mismatch: the blob is corrupt or truncated")
	}
	if v := binary.LittleEndian.Uint32(blob[4:8]); v != stateVersion {
		return nil, bad("format version %d, this build reads version %d", v, stateVersion)
	}
	hl := int(binary.LittleEndian.Uint32(blob[8:12]))
	if hl > len(body)-12 {
		return nil, bad("header length %d exceeds the blob", hl)
	}
	var h stateHeader
	if err := json.Unmarshal(body[12:12+hl], &h); err != nil {
		return nil, bad("header: %v", err)
	}
	if h.Method != method {
		return nil, bad("the blob was saved by method %q", h.Method)
	}
	data := body[12+hl:]
	d := Decoded{}
	off := 0
	for _, e := range h.Tensors {
		n := 1
		for _, s := range e.Shape {
			if s < 0 {
				return nil, bad("tensor %s has a negative dimension", e.Name)
			}
			n *= s
		}
		if off+4*n > len(data) {
			return nil, bad("tensor %s/%s runs past the end of the blob", e.Section, e.Name)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[off+4*i:]))
		}
		off += 4 * n
		d[e.Section] = append(d[e.Section], &nn.Param{Name: e.Name, T: nn.New(v, e.Shape...)})
	}
	if off != len(data) {
		return nil, bad("%d bytes of tensor data left over", len(data)-off)
	}
	if err := json.Unmarshal(h.Meta, meta); err != nil {
		return nil, bad("meta: %v", err)
	}
	return d, nil
}

// Fit checks, without copying, that section holds exactly dst's tensors:
// the same names in the same order with the same sizes. The error names the
// first mismatch (e.g. a state saved with other head widths).
func (d Decoded) Fit(section string, dst []*nn.Param) error {
	src := d[section]
	if len(src) != len(dst) {
		return fmt.Errorf("%w: state section %s has %d tensors, this method has %d (was it saved with other options?)", sdk.ErrBadInput, section, len(src), len(dst))
	}
	for i, p := range dst {
		if src[i].Name != p.Name || src[i].T.Len() != p.T.Len() {
			return fmt.Errorf("%w: state section %s entry %d is %s%v, this method has %s%v (was it saved with other options?)",
				sdk.ErrBadInput, section, i, src[i].Name, src[i].T.Shape(), p.Name, p.T.Shape())
		}
	}
	return nil
}

// CopyInto copies section's tensors into dst; call it only after Fit
// succeeded for every section, so a bad blob changes nothing.
func (d Decoded) CopyInto(section string, dst []*nn.Param) {
	for i, p := range dst {
		copy(p.T.Data, d[section][i].T.Data)
	}
}

// ---------------------------------------------------------------------------
// RNG

// RNG is a seeded random source whose state can be saved in a state blob
// (math/rand/v2's PCG), for methods that draw random numbers during steps.
type RNG struct {
	*rand.Rand
	src *rand.PCG
}

// NewRNG returns an RNG seeded from seed.
func NewRNG(seed int64) *RNG {
	src := rand.NewPCG(uint64(seed), 0x5eed5eed)
	return &RNG{Rand: rand.New(src), src: src}
}

// MarshalBinary returns the generator's state.
func (r *RNG) MarshalBinary() ([]byte, error) { return r.src.MarshalBinary() }

// UnmarshalBinary restores a state from MarshalBinary.
func (r *RNG) UnmarshalBinary(b []byte) error {
	if err := r.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: rng state: %v", sdk.ErrBadInput, err)
	}
	return nil
}
