package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSchemaRoundTrip: every file type written by WriteJSON (and
// WriteEmbedding, MarshalMetrics) starts with "schema": Schema and reads back
// to the same value.
func TestSchemaRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	top5 := 0.9
	cases := []struct {
		name string
		v    any
		newV func() any
	}{
		{"summary", &Summary{Runs: []SummaryRun{{ID: "a", Status: StatusCompleted, LinearTop5: &top5, FinishedAt: now}}, Baselines: map[string]Baseline{BaselineRawPixels: {KNNTop1: 0.7}}}, func() any { return new(Summary) }},
		{"sweep", &Sweep{Command: "bench run", Config: []byte(`{"methods":["simsiam"]}`), Runs: []string{"a"}}, func() any { return new(Sweep) }},
		{"config", &RunConfig{ID: "a", Method: "simsiam", Options: map[string]string{"k": "v"}}, func() any { return new(RunConfig) }},
		{"status", &RunStatus{Status: StatusRunning, EpochsDone: 2, StartedAt: now}, func() any { return new(RunStatus) }},
		{"eval", &Eval{KNNTop1: 0.5, Transfer: map[string]float64{"mnist": 0.8}}, func() any { return new(Eval) }},
		{"baseline", &Baseline{Dataset: "mnist", KNNTop1: 0.9}, func() any { return new(Baseline) }},
		{"empty object", &struct{}{}, func() any { return new(struct{}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.name+".json")
			if err := WriteJSON(p, tc.v); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("{\n  \"schema\": %d", Schema); !bytes.HasPrefix(b, []byte(want)) {
				t.Errorf("file does not start with %q:\n%s", want, b)
			}
			back := tc.newV()
			if err := ReadJSON(p, back); err != nil {
				t.Fatal(err)
			}
			// Compared as compact JSON: WriteJSON indents a RawMessage
			// (Sweep.Config), which json.Marshal compacts again.
			gotB, err1 := json.Marshal(back)
			wantB, err2 := json.Marshal(tc.v)
			if err1 != nil || err2 != nil || !bytes.Equal(gotB, wantB) {
				t.Errorf("round trip:\n got %s\nwant %s", gotB, wantB)
			}
			// Writing what was read stamps the same version again.
			if err := WriteJSON(p, back); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("embedding", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), EmbeddingFile)
		e := &Embedding{Method: "simsiam", Classes: []string{"a", "b"}, Label: []int{0, 1}, X: []float64{1, 2}, Y: []float64{3, 4}}
		if err := WriteEmbedding(p, e); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); !bytes.HasPrefix(b, []byte(`{"schema":1,`)) {
			t.Errorf("embedding not stamped: %.40s", b)
		}
		back, err := ReadEmbedding(p)
		if err != nil || !reflect.DeepEqual(back, e) {
			t.Errorf("round trip: %+v, %v", back, err)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		var b bytes.Buffer
		want := []EpochMetrics{{Epoch: 1, Step: 5, Loss: -0.25}, {Epoch: 2, Step: 10, Metrics: map[string]float64{"x": 1}}}
		for _, m := range want {
			line, err := MarshalMetrics(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(line, []byte(`{"schema":1,"epoch":`)) {
				t.Errorf("line not stamped: %s", line)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		got, err := decodeMetrics(&b, MetricsFile)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: %+v, %v", got, err)
		}
	})
}

// TestSchemaVersions: files without the field (an earlier bench) read as
// version 1; a newer version is a *SchemaError naming the file, its version,
// the newest this bench reads and the remedy; a field that is not a version
// is corruption.
func TestSchemaVersions(t *testing.T) {
	newest := fmt.Sprintf("reads schema %d at most", Schema)
	cases := []struct {
		name    string
		in      string
		wantErr []string // substrings of the error; none: it reads
		newer   bool     // the error is a *SchemaError
	}{
		{name: "no field", in: `{"status":"completed","epochs_done":3}`},
		{name: "null", in: `{"schema":null,"status":"completed"}`},
		{name: "current", in: fmt.Sprintf(`{"schema":%d,"status":"completed"}`, Schema)},
		{name: "newer", in: `{"schema":99,"status":"completed"}`, newer: true,
			wantErr: []string{"status.json has results schema 99", newest, "newer bench", "use that bench"}},
		{name: "zero", in: `{"schema":0}`, wantErr: []string{"status.json: schema 0 is not a version number", "delete it"}},
		{name: "string", in: `{"schema":"2"}`, wantErr: []string{`schema "2" is not a version number`}},
		{name: "fraction", in: `{"schema":1.5}`, wantErr: []string{"schema 1.5 is not a version number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), StatusFile)
			if err := os.WriteFile(p, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			var st RunStatus
			err := ReadJSON(p, &st)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if st.Status != StatusCompleted && tc.name != "current" && tc.name != "null" {
					t.Errorf("decoded %+v", st)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %s without an error", tc.in)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var se *SchemaError
			if errors.As(err, &se) != tc.newer {
				t.Errorf("errors.As(*SchemaError) = %v, want %v", !tc.newer, tc.newer)
			}
		})
	}
	t.Run("metrics line", func(t *testing.T) {
		in := "{\"epoch\":1}\n{\"schema\":1,\"epoch\":2}\n{\"schema\":99,\"epoch\":3}\n"
		_, err := decodeMetrics(strings.NewReader(in), MetricsFile)
		var se *SchemaError
		if !errors.As(err, &se) || se.Line != 3 || !strings.Contains(err.Error(), "metrics.jsonl line 3 has results schema 99") {
			t.Errorf("err = %v, want a SchemaError for line 3", err)
		}
		ms, err := decodeMetrics(strings.NewReader(in[:strings.LastIndex(in[:len(in)-1], "\n")+1]), MetricsFile)
		if err != nil || len(ms) != 2 {
			t.Errorf("lines with and without the field: %d epochs, %v", len(ms), err)
		}
	})
	t.Run("write refuses another version", func(t *testing.T) {
		err := WriteJSON(filepath.Join(t.TempDir(), "x.json"), map[string]any{"schema": 99})
		if err == nil || !strings.Contains(err.Error(), "schema field 99") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestSchemaFixture: the reports package's stored results, written by the
// bench from before versioning (no schema field anywhere), still read with
// the typed readers.
func TestSchemaFixture(t *testing.T) {
	root := filepath.Join("..", "reports", "testdata", "sweep")
	var n int
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`"schema"`)) {
			t.Errorf("%s has a schema field: the fixture is meant to be of the earlier bench", p)
		}
		var v any
		switch name := filepath.Base(p); {
		case name == MetricsFile:
			_, err = ReadMetrics(p)
		case name == SummaryFile:
			v = new(Summary)
		case name == SweepFile:
			v = new(Sweep)
		case name == ConfigFile:
			v = new(RunConfig)
		case name == StatusFile:
			v = new(RunStatus)
		case name == EvalFile:
			v = new(Eval)
		case name == EmbeddingFile || filepath.Base(filepath.Dir(p)) == EmbeddingsDir:
			_, err = ReadEmbedding(p)
		case filepath.Base(filepath.Dir(p)) == BaselinesDir:
			v = new(Baseline)
		default:
			return nil
		}
		if v != nil {
			err = ReadJSON(p, v)
		}
		n++
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("read only %d files of %s", n, root)
	}
}
