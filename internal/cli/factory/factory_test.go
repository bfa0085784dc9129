package factory

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/iostreams"
)

// A logger taken before SetLogging follows it: level and format, also for a
// logger derived with With.
func TestSetLogging(t *testing.T) {
	io, _, _, errOut := iostreams.Test()
	f := New(io)
	log, run := f.Logger, f.Logger.With("run", "r1")
	log.Debug("hidden at info")
	log.Info("plain", "k", 1)
	if s := errOut.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "msg=plain k=1") {
		t.Fatalf("default text at info level:\n%s", s)
	}
	errOut.Reset()
	if err := f.SetLogging("warn", "json"); err != nil {
		t.Fatal(err)
	}
	log.Info("hidden at warn")
	run.Warn("slow", "step", 3)
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (info suppressed at warn), got:\n%s", errOut)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	if rec["msg"] != "slow" || rec["level"] != "WARN" || rec["run"] != "r1" || rec["step"] != 3.0 {
		t.Errorf("record %v, want msg slow, level WARN, run r1, step 3", rec)
	}
	errOut.Reset()
	if err := f.SetLogging("debug", "text"); err != nil {
		t.Fatal(err)
	}
	log.Debug("shown")
	if !strings.Contains(errOut.String(), "level=DEBUG msg=shown") {
		t.Errorf("debug text: %q", errOut)
	}
	for _, bad := range [][2]string{{"verbose", "text"}, {"info", "yaml"}, {"warning", "text"}} {
		err := f.SetLogging(bad[0], bad[1])
		if err == nil || !strings.Contains(err.Error(), "choose one of") {
			t.Errorf("SetLogging(%q, %q) = %v, want an error listing the choices", bad[0], bad[1], err)
		}
	}
}
