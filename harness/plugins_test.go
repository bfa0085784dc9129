package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/siambench/siambench/harness/sweep"
)

const toyMain = "github.com/siambench/siambench/internal/testplugins/toy"

// buildToy builds the toy plugin as DIR/bench-method-toy; with edited, its
// main.go gets one more statement (through go build -overlay, so the
// source tree is untouched) while its spec stays the same.
func buildToy(t *testing.T, dir string, edited bool) string {
	t.Helper()
	bin := filepath.Join(dir, "bench-method-toy")
	args := []string{"build", "-o", bin}
	if edited {
		src, err := filepath.Abs("../internal/testplugins/toy/main.go") // tests run in harness/
		if err != nil {
			t.Fatal(err)
		}
		orig, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		changed := filepath.Join(t.TempDir(), "main.go")
		code := bytes.Replace(orig, []byte("func main() {"), []byte("func main() {\n\tprintln(\"edited\")"), 1)
		if bytes.Equal(code, orig) {
			t.Fatal("toy main.go has no func main() { to edit")
		}
		if err := os.WriteFile(changed, code, 0o644); err != nil {
			t.Fatal(err)
		}
		overlay := `{"Replace": {` + strconv.Quote(src) + `: ` + strconv.Quote(changed) + `}}` // Go quoting is JSON for paths
		ov := filepath.Join(t.TempDir(), "overlay.json")
		if err := os.WriteFile(ov, []byte(overlay), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-overlay", ov)
	}
	cmd := exec.Command("go", append(args, toyMain)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRunIDFollowsPluginBinary: a run's ID covers the plugin binary's
// content, so rebuilding an unchanged method reuses its runs and an
// edited one (same spec, same version) gets new ones; config.json's fields
// name the binary and its hash.
func TestRunIDFollowsPluginBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the toy plugin three times")
	}
	root := t.TempDir()
	dirs := map[string]string{"first": "", "rebuilt": "", "edited": ""}
	for name := range dirs {
		dirs[name] = filepath.Join(root, name)
		buildToy(t, dirs[name], name == "edited")
	}
	cfg := sweep.Config{Methods: []string{"toy"}, Dataset: "default", Backbone: "tiny",
		BatchSizes: []int{32}, Epochs: []int{1}, Seeds: []int64{0}}
	ctx := context.Background()
	plan := func(p *Plugins) *sweep.Plan {
		t.Helper()
		pl, err := sweep.MakePlan(ctx, cfg, p.Describe, sweep.Code{Version: "test", HostSHA256: "host", Binary: p.Binary})
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	first := plan(&Plugins{Dirs: []string{dirs["first"]}}).Runs[0].Config
	rebuilt := plan(&Plugins{Dirs: []string{dirs["rebuilt"]}}).Runs[0].Config
	edited := plan(&Plugins{Dirs: []string{dirs["edited"]}}).Runs[0].Config
	if first.ID != rebuilt.ID {
		t.Errorf("the same code built twice gave run IDs %s and %s (hashes %s, %s)", first.ID, rebuilt.ID, first.MethodSHA256, rebuilt.MethodSHA256)
	}
	if first.ID == edited.ID {
		t.Errorf("an edited plugin kept the run ID %s", first.ID)
	}
	wantPath := filepath.Join(dirs["first"], "bench-method-toy")
	if want, _ := FileSHA256(wantPath); first.MethodBinary != wantPath || first.MethodSHA256 != want || len(want) != 64 {
		t.Errorf("config records binary %q sha256 %q, want %q %q", first.MethodBinary, first.MethodSHA256, wantPath, want)
	}

	// The hash is read once per binary per Plugins (one sweep): replacing
	// the file afterwards does not change the plan.
	p := &Plugins{Dirs: []string{dirs["first"]}}
	before := plan(p).Runs[0].Config.ID
	edit, err := os.ReadFile(filepath.Join(dirs["edited"], "bench-method-toy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wantPath, edit, 0o755); err != nil {
		t.Fatal(err)
	}
	if after := plan(p).Runs[0].Config.ID; after != before {
		t.Errorf("the same sweep hashed the binary again: %s, then %s", before, after)
	}
}
