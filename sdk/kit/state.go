package kit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/checkpoint"
	"github.com/siambench/siambench/sdk"
)

// A state blob is an nn/checkpoint file (versioned, SHA-256-checksummed):
// every section's tensors are stored as checkpoint parameters named
// "SECTION/NAME", in order; the metadata holds the method's name and its
// JSON meta (options, counters, RNG state).

const (
	metaMethod = "kit.method"
	metaJSON   = "kit.meta"
)

// Section is a named group of tensors in a state blob: a head's parameters,
// its buffers, the optimizer's momentum, a queue. Names must not contain "/".
type Section struct {
	Name   string
	Params []*nn.Param
}

// EncodeState serialises meta (any JSON-encodable value) and the tensors of
// every section into one blob for sdk.Method.State.
func EncodeState(method string, meta any, sections ...Section) ([]byte, error) {
	m, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode %s state meta: %w", method, err)
	}
	f := &checkpoint.File{Meta: map[string]string{metaMethod: method, metaJSON: string(m)}}
	for _, s := range sections {
		if strings.Contains(s.Name, "/") {
			return nil, fmt.Errorf("encode %s state: section name %q contains '/'", method, s.Name)
		}
		for _, p := range s.Params {
			f.Params = append(f.Params, &nn.Param{Name: s.Name + "/" + p.Name, T: p.T})
		}
	}
	var buf bytes.Buffer
	if err := checkpoint.Write(&buf, f); err != nil {
		return nil, fmt.Errorf("encode %s state: %w", method, err)
	}
	return buf.Bytes(), nil
}

// Decoded is a decoded state blob: the tensors of each section, in order.
type Decoded map[string][]*nn.Param

// DecodeState checks blob (format, version, checksum, method name), decodes
// its meta into meta (a pointer, as for json.Unmarshal) and returns its
// tensors. Every failure wraps sdk.ErrBadInput and says what was wrong.
// Nothing of the caller's is changed except *meta.
func DecodeState(blob []byte, method string, meta any) (Decoded, error) {
	f, err := checkpoint.Read(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("%w: %s state: %v", sdk.ErrBadInput, method, err)
	}
	if got, ok := f.Meta[metaMethod]; !ok || got != method {
		return nil, fmt.Errorf("%w: %s state: the blob was saved by method %q", sdk.ErrBadInput, method, got)
	}
	d := Decoded{}
	for _, p := range f.Params {
		sec, name, ok := strings.Cut(p.Name, "/")
		if !ok {
			return nil, fmt.Errorf("%w: %s state: tensor %q belongs to no section", sdk.ErrBadInput, method, p.Name)
		}
		d[sec] = append(d[sec], &nn.Param{Name: name, T: p.T})
	}
	if err := json.Unmarshal([]byte(f.Meta[metaJSON]), meta); err != nil {
		return nil, fmt.Errorf("%w: %s state: meta: %v", sdk.ErrBadInput, method, err)
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
