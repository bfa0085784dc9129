package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// procRunner is the go-plugin runner.Runner of a plugin process. Unlike
// go-plugin's own command runner it starts the plugin in a process group
// of its own (procAttr) and kills the whole group, so a plugin that is
// stopped, hung, or has left children behind (holding its stdout or
// stderr) is ended with everything it started; and it owns the read ends
// of the plugin's pipes, so it can close them when a process outside the
// group still holds the write ends (go-plugin waits for both pipes to reach
// EOF before it considers the plugin gone).
type procRunner struct {
	cmd       *exec.Cmd
	socketDir string // go-plugin's per-plugin socket folder (PLUGIN_UNIX_SOCKET_DIR)

	stdoutR, stderrR *os.File
	pid              int
	closeOnce        sync.Once
}

var _ runner.Runner = (*procRunner)(nil)

// newProcRunner prepares cmd (not started) with pipes for stdout and stderr.
func newProcRunner(cmd *exec.Cmd, socketDir string) (*procRunner, error) {
	r := &procRunner{cmd: cmd, socketDir: socketDir}
	var err error
	var outW, errW *os.File
	if r.stdoutR, outW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("plugin stdout pipe: %w", err)
	}
	if r.stderrR, errW, err = os.Pipe(); err != nil {
		r.stdoutR.Close()
		outW.Close()
		return nil, fmt.Errorf("plugin stderr pipe: %w", err)
	}
	// *os.File values are handed to the child as they are: exec starts no
	// copying goroutine, and Wait does not wait for the pipes.
	cmd.Stdout, cmd.Stderr = outW, errW
	return r, nil
}

// Start starts the process and closes the parent's copies of the write ends.
func (r *procRunner) Start(context.Context) error {
	err := r.cmd.Start()
	r.cmd.Stdout.(*os.File).Close()
	r.cmd.Stderr.(*os.File).Close()
	if err != nil {
		r.closePipes()
		return err
	}
	r.pid = r.cmd.Process.Pid
	return nil
}

// Wait waits for the process to exit.
func (r *procRunner) Wait(context.Context) error { return r.cmd.Wait() }

// Kill sends SIGKILL to the plugin's process group (the plugin and every
// child it started that did not leave the group) and to the plugin itself.
func (r *procRunner) Kill(context.Context) error {
	r.killGroup()
	return nil
}

func (r *procRunner) killGroup() {
	if r.pid <= 0 {
		return
	}
	// The group id is the plugin's pid (Setpgid). While any member lives
	// the kernel does not reuse it; once none does, kill returns ESRCH.
	_ = syscall.Kill(-r.pid, syscall.SIGKILL)
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill() // off Linux no group; ErrProcessDone is fine
	}
}

// closePipes closes the read ends: readers blocked on them return at once.
func (r *procRunner) closePipes() {
	r.closeOnce.Do(func() {
		r.stdoutR.Close()
		r.stderrR.Close()
	})
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdoutR }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderrR }
func (r *procRunner) Name() string          { return r.cmd.Path }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *procRunner) Diagnose(context.Context) string {
	return "the plugin did not print the go-plugin handshake line on stdout: is " + r.cmd.Path + " a plugin built with the siambench SDK for this OS and architecture?"
}

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// ---  socket folders

// The per-plugin socket folders (go-plugin makes one per plugin under
// ClientConfig.UnixSocketConfig.TempDir and passes it to the plugin as
// PLUGIN_UNIX_SOCKET_DIR) live under $TMPDIR/sbsock-PID, which
// holds a file "lock" that this process keeps flock'ed: a later bench can
// tell a folder left by a bench that was SIGKILLed (lock free) from one in
// use, and removes it.
var (
	rootMu   sync.Mutex
	rootDir  string
	rootLock *os.File
)

// socketRoot returns (creating it if needed) this process's socket folder.
func socketRoot() (string, error) {
	rootMu.Lock()
	defer rootMu.Unlock()
	if rootDir != "" {
		return rootDir, nil
	}
	base := socketBase()
	removeStaleSocketRoots(base)
	dir := filepath.Join(base, socketRootPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("plugin socket folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("plugin socket folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return "", fmt.Errorf("plugin socket folder %s: %w", dir, err)
	}
	rootDir, rootLock = dir, f
	return dir, nil
}

const socketRootPrefix = "sbsock-"

// maxSocketBase is the longest $TMPDIR under which a plugin's socket path
// (BASE/sbsock-PID/plugin-dirNNNNNNNNNN/pluginNNNNNNNNNN, up to 55 bytes
// more) fits the 104 bytes a Unix socket address may hold on every Unix.
const maxSocketBase = 104 - 55

// socketBase is $TMPDIR, or /tmp when $TMPDIR is too long for socket paths
// (the plugin could not listen: "bind: invalid argument").
func socketBase() string {
	if base := os.TempDir(); len(base) <= maxSocketBase {
		return base
	}
	return "/tmp"
}

// removeSocketRoot removes this process's socket folder (CleanupAll, after
// the plugins are killed); the next launch makes a new one.
func removeSocketRoot() {
	rootMu.Lock()
	defer rootMu.Unlock()
	if rootDir == "" {
		return
	}
	os.RemoveAll(rootDir)
	rootLock.Close()
	rootDir, rootLock = "", nil
}

// removeStaleSocketRoots deletes the socket folders of bench processes that
// died without cleaning up (their lock is free).
func removeStaleSocketRoots(tmp string) {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), socketRootPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		f, err := os.Open(filepath.Join(dir, "lock"))
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// ---  bounded waits

// errNoExit marks a plugin client that did not finish shutting down even
// after its process group was killed and its pipes closed.
var errNoExit = errors.New("plugin client did not shut down")

// waitOrTimeout waits for done for at most d.
func waitOrTimeout(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// silentLogger is go-plugin's logger: its messages are not ours to show.
func silentLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard, Level: hclog.Off})
}
