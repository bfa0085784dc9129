package sdktest_test

import (
	"testing"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/sdktest"
)

func TestToyInProcess(t *testing.T) {
	cases := []struct {
		name string
		new  func() sdk.Method
		opts map[string]string
	}{
		{"plain", func() sdk.Method { return toy.New() }, nil},
		{"stopgrad_detached", func() sdk.Method { return toy.New() }, map[string]string{"stopgrad": "true"}},
		{"target", func() sdk.Method { return toy.NewTarget() }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sdktest.Run(t, tc.new, sdktest.Config{Init: sdk.InitConfig{Seed: 3, Options: tc.opts}})
		})
	}
}

// InitErrors passes on options the toy refuses and fails on ones it takes.
func TestInitErrors(t *testing.T) {
	newToy := func() sdk.Method { return toy.New() }
	cfg := sdk.InitConfig{FeatureDim: 4, BatchSize: 2}
	sdktest.InitErrors(t, newToy, cfg,
		sdktest.InitError{Options: map[string]string{"dim": "0"}, Want: "option dim = 0"},
		sdktest.InitError{Options: map[string]string{"nope": "1"}, Want: "nope"})
	rec := &recorder{TB: t}
	sdktest.InitErrors(rec, newToy, cfg, sdktest.InitError{Options: map[string]string{"dim": "3"}, Want: "dim"})
	if !rec.failed {
		t.Error("InitErrors passed on options Init accepts")
	}
}

// recorder is a testing.TB whose Errorf records the failure instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()                        {}
func (r *recorder) Errorf(format string, a ...any) { r.failed = true }
