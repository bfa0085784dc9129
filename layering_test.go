// Package siambench_test holds the module's layering test: the dependency
// rules of docs/CONTRACTS.md, checked against what `go list` reports.
package siambench_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/siambench/siambench"

// layerRules are the dependency rules: no package under From (tests
// included) may depend, directly or through others, on a package under any
// of Forbidden. Tests (not the package itself) may use the fixtures under
// testFixtures, which are checked like the test that imports them: what
// they depend on must obey the rule too. Paths are relative to the module.
var layerRules = []struct {
	From      string
	Forbidden []string
	Why       string
}{
	{"sdk", []string{"internal", "harness"},
		"a plugin author imports sdk and its test kits; they must not reach into the host"},
	{"nn", []string{"sdk", "harness", "internal", "pluginhost", "wire"},
		"nn is the bottom layer"},
	{"plugins", []string{"internal", "harness"},
		"a method plugin is built from sdk and nn only"},
}

// testFixtures hold test-only code (the fault-injecting toy method), built
// from sdk and nn like a real method.
const testFixtures = "internal/testplugins"

// goPackage is the part of `go list -json` this test reads.
type goPackage struct {
	ImportPath string
	Imports    []string
}

// under reports whether the import path p (a test variant "p [q.test]"
// counts as p) is the module's package dir or one below it.
func under(p, dir string) bool {
	p, _, _ = strings.Cut(p, " ")
	full := module + "/" + dir
	return p == full || strings.HasPrefix(p, full+"/")
}

// listDeps runs `go list -deps -test -json` on the module's packages under
// dir and returns them by import path.
func listDeps(t *testing.T, dir string) map[string]goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-test", "-json=ImportPath,Imports", "./"+dir+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./%s/...: %v\n%s", dir, err, stderr.Bytes())
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list ./%s/...: %v", dir, err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// isTest reports whether p is a test variant ("p [q.test]") or a test main.
func isTest(p string) bool { return strings.Contains(p, " [") || strings.HasSuffix(p, ".test") }

// violations returns, for each package under from that depends on a
// package under a forbidden dir, one shortest import chain that shows it,
// sorted. A package's test variant and test main count as the package, and
// may reach testFixtures (but not, through them, anything forbidden).
func violations(pkgs map[string]goPackage, from string, forbidden []string) []string {
	byRoot := map[string]string{}
	roots := slices.Sorted(maps.Keys(pkgs))
	for _, root := range roots {
		if !under(root, from) {
			continue
		}
		name, _, _ := strings.Cut(root, " ")
		name = strings.TrimSuffix(strings.TrimSuffix(name, ".test"), "_test")
		// Breadth-first from root, remembering how each package was reached.
		parent := map[string]string{root: ""}
		queue := []string{root}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, dir := range forbidden {
				if under(p, dir) && !(isTest(root) && under(p, testFixtures)) {
					chain := []string{p}
					for q := parent[p]; q != ""; q = parent[q] {
						chain = append([]string{q}, chain...)
					}
					if c := strings.Join(chain, " → "); byRoot[name] == "" || len(c) < len(byRoot[name]) {
						byRoot[name] = c
					}
					queue = nil
					break
				}
			}
			for _, imp := range pkgs[p].Imports {
				if _, seen := parent[imp]; !seen {
					parent[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
	found := slices.Collect(maps.Values(byRoot))
	slices.Sort(found)
	return found
}

func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the layering rules are checked with `go list`: put the go command on PATH (%v)", err)
	}
	for _, r := range layerRules {
		t.Run(r.From, func(t *testing.T) {
			pkgs := listDeps(t, r.From)
			if len(pkgs) == 0 {
				t.Fatalf("go list ./%s/... found no packages", r.From)
			}
			for _, v := range violations(pkgs, r.From, r.Forbidden) {
				t.Errorf("%s must not depend on %s (%s):\n  %s",
					r.From, strings.Join(r.Forbidden, ", "), r.Why, strings.ReplaceAll(v, module+"/", ""))
			}
		})
	}
}

// TestViolations checks the checker on a made-up graph: a forbidden package
// reached through two hops is found, with its chain; a clean one is not.
func TestViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	pkgs := map[string]goPackage{
		m("sdk/kit"):          {m("sdk/kit"), []string{m("sdk"), "fmt"}},
		m("sdk"):              {m("sdk"), []string{m("nn")}},
		m("sdk/x [sdk.test]"): {m("sdk/x [sdk.test]"), []string{m("hostlib")}},
		m("hostlib"):          {m("hostlib"), []string{m("internal/wire")}},
		m("internal/wire"):    {m("internal/wire"), nil},
		m("nn"):               {m("nn"), nil},
		m("sdkextra"):         {m("sdkextra"), []string{m("internal/wire")}}, // not under sdk/
		// A test may use a fixture; the package itself may not, nor may the
		// fixture lead on to a forbidden package.
		m("sdk/t [sdk/t.test]"):      {m("sdk/t [sdk/t.test]"), []string{m(testFixtures + "/toy")}},
		m(testFixtures + "/toy"):     {m(testFixtures + "/toy"), []string{m("sdk")}},
		m("sdk/u"):                   {m("sdk/u"), []string{m(testFixtures + "/toy")}},
		m("sdk/v_test [sdk/v.test]"): {m("sdk/v_test [sdk/v.test]"), []string{m(testFixtures + "/bad")}},
		m(testFixtures + "/bad"):     {m(testFixtures + "/bad"), []string{m("internal/wire")}},
	}
	got := violations(pkgs, "sdk", []string{"internal", "harness"})
	want := []string{
		fmt.Sprintf("%s → %s", m("sdk/u"), m(testFixtures+"/toy")),
		fmt.Sprintf("%s → %s → %s", m("sdk/v_test [sdk/v.test]"), m(testFixtures+"/bad"), m("internal/wire")),
		fmt.Sprintf("%s → %s → %s", m("sdk/x [sdk.test]"), m("hostlib"), m("internal/wire")),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations = %q, want %q", got, want)
	}
	if got := violations(pkgs, "nn", []string{"sdk"}); len(got) != 0 {
		t.Fatalf("nn: violations = %q, want none", got)
	}
}
