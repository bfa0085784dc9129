package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/proto/methodpb"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/wire"
)

// Failure classes of a Client call (test with errors.Is). A Client also
// returns errors wrapping sdk.ErrBadInput, sdk.ErrPanicked,
// sdk.ErrNotSupported and context.Canceled as the plugin reported them.
var (
	// ErrCrashed: the plugin process died (killed, crashed, exited). Launch
	// a new one, Init it as before and SetState the last saved state.
	ErrCrashed = errors.New("plugin process crashed")
	// ErrStepTimeout: a call took longer than its deadline
	// (Options.StepTimeout for a step, Options.CallTimeout for the others;
	// the error also wraps context.DeadlineExceeded). The plugin may be
	// busy, hung or stopped: Kill it, launch a new one and restore its state.
	ErrStepTimeout = errors.New("plugin call timed out")
)

// IsCrash reports whether err means the plugin process died.
func IsCrash(err error) bool { return errors.Is(err, ErrCrashed) }

// Options configure Launch. The zero value is usable.
type Options struct {
	// StepTimeout is the deadline of one Step; 0 means 5 minutes.
	StepTimeout time.Duration
	// CallTimeout is the deadline of Describe, Init, State and SetState;
	// 0 means 2 minutes.
	CallTimeout time.Duration
	// StartTimeout bounds the plugin's start and handshake; 0 means 30 s.
	StartTimeout time.Duration
	// KillGrace is how long Kill waits for a plugin to exit after asking
	// it to, before it kills the plugin's process group; 0 means 2 s.
	KillGrace time.Duration
	// Stderr receives the plugin's stderr, each line prefixed with
	// "[NAME] "; nil means os.Stderr.
	Stderr io.Writer
	// Logger logs launches, exits and restarts; nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.StepTimeout == 0 {
		o.StepTimeout = 5 * time.Minute
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 2 * time.Minute
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.KillGrace == 0 {
		o.KillGrace = 2 * time.Second
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Client is a method running in a plugin process (Launch); in-process, a
// method is run behind sdk.InProcess instead. It implements sdk.Method and
// sdk.DetachedStepper; calls are serialised. After a crash every call
// returns an ErrCrashed error.
type Client struct {
	path string
	name string
	opts Options

	mu     sync.Mutex      // serialises calls
	life   context.Context // ends every call without a context of its own
	procMu sync.Mutex      // guards pc, proc and pid, so Kill never waits for a step
	pc     *plugin.Client  // nil once killed
	proc   *procRunner     // the process of pc
	rpc    methodpb.MethodClient
	spec   sdk.Spec
	pid    int
}

// live holds the plugin clients with a process, for CleanupAll.
var (
	liveMu sync.Mutex
	live   = map[*Client]bool{}
)

var (
	_ sdk.Method          = (*Client)(nil)
	_ sdk.DetachedStepper = (*Client)(nil)
)

// CleanupAll kills every plugin process launched by this process (each as
// Kill does, all at once, so it returns within about Options.KillGrace
// plus a few seconds whatever the plugins do) and removes the folder of
// their sockets. Call it when the host gets SIGINT or SIGTERM, and at exit.
func CleanupAll() {
	liveMu.Lock()
	cs := make([]*Client, 0, len(live))
	for c := range live {
		cs = append(cs, c)
	}
	liveMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Kill()
		}()
	}
	wg.Wait()
	removeSocketRoot()
}

// Launch starts the plugin binary at path in a process group of its own,
// performs the versioned handshake and reads its spec. A protocol mismatch
// is an error saying which side to rebuild.
//
// Like exec.CommandContext, ctx is also the client's life: when it ends,
// a start in progress is abandoned (the process killed), and Init, State
// and SetState, which take no context, return context.Canceled at once.
// The process itself lives until Kill or Close.
func Launch(ctx context.Context, path string, opts Options) (*Client, error) {
	c := &Client{path: path, name: strings.TrimPrefix(filepath.Base(path), Prefix), opts: opts.withDefaults(), life: ctx}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// start launches a process and connects to it. c.mu must be held or c unshared.
func (c *Client) start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start plugin %s: %w", c.path, err)
	}
	root, err := socketRoot()
	if err != nil {
		return fmt.Errorf("start plugin %s: %w", c.path, err)
	}
	var (
		procMu sync.Mutex // proc is set by go-plugin's goroutine
		proc   *procRunner
	)
	getProc := func() *procRunner {
		procMu.Lock()
		defer procMu.Unlock()
		return proc
	}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake(sdk.ProtocolVersion),
		Plugins:          wire.PluginSet(nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  wire.DialOptions(),
		StartTimeout:     c.opts.StartTimeout,
		Stderr:           &prefixWriter{w: c.opts.Stderr, prefix: "[" + c.name + "] "},
		Logger:           silentLogger(),
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: root},
		// go-plugin hands over a command holding the handshake
		// environment and the socket folder it made; ours runs the plugin
		// in its own process group (procRunner).
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, socketDir string) (runner.Runner, error) {
			cmd := exec.Command(c.path)
			cmd.Env = spec.Env
			cmd.SysProcAttr = procAttr()
			r, err := newProcRunner(cmd, socketDir)
			if err != nil {
				return nil, err
			}
			procMu.Lock()
			proc = r
			procMu.Unlock()
			return r, nil
		},
	})
	type started struct {
		rpc methodpb.MethodClient
		err error
	}
	done := make(chan started, 1)
	go func() {
		rpcClient, err := pc.Client()
		if err != nil {
			done <- started{err: err}
			return
		}
		raw, err := rpcClient.Dispense(wire.PluginName)
		if err != nil {
			done <- started{err: fmt.Errorf("dispense: %w", err)}
			return
		}
		done <- started{rpc: raw.(methodpb.MethodClient)}
	}()
	var st started
	select {
	case st = <-done:
	case <-ctx.Done():
		// go-plugin's start does not take a context: kill the process,
		// which ends it (the handshake wait sees the process exit).
		tick := time.NewTicker(100 * time.Millisecond)
		for waiting := true; waiting; {
			if p := getProc(); p != nil {
				p.killGroup()
			}
			select {
			case st = <-done:
				waiting = false
			case <-tick.C:
			}
		}
		tick.Stop()
		// Whatever the start said after the kill, the cause is ctx.
		st.err = fmt.Errorf("%w: gave up waiting for the plugin to start", ctx.Err())
	}
	proc = getProc()
	c.procMu.Lock()
	c.pc, c.proc = pc, proc
	if proc != nil {
		c.pid = proc.pid
	}
	c.procMu.Unlock()
	liveMu.Lock()
	live[c] = true
	liveMu.Unlock()
	if st.err != nil {
		c.Kill()
		if v, ok := wire.MismatchedVersion(st.err); ok {
			return errors.New(mismatch(filepath.Base(c.path), v))
		}
		return fmt.Errorf("start plugin %s: %w", c.path, st.err)
	}
	c.rpc = st.rpc
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.Describe(cctx, &methodpb.DescribeRequest{})
	if err != nil {
		err = c.classify("describe", err)
		c.Kill()
		return err
	}
	if int(resp.GetProtocolVersion()) != sdk.ProtocolVersion {
		c.Kill()
		return errors.New(mismatch(filepath.Base(c.path), int(resp.GetProtocolVersion())))
	}
	c.spec = sdk.SpecFromProto(resp.GetSpec())
	if err := c.spec.Validate(); err != nil {
		c.Kill()
		return fmt.Errorf("plugin %s: %w", c.path, err)
	}
	c.opts.Logger.Debug("plugin started", "method", c.spec.Name, "path", c.path, "pid", c.pid)
	return nil
}

func mismatch(plugin string, v int) string {
	return wire.MismatchMessage(plugin, v, sdk.ProtocolVersion)
}

// Name is the method's name from its spec.
func (c *Client) Name() string { return c.spec.Name }

// Path is the plugin binary.
func (c *Client) Path() string { return c.path }

// Pid is the plugin's process id.
func (c *Client) Pid() int {
	c.procMu.Lock()
	defer c.procMu.Unlock()
	return c.pid
}

// Describe returns the spec read at launch.
func (c *Client) Describe() sdk.Spec { return c.spec }

// remoteError carries the plugin's message and the class it maps to.
type remoteError struct {
	msg  string
	kind []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.kind }

// classify turns a gRPC error into an error of the classes above.
func (c *Client) classify(call string, err error) error {
	st, _ := status.FromError(err)
	c.procMu.Lock()
	exited := c.pc == nil || c.pc.Exited() // nil: killed
	c.procMu.Unlock()
	switch {
	case exited || st.Code() == codes.Unavailable:
		return &remoteError{
			msg:  fmt.Sprintf("method %s: %s: plugin process %d (%s) died: %s", c.name, call, c.pid, c.path, st.Message()),
			kind: []error{ErrCrashed},
		}
	case st.Code() == codes.DeadlineExceeded:
		return &remoteError{
			msg:  fmt.Sprintf("method %s: %s: no answer within the deadline (%s); restart the plugin and restore its state", c.name, call, st.Message()),
			kind: []error{ErrStepTimeout, context.DeadlineExceeded},
		}
	case st.Code() == codes.Canceled:
		return &remoteError{msg: st.Message(), kind: []error{context.Canceled}}
	case st.Code() == codes.InvalidArgument:
		return &remoteError{msg: st.Message(), kind: []error{sdk.ErrBadInput}}
	case st.Code() == codes.Unimplemented:
		return &remoteError{msg: st.Message(), kind: []error{sdk.ErrNotSupported}}
	case st.Code() == codes.Internal:
		return &remoteError{msg: st.Message(), kind: []error{sdk.ErrPanicked}}
	}
	return fmt.Errorf("method %s: %s: %s", c.name, call, st.Message())
}

// callCtx bounds a non-step call by Options.CallTimeout and the client's life.
func (c *Client) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.life, c.opts.CallTimeout)
}

// Init initialises the method.
func (c *Client) Init(cfg sdk.InitConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := c.callCtx()
	defer cancel()
	if _, err := c.rpc.Init(ctx, sdk.InitToProto(cfg)); err != nil {
		return c.classify("init", err)
	}
	return nil
}

// Step runs one training step under Options.StepTimeout.
func (c *Client) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	return c.step(ctx, in, nil, false)
}

// StepDetached forwards the conformance suite's detached step.
func (c *Client) StepDetached(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	return c.step(ctx, in, detached, true)
}

func (c *Client) step(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor, isDetached bool) (sdk.StepOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.opts.StepTimeout)
	defer cancel()
	req, err := sdk.StepToProto(in, detached, isDetached)
	if err != nil {
		return sdk.StepOutput{}, fmt.Errorf("method %s: step %d: %w", c.name, in.Step, err)
	}
	resp, err := c.rpc.Step(ctx, req)
	if err != nil {
		return sdk.StepOutput{}, c.classify(fmt.Sprintf("step %d", in.Step), err)
	}
	out, err := sdk.StepOutputFromProto(resp)
	if err != nil {
		return sdk.StepOutput{}, fmt.Errorf("method %s: step %d: %w", c.name, in.Step, err)
	}
	return out, nil
}

// State returns the method's opaque state blob.
func (c *Client) State() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.rpc.GetState(ctx, &methodpb.GetStateRequest{})
	if err != nil {
		return nil, c.classify("state", err)
	}
	return resp.GetBlob(), nil
}

// SetState restores a blob from State.
func (c *Client) SetState(blob []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := c.callCtx()
	defer cancel()
	if _, err := c.rpc.SetState(ctx, &methodpb.StateBlob{Blob: blob}); err != nil {
		return c.classify("set state", err)
	}
	return nil
}

// Kill stops the plugin process and returns when it is gone. It asks the
// plugin to exit (go-plugin's shutdown call); a plugin that has not exited
// after Options.KillGrace (hung, stopped with SIGSTOP, ignoring the call)
// is killed with SIGKILL together with its process group, which also ends
// the children it left behind. If something outside the group still holds
// the plugin's stdout or stderr, the host's ends of those pipes are closed
// a second later. Kill then removes the plugin's socket folder. It never
// waits longer than about KillGrace + 3 s.
func (c *Client) Kill() {
	c.procMu.Lock()
	pc, proc := c.pc, c.proc
	c.pc = nil
	c.procMu.Unlock()
	liveMu.Lock()
	delete(live, c)
	liveMu.Unlock()
	if pc == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pc.Kill()
	}()
	if !waitOrTimeout(done, c.opts.KillGrace) && proc != nil {
		c.opts.Logger.Warn("plugin did not exit when asked; killing its process group", "method", c.name, "pid", proc.pid)
		proc.killGroup()
		if !waitOrTimeout(done, time.Second) {
			// A process outside the group holds the pipes: stop reading them.
			proc.closePipes()
			if !waitOrTimeout(done, 2*time.Second) {
				c.opts.Logger.Error(errNoExit.Error(), "method", c.name, "pid", proc.pid)
			}
		}
	}
	if proc != nil {
		// A plugin that exited (or was shut down) may have left children
		// in its group: end them too. The group id stays reserved while
		// any member lives, so this cannot reach another process.
		proc.killGroup()
		proc.closePipes()
		if proc.socketDir != "" {
			os.RemoveAll(proc.socketDir)
		}
	}
}

// Close stops the plugin process; it is Kill with an error result, for io.Closer.
func (c *Client) Close() error {
	c.Kill()
	return nil
}

// Exited reports whether the plugin process has exited or been killed.
func (c *Client) Exited() bool {
	c.procMu.Lock()
	defer c.procMu.Unlock()
	return c.pc == nil || c.pc.Exited()
}

// prefixWriter prefixes each line written to w.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
