package sdktest

import (
	"errors"
	"strings"
	"testing"

	"github.com/siambench/siambench/sdk"
)

// InitError is a case of InitErrors: options Init must refuse, and a
// substring of the error.
type InitError struct {
	Options map[string]string
	Want    string
}

// InitErrors calls Init on a fresh instance from newMethod (directly, not
// through the guard) with cfg and each case's options, and fails t unless
// every call fails with an error wrapping sdk.ErrBadInput that contains the
// case's Want.
func InitErrors(t testing.TB, newMethod func() sdk.Method, cfg sdk.InitConfig, cases ...InitError) {
	t.Helper()
	for _, tc := range cases {
		cfg.Options = tc.Options
		err := newMethod().Init(cfg)
		if err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.Want) {
			t.Errorf("%v: err = %v, want ErrBadInput containing %q", tc.Options, err, tc.Want)
		}
	}
}
