package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
)

// Plugins runs methods as plugin processes found in Dirs (see
// pluginhost.SearchDirs): every Start launches a new process, which dies
// with bench.
type Plugins struct {
	Dirs    []string
	Options pluginhost.Options

	mu     sync.Mutex
	specs  map[string]sdk.Spec
	paths  map[string]string
	hashes map[string]string // by path: each binary is read once
}

// Describe runs the plugin's describe mode (cached per name) and checks its
// protocol version.
func (p *Plugins) Describe(ctx context.Context, name string) (sdk.Spec, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.specs[name]; ok {
		return s, nil
	}
	f, err := pluginhost.Lookup(p.Dirs, name)
	if err != nil {
		return sdk.Spec{}, err
	}
	d, err := pluginhost.Describe(ctx, f.Path)
	if err != nil {
		return sdk.Spec{}, err
	}
	if err := d.Compatible(); err != nil {
		return sdk.Spec{}, err
	}
	if d.Spec.Name != name {
		return sdk.Spec{}, fmt.Errorf("plugin %s describes itself as %q: rename the binary to bench-method-%s or rebuild it", f.Path, d.Spec.Name, d.Spec.Name)
	}
	if p.specs == nil {
		p.specs, p.paths = map[string]sdk.Spec{}, map[string]string{}
	}
	p.specs[name], p.paths[name] = d.Spec, f.Path
	return d.Spec, nil
}

// Binary returns the plugin binary of the method (found as Describe finds
// it) and the SHA-256 of its content, computed once per path: the part of
// a run's identity that says which code the method ran (sweep.Code.Binary).
func (p *Plugins) Binary(ctx context.Context, name string) (sweep.Binary, error) {
	if _, err := p.Describe(ctx, name); err != nil {
		return sweep.Binary{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	path := p.paths[name]
	if h, ok := p.hashes[path]; ok {
		return sweep.Binary{Path: path, SHA256: h}, nil
	}
	h, err := FileSHA256(path)
	if err != nil {
		return sweep.Binary{}, fmt.Errorf("plugin %s: %w", name, err)
	}
	if p.hashes == nil {
		p.hashes = map[string]string{}
	}
	p.hashes[path] = h
	return sweep.Binary{Path: path, SHA256: h}, nil
}

// FileSHA256 returns the hex SHA-256 of the file at path's content.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Start launches a new plugin process for the method.
func (p *Plugins) Start(ctx context.Context, name string) (Instance, error) {
	if _, err := p.Describe(ctx, name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	path := p.paths[name]
	p.mu.Unlock()
	c, err := pluginhost.Launch(ctx, path, p.Options)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// IsCrash reports a dead plugin process, a step past its deadline or a
// recovered panic: in each case the method's state is unknown and the epoch
// is redone from the last checkpoint in a new process.
func (p *Plugins) IsCrash(err error) bool {
	return pluginhost.IsCrash(err) || errors.Is(err, pluginhost.ErrStepTimeout) || errors.Is(err, sdk.ErrPanicked)
}
