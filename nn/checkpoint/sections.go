package checkpoint

import (
	"fmt"
	"strings"

	"github.com/siambench/siambench/nn"
)

// ---  Named sections: the one implementation of "restore these groups of
// tensors from a checkpoint, all or nothing", used by the harness's run
// checkpoints and by sdk/kit's method state blobs.

// Section is a named list of tensors (a backbone's parameters, a head's
// buffers, a queue). In a file its tensors are entries named
// "SECTION/TENSOR", in order. A section name must not contain "/".
type Section struct {
	Name   string
	Params []*nn.Param
}

// Join returns the entries of sections in order, each named
// "SECTION/TENSOR" and sharing the section's tensor (NoDecay is kept). A
// section name that contains "/" is an error.
func Join(sections ...Section) ([]*nn.Param, error) {
	var out []*nn.Param
	for _, s := range sections {
		if strings.Contains(s.Name, "/") {
			return nil, fmt.Errorf("section name %q contains '/'", s.Name)
		}
		for _, p := range s.Params {
			out = append(out, &nn.Param{Name: s.Name + "/" + p.Name, T: p.T, NoDecay: p.NoDecay})
		}
	}
	return out, nil
}

// Sections are a file's entries by section: the tensors named
// "SECTION/TENSOR", in file order, with "SECTION/" cut off their names.
type Sections map[string][]*nn.Param

// Split groups entries (Join's output, as read back) by section. An entry
// whose name has no "/" is an error.
func Split(entries []*nn.Param) (Sections, error) {
	s := Sections{}
	for _, p := range entries {
		sec, name, ok := strings.Cut(p.Name, "/")
		if !ok {
			return nil, fmt.Errorf("tensor %q belongs to no section", p.Name)
		}
		s[sec] = append(s[sec], &nn.Param{Name: name, T: p.T, NoDecay: p.NoDecay})
	}
	return s, nil
}

// MismatchError says that a saved section does not hold the tensors it is
// restored into: their counts differ (Index < 0), or entry Index differs in
// name or size.
type MismatchError struct {
	Section string
	Into    string // what is restored, for the message: "this method", "the model"
	Index   int
	Saved   []*nn.Param
	Want    []*nn.Param
}

func (e *MismatchError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("section %s has %d tensors, %s has %d", e.Section, len(e.Saved), e.Into, len(e.Want))
	}
	s, w := e.Saved[e.Index], e.Want[e.Index]
	return fmt.Sprintf("section %s entry %d is %s%v, %s has %s%v", e.Section, e.Index, s.Name, s.T.Shape(), e.Into, w.Name, w.T.Shape())
}

// Fit checks, without copying, that section holds exactly dst: the same
// tensor names in the same order with the same sizes. A mismatch is a
// *MismatchError naming the first difference, with into ("the model")
// saying what dst belongs to.
func (s Sections) Fit(into string, section string, dst []*nn.Param) error {
	src := s[section]
	if len(src) != len(dst) {
		return &MismatchError{Section: section, Into: into, Index: -1, Saved: src, Want: dst}
	}
	for i, p := range dst {
		if src[i].Name != p.Name || src[i].T.Len() != p.T.Len() {
			return &MismatchError{Section: section, Into: into, Index: i, Saved: src, Want: dst}
		}
	}
	return nil
}

// CopyInto copies section's tensors into dst. Call it only after Fit
// succeeded (Restore does both).
func (s Sections) CopyInto(section string, dst []*nn.Param) {
	for i, p := range dst {
		copy(p.T.Data, s[section][i].T.Data)
	}
}

// Restoring is one section of a loaded file (From[Into.Name]) and the
// tensors it is copied into (Into.Params).
type Restoring struct {
	From Sections
	Into Section
}

// Restore validates everything before it changes anything: it Fits every
// restoring (into names the restored thing in errors), then calls apply
// (nil: none) for state that checks itself all or nothing, such as an
// optimizer's SetState, and only when both succeeded copies every section
// in. On error no tensor of any restoring is changed.
func Restore(into string, apply func() error, rs ...Restoring) error {
	for _, r := range rs {
		if err := r.From.Fit(into, r.Into.Name, r.Into.Params); err != nil {
			return err
		}
	}
	if apply != nil {
		if err := apply(); err != nil {
			return err
		}
	}
	for _, r := range rs {
		r.From.CopyInto(r.Into.Name, r.Into.Params)
	}
	return nil
}
