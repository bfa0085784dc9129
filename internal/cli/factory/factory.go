// Package factory holds the dependencies commands share (streams, logger,
// plugin search paths), so commands can be built with test doubles of their
// I/O and nothing else.
package factory

import (
	"log/slog"

	"github.com/siambench/siambench/internal/iostreams"
)

// Factory is passed to every NewCmd* constructor.
type Factory struct {
	IO *iostreams.IO
	// Logger writes structured logs to IO.ErrOut.
	Logger *slog.Logger
	// Version is the code version stamped into run IDs and reports.
	Version string
}

// New returns a Factory over the given streams.
func New(io *iostreams.IO) *Factory {
	return &Factory{
		IO:      io,
		Logger:  slog.New(slog.NewTextHandler(io.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Version: Version(),
	}
}
