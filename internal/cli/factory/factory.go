// Package factory holds the dependencies commands share (streams, logger,
// plugin search paths), so commands can be built with test doubles of their
// I/O and nothing else.
package factory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/siambench/siambench/internal/iostreams"
)

// Factory is passed to every NewCmd* constructor.
type Factory struct {
	IO *iostreams.IO
	// Logger writes structured logs to IO.ErrOut, at the level and in the
	// format of --log-level and --log-format (SetLogging), which may be set
	// after a command has taken the logger: it follows the change.
	Logger *slog.Logger
	// Version is the code version stamped into run IDs and reports.
	Version string

	level slog.LevelVar
	json  atomic.Bool
}

// New returns a Factory over the given streams, logging text at info level.
func New(io *iostreams.IO) *Factory {
	f := &Factory{IO: io, Version: Version()}
	f.Logger = f.NewLogger(io.ErrOut)
	return f
}

// NewLogger returns a logger writing to w with the factory's level and
// format (bench run's progress bars give it their writer).
func (f *Factory) NewLogger(w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: &f.level}
	return slog.New(&formatHandler{text: slog.NewTextHandler(w, o), json: slog.NewJSONHandler(w, o), useJSON: &f.json})
}

// LogLevels and LogFormats are the values --log-level and --log-format take.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

// SetLogging sets every logger of the factory to level (debug, info, warn,
// error) and format (text: key=value lines; json: one JSON object a line).
func (f *Factory) SetLogging(level, format string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil || !strings.EqualFold(l.String(), level) {
		return fmt.Errorf("--log-level %q: choose one of %s", level, strings.Join(LogLevels, ", "))
	}
	switch format {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: choose one of %s", format, strings.Join(LogFormats, ", "))
	}
	f.level.Set(l)
	f.json.Store(format == "json")
	return nil
}

// formatHandler sends each record to its text or its JSON handler, as the
// factory's format says at the time of the record.
type formatHandler struct {
	text, json slog.Handler
	useJSON    *atomic.Bool
}

func (h *formatHandler) current() slog.Handler {
	if h.useJSON.Load() {
		return h.json
	}
	return h.text
}

func (h *formatHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.current().Enabled(ctx, l)
}

func (h *formatHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.current().Handle(ctx, r)
}

func (h *formatHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &formatHandler{text: h.text.WithAttrs(as), json: h.json.WithAttrs(as), useJSON: h.useJSON}
}

func (h *formatHandler) WithGroup(name string) slog.Handler {
	return &formatHandler{text: h.text.WithGroup(name), json: h.json.WithGroup(name), useJSON: h.useJSON}
}
