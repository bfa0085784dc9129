package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/proto/methodpb"
	"github.com/siambench/siambench/wire"
)

// Option configures Serve.
type Option func(*serveConfig)

type serveConfig struct {
	logger *slog.Logger
}

// WithLogger sets the logger for the plugin process (default: text on
// stderr, which the host forwards to its own log).
func WithLogger(l *slog.Logger) Option { return func(c *serveConfig) { c.logger = l } }

// DescribeJSON is what `bench-method-NAME describe` prints: the Spec plus
// the protocol version the plugin was built with.
type DescribeJSON struct {
	Protocol int `json:"protocol"`
	Spec
}

// Serve runs m as a bench plugin process and does not return: it exits 0
// when the host closes the plugin and non-zero on failure. A plugin's main
// is one line: func main() { sdk.Serve(mymethod.New()) }.
//
// Run by hand, the binary answers `describe` with its Spec as JSON (no
// handshake; bench list uses it) and otherwise explains that bench starts it.
func Serve(m Method, opts ...Option) {
	os.Exit(serve(m, os.Args, os.Getenv, os.Stdout, os.Stderr, opts...))
}

// serve is Serve with its process dependencies injected; it returns the
// exit code.
func serve(m Method, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...Option) int {
	cfg := serveConfig{logger: slog.New(slog.NewTextHandler(stderr, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	prog := "bench-method"
	if len(args) > 0 {
		prog = filepath.Base(args[0])
	}
	spec := m.Describe()
	if err := spec.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: invalid method spec: %v\n", prog, err)
		return 1
	}
	if len(args) > 1 {
		if args[1] != "describe" || len(args) > 2 {
			fmt.Fprintf(stderr, "usage: %s describe\n\n%s is a siambench method plugin; bench starts it (bench list, bench run --methods %s).\n", prog, prog, spec.Name)
			return 2
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(DescribeJSON{Protocol: ProtocolVersion, Spec: spec}); err != nil {
			fmt.Fprintf(stderr, "%s: describe: %v\n", prog, err)
			return 1
		}
		return 0
	}
	if getenv(wire.MagicCookieKey) != wire.MagicCookieValue {
		fmt.Fprintf(stderr, "%s is a siambench method plugin (%s %s); bench starts it: bench list, bench run --methods %s.\nRun `%s describe` to print its spec as JSON.\n",
			prog, spec.Name, spec.Version, spec.Name, prog)
		return 1
	}
	// The host's $SIAMBENCH_GEMM reaches the plugin through its environment:
	// heads then multiply with the same backend as the backbone.
	backend, err := gemm.FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	gemm.Use(backend)
	plugin.Serve(wire.ServeConfig(ProtocolVersion, NewServer(m, cfg.logger)))
	return 0
}

// NewServer returns the gRPC service for m, wrapped as InProcess wraps it.
// Serve uses it; it is exported for hosts that serve a method over a
// connection of their own (tests, other transports).
func NewServer(m Method, logger *slog.Logger) methodpb.MethodServer {
	if logger == nil {
		logger = slog.Default()
	}
	return &server{g: newGuard(m, logger)}
}

// ---  gRPC server adapter: protobuf ⇄ sdk types, errors → status codes.

type server struct {
	methodpb.UnimplementedMethodServer
	g *guard
}

// statusOf maps an SDK error to the gRPC status the host classifies by.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, ErrBadInput):
		code = codes.InvalidArgument
	case errors.Is(err, ErrNotSupported):
		code = codes.Unimplemented
	case errors.Is(err, ErrPanicked):
		code = codes.Internal
	}
	return status.Error(code, err.Error())
}

func (s *server) Describe(context.Context, *methodpb.DescribeRequest) (*methodpb.DescribeResponse, error) {
	resp := &methodpb.DescribeResponse{Spec: SpecToProto(s.g.spec), ProtocolVersion: ProtocolVersion}
	if _, ok := s.g.m.(DetachedStepper); ok {
		resp.Capabilities = append(resp.Capabilities, wire.CapDetachedStep)
	}
	return resp, nil
}

func (s *server) Init(_ context.Context, req *methodpb.InitRequest) (*methodpb.InitResponse, error) {
	return &methodpb.InitResponse{}, statusOf(s.g.Init(InitFromProto(req)))
}

func (s *server) Step(ctx context.Context, req *methodpb.StepRequest) (*methodpb.StepResponse, error) {
	in, detached, isDetached, err := StepFromProto(req)
	if err != nil {
		return nil, statusOf(err)
	}
	var out StepOutput
	if isDetached {
		out, err = s.g.StepDetached(ctx, in, detached)
	} else {
		out, err = s.g.Step(ctx, in)
	}
	if err != nil {
		return nil, statusOf(err)
	}
	resp, err := StepOutputToProto(out)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "method %s: %v", s.g.spec.Name, err)
	}
	return resp, nil
}

func (s *server) GetState(context.Context, *methodpb.GetStateRequest) (*methodpb.StateBlob, error) {
	blob, err := s.g.State()
	if err != nil {
		return nil, statusOf(err)
	}
	return &methodpb.StateBlob{Blob: blob}, nil
}

func (s *server) SetState(_ context.Context, req *methodpb.StateBlob) (*methodpb.SetStateResponse, error) {
	return &methodpb.SetStateResponse{}, statusOf(s.g.SetState(req.GetBlob()))
}
