package kit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"

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
	if f.Params, err = checkpoint.Join(ckptSections(sections)...); err != nil {
		return nil, fmt.Errorf("encode %s state: %w", method, err)
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
	d, err := checkpoint.Split(f.Params)
	if err != nil {
		return nil, fmt.Errorf("%w: %s state: %v", sdk.ErrBadInput, method, err)
	}
	if err := json.Unmarshal([]byte(f.Meta[metaJSON]), meta); err != nil {
		return nil, fmt.Errorf("%w: %s state: meta: %v", sdk.ErrBadInput, method, err)
	}
	return Decoded(d), nil
}

// Fit checks, without copying, that section holds exactly dst's tensors:
// the same names in the same order with the same sizes. The error names the
// first mismatch (e.g. a state saved with other head widths).
func (d Decoded) Fit(section string, dst []*nn.Param) error {
	return stateMismatch(checkpoint.Sections(d).Fit("this method", section, dst))
}

// CopyInto copies section's tensors into dst; call it only after Fit
// succeeded for every section, so a bad blob changes nothing.
func (d Decoded) CopyInto(section string, dst []*nn.Param) {
	checkpoint.Sections(d).CopyInto(section, dst)
}

// Restore fits every section and the optimizer state (section "optimizer",
// see HeadOptimizer.Section) and only then copies the sections in, so a bad
// blob is an error wrapping sdk.ErrBadInput and changes nothing
// (checkpoint.Restore).
func (d Decoded) Restore(opt *HeadOptimizer, sections ...Section) error {
	rs := make([]checkpoint.Restoring, len(sections))
	for i, s := range ckptSections(sections) {
		rs[i] = checkpoint.Restoring{From: checkpoint.Sections(d), Into: s}
	}
	err := checkpoint.Restore("this method", func() error {
		if err := opt.SetState(d[optimizerSection]); err != nil {
			return fmt.Errorf("%w: %v", sdk.ErrBadInput, err)
		}
		return nil
	}, rs...)
	return stateMismatch(err)
}

// stateMismatch wraps a section mismatch as a bad-input error with a hint.
func stateMismatch(err error) error {
	var m *checkpoint.MismatchError
	if errors.As(err, &m) {
		return fmt.Errorf("%w: state %v (was it saved with other options?)", sdk.ErrBadInput, err)
	}
	return err
}

func ckptSections(ss []Section) []checkpoint.Section {
	out := make([]checkpoint.Section, len(ss))
	for i, s := range ss {
		out[i] = checkpoint.Section(s)
	}
	return out
}

// ---------------------------------------------------------------------------
// The state of a method built on kit

// Meta is the JSON meta SaveState writes: the options the method was
// initialised with and the steps it has taken.
type Meta struct {
	Options map[string]string `json:"options"`
	Steps   int64             `json:"steps"`
}

// Heads returns the sections "params" and "buffers": the parameters, then
// the buffers (BN running statistics), of heads in order; nil heads are
// skipped (an optional predictor, or every head before Init).
func Heads(heads ...*nn.Sequential) []Section {
	var params, bufs []*nn.Param
	for _, h := range heads {
		if h != nil {
			params, bufs = append(params, h.Params()...), append(bufs, h.Buffers()...)
		}
	}
	return []Section{{Name: "params", Params: params}, {Name: "buffers", Params: bufs}}
}

// SaveState is sdk.Method.State for a method whose state is its options, a
// step count, the head sections and the optimizer opt: it encodes
// Meta{o.Map(), steps}, the sections and opt.Section(). A nil opt means the
// method has not been initialised: an sdk.ErrBadInput error.
func SaveState(method string, o Options, steps int64, opt *HeadOptimizer, sections ...Section) ([]byte, error) {
	if opt == nil {
		return nil, fmt.Errorf("%w: State before Init", sdk.ErrBadInput)
	}
	return EncodeState(method, Meta{Options: o.Map(), Steps: steps}, append(sections[:len(sections):len(sections)], opt.Section())...)
}

// LoadState is sdk.Method.SetState for a SaveState blob: it checks the
// method name and that the blob was saved with the options o, then restores
// the sections and opt (Decoded.Restore) and sets *steps to the saved step
// count. Every failure wraps sdk.ErrBadInput and changes nothing; a nil opt
// means the method has not been initialised.
func LoadState(blob []byte, method string, o Options, opt *HeadOptimizer, steps *int64, sections ...Section) error {
	if opt == nil {
		return fmt.Errorf("%w: SetState before Init", sdk.ErrBadInput)
	}
	var mt Meta
	d, err := DecodeState(blob, method, &mt)
	if err != nil {
		return err
	}
	if !maps.Equal(mt.Options, o.Map()) {
		return fmt.Errorf("%w: state saved with options %v, this %s was initialised with %v", sdk.ErrBadInput, mt.Options, method, o.Map())
	}
	if err := d.Restore(opt, sections...); err != nil {
		return err
	}
	*steps = mt.Steps
	return nil
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
