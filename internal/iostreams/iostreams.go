// Package iostreams carries the standard streams of a command, so that
// commands write only to the streams they are given and tests can capture them.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IO is the set of streams a command reads and writes.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// isTTY is nil when the terminal state should be detected from the
	// file descriptors; tests set it explicitly.
	isTTY *bool
}

// System returns the process's standard streams.
func System() *IO { return &IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Test returns an IO backed by buffers, not a terminal, plus those buffers.
func Test() (io *IO, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	f := false
	return &IO{In: in, Out: out, ErrOut: errOut, isTTY: &f}, in, out, errOut
}

// SetTTY overrides terminal detection (progress bars are drawn only on a TTY).
func (s *IO) SetTTY(v bool) { s.isTTY = &v }

// IsTerminal reports whether ErrOut is an interactive terminal, where progress
// bars are drawn; otherwise commands log plain lines.
func (s *IO) IsTerminal() bool {
	if s.isTTY != nil {
		return *s.isTTY
	}
	if f, ok := s.ErrOut.(*os.File); ok {
		return term.IsTerminal(int(f.Fd()))
	}
	return false
}

// TerminalWidth returns the columns of the terminal ErrOut is, or 80 when
// it is not a terminal or its size is unknown.
func (s *IO) TerminalWidth() int {
	if f, ok := s.ErrOut.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}
