// Package pluginhost is the host side of method plugins: it finds
// bench-method-NAME binaries, reads their spec without starting them
// (describe mode), launches them over go-plugin gRPC with process hygiene
// (Pdeathsig, CleanupAll on signals), applies a deadline to every step,
// classifies failures (crash, timeout, bad input, panic), and runs the
// host's half of a training step (TrainStep). A Client implements
// sdk.Method, so the harness drives a plugin and an in-process method
// (sdk.InProcess) the same way.
package pluginhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/siambench/siambench/sdk"
)

// Prefix is the file-name prefix of a method plugin: bench-method-NAME.
const Prefix = "bench-method-"

// EnvPath is the environment variable holding extra plugin directories,
// colon-separated.
const EnvPath = "SIAMBENCH_PLUGIN_PATH"

var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Found is one plugin binary.
type Found struct {
	Name string `json:"name"` // NAME in bench-method-NAME
	Path string `json:"path"`
}

// SearchDirs returns the directories searched for plugins, in precedence
// order: pluginDir (the --plugin-dir flag) when not empty, the entries of
// $SIAMBENCH_PLUGIN_PATH, then the directory of the running bench
// executable. Duplicates are dropped.
func SearchDirs(pluginDir string) []string {
	var dirs []string
	if pluginDir != "" {
		dirs = append(dirs, pluginDir)
	}
	for _, d := range filepath.SplitList(os.Getenv(EnvPath)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	seen := map[string]bool{}
	out := dirs[:0]
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			abs = d
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, abs)
		}
	}
	return out
}

// Find lists the executable bench-method-NAME files in dirs, sorted by
// name. When several directories hold the same name, the first directory
// wins. Directories that do not exist are skipped; one that exists but
// cannot be read is an error.
func Find(dirs []string) ([]Found, error) {
	byName := map[string]Found{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find plugins in %s: %w", dir, err)
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), Prefix)
			if !ok || !pluginNameRE.MatchString(name) {
				continue
			}
			if _, dup := byName[name]; dup {
				continue
			}
			path := filepath.Join(dir, e.Name())
			info, err := os.Stat(path) // follows symlinks
			if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
				continue
			}
			byName[name] = Found{Name: name, Path: path}
		}
	}
	out := make([]Found, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup finds the plugin called name. When it is missing, the error
// lists the directories searched and the methods that were found.
func Lookup(dirs []string, name string) (Found, error) {
	all, err := Find(dirs)
	if err != nil {
		return Found{}, err
	}
	names := make([]string, 0, len(all))
	for _, f := range all {
		if f.Name == name {
			return f, nil
		}
		names = append(names, f.Name)
	}
	have := "none"
	if len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	return Found{}, fmt.Errorf("no method plugin %s%s in %s (found: %s); build it with `make build`, or point --plugin-dir or $%s at its directory",
		Prefix, name, strings.Join(dirs, ":"), have, EnvPath)
}

// DescribeResult is what a plugin's describe mode reports.
type DescribeResult struct {
	Protocol int      // the sdk.ProtocolVersion the plugin was built with
	Spec     sdk.Spec // its spec
}

// Compatible returns nil when the plugin speaks this bench's protocol, else
// an error saying which side to rebuild.
func (r DescribeResult) Compatible() error {
	if r.Protocol != sdk.ProtocolVersion {
		return errors.New(mismatch(Prefix+r.Spec.Name, r.Protocol))
	}
	return nil
}

// DescribeTimeout bounds a describe run when ctx has no deadline.
const DescribeTimeout = 10 * time.Second

// describeWaitDelay is how long Describe waits, after the plugin exited or
// was killed, for whatever still holds its stdout or stderr (a child it
// left behind) before it stops reading them.
const describeWaitDelay = time.Second

// Describe runs `path describe` (no handshake, no training) and parses the
// spec it prints. The plugin runs in a process group of its own; when ctx
// ends (or after DescribeTimeout when ctx has no deadline) the group is
// killed, and once the plugin has exited any process it left in the group
// is killed too, so Describe returns in bounded time and leaves nothing
// running.
func Describe(ctx context.Context, path string) (DescribeResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DescribeTimeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "describe")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = describeWaitDelay
	err := cmd.Run()
	_ = killGroup(cmd) // children left in the group
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success() {
		err = nil // it answered; a child it left held the pipes
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no output on stderr"
		}
		if ctx.Err() != nil {
			return DescribeResult{}, fmt.Errorf("describe %s: no answer in time (%w; %s); is it a plugin built with the siambench SDK?", path, ctx.Err(), msg)
		}
		return DescribeResult{}, fmt.Errorf("describe %s: %w (%s); is it a plugin built with the siambench SDK?", path, err, msg)
	}
	var d sdk.DescribeJSON
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&d); err != nil {
		return DescribeResult{}, fmt.Errorf("describe %s: its output is not a method spec: %w", path, err)
	}
	if err := d.Spec.Validate(); err != nil {
		return DescribeResult{}, fmt.Errorf("describe %s: %w", path, err)
	}
	return DescribeResult{Protocol: d.Protocol, Spec: d.Spec}, nil
}

// killGroup SIGKILLs the process group of a started cmd (its pid is the
// group id, see procAttr).
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return cmd.Process.Kill()
}
