package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/siambench/siambench/sdk"
)

// Methods finds method implementations and starts instances of them: the
// plugin host in bench, in-process methods in tests.
type Methods interface {
	// Describe returns the spec of the method called name.
	Describe(ctx context.Context, name string) (sdk.Spec, error)
	// Start starts a fresh, un-initialised instance of the method (for a
	// plugin: a new process). The caller closes it.
	Start(ctx context.Context, name string) (Instance, error)
	// IsCrash reports whether err from an instance means it died (a
	// crashed or killed plugin, a recovered panic) so that a new instance
	// restored from the last checkpoint can redo the epoch.
	IsCrash(err error) bool
}

// Instance is a started method.
type Instance interface {
	sdk.Method
	Close() error
}

// InProcess runs methods inside the bench process (tests, debugging): each
// Start wraps a new method from its constructor in sdk.InProcess, which turns
// panics into sdk.ErrPanicked errors — treated as crashes.
type InProcess map[string]func() sdk.Method

// Describe returns the spec of a registered method.
func (p InProcess) Describe(ctx context.Context, name string) (sdk.Spec, error) {
	mk, ok := p[name]
	if !ok {
		return sdk.Spec{}, p.unknown(name)
	}
	return mk().Describe(), nil
}

// Start returns a new in-process instance.
func (p InProcess) Start(ctx context.Context, name string) (Instance, error) {
	mk, ok := p[name]
	if !ok {
		return nil, p.unknown(name)
	}
	return inProcessInstance{sdk.InProcess(mk())}, nil
}

// IsCrash reports recovered panics.
func (p InProcess) IsCrash(err error) bool { return errors.Is(err, sdk.ErrPanicked) }

func (p InProcess) unknown(name string) error {
	var names []string
	for n := range p {
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Errorf("no method %q (available: %s)", name, strings.Join(names, ", "))
}

type inProcessInstance struct{ sdk.Method }

func (inProcessInstance) Close() error { return nil }
