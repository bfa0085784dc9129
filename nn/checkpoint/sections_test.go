package checkpoint

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/siambench/siambench/nn"
)

func TestSectionsRestore(t *testing.T) {
	p := func(name string, v ...float32) *nn.Param { return &nn.Param{Name: name, T: nn.New(v, len(v))} }
	saved := []Section{{"a", []*nn.Param{p("w", 1, 2)}}, {"b", []*nn.Param{p("w", 3), p("bias", 4)}}}
	entries, err := Join(saved...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, &File{Params: entries}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Split(f.Params)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{f.Params[0].Name, f.Params[1].Name, s["b"][1].Name}; !slices.Equal(got, []string{"a/w", "b/w", "bias"}) {
		t.Fatalf("names %v", got)
	}

	a, b := []*nn.Param{p("w", 0, 0)}, []*nn.Param{p("w", 0), p("bias", 0)}
	wrongB := []*nn.Param{p("w", 0), p("beta", 0)}
	applied := false
	apply := func() error { applied = true; return nil }
	for _, tc := range []struct {
		name  string
		rs    []Restoring
		apply func() error
	}{
		{"second section mismatched", []Restoring{{s, Section{"a", a}}, {s, Section{"b", wrongB}}}, apply},
		{"apply fails", []Restoring{{s, Section{"a", a}}, {s, Section{"b", b}}}, func() error { return errors.New("no") }},
	} {
		applied = false
		if err := Restore("the model", tc.apply, tc.rs...); err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		if a[0].T.Data[0] != 0 || b[0].T.Data[0] != 0 || applied {
			t.Fatalf("%s: something was applied (a %v, b %v, apply %v)", tc.name, a[0].T.Data, b[0].T.Data, applied)
		}
	}
	var me *MismatchError
	if err := s.Fit("the model", "b", wrongB); !errors.As(err, &me) || err.Error() != "section b entry 1 is bias[1], the model has beta[1]" {
		t.Fatalf("mismatch error: %v", err)
	}
	if err := Restore("the model", apply, Restoring{s, Section{"a", a}}, Restoring{s, Section{"b", b}}); err != nil || !applied {
		t.Fatalf("fitting restore: %v (applied %v)", err, applied)
	}
	if !slices.Equal(a[0].T.Data, []float32{1, 2}) || b[1].T.Data[0] != 4 {
		t.Fatalf("not copied: %v %v", a[0].T.Data, b[1].T.Data)
	}
	if _, err := Split([]*nn.Param{p("loose", 1)}); err == nil {
		t.Fatal("an entry without a section split without error")
	}
	if _, err := Join(Section{Name: "a/b"}); err == nil {
		t.Fatal("a section name with '/' joined without error")
	}
}
