package factory

import (
	"runtime/debug"
)

// version is set at link time by the Makefile: -ldflags "-X ...factory.version=...".
var version = ""

// Version returns the code version: the link-time version if set, else the
// VCS revision recorded by the Go toolchain (with "+dirty" when modified),
// else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "+dirty"
			}
			return rev
		}
	}
	return "dev"
}
