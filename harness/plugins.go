package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
)

// Plugins runs methods as plugin processes found in Dirs (see
// pluginhost.SearchDirs): every Start launches a new process, which dies
// with bench.
type Plugins struct {
	Dirs    []string
	Options pluginhost.Options

	mu    sync.Mutex
	specs map[string]sdk.Spec
	paths map[string]string
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
