package sdktest_test

import (
	"testing"

	"github.com/siambench/siambench/plugins/toy"
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
