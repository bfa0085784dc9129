package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func metricsLines(t testing.TB, ms ...EpochMetrics) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, m := range ms {
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestReadMetrics(t *testing.T) {
	good := metricsLines(t, EpochMetrics{Epoch: 1, Step: 10, Loss: -0.5, Metrics: map[string]float64{"output_dim": 64}}, EpochMetrics{Epoch: 2, Step: 20})
	cases := []struct {
		name    string
		in      []byte
		want    int    // epochs read
		wantErr string // "" = no error
	}{
		{"good", good, 2, ""},
		{"torn last line", append(append([]byte{}, good...), `{"epoch":3,"st`...), 2, ""},
		{"bad middle line", append(append([]byte(`{"epoch":1}`+"\n"), "garbage\n"...), good...), 0, "line 2"},
		{"blank lines", append([]byte("\n\n"), good...), 2, ""},
		{"empty", nil, 0, ""},
		{"line too long", append([]byte(`{"epoch":1,"loss":`+strings.Repeat("1", MaxMetricsLine)), "}\n"...), 0, "limited to"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "metrics.jsonl")
			if err := os.WriteFile(p, tc.in, 0o644); err != nil {
				t.Fatal(err)
			}
			ms, err := ReadMetrics(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
					t.Fatalf("want an error naming %s and %q, got %v", p, tc.wantErr, err)
				}
				return
			}
			if err != nil || len(ms) != tc.want {
				t.Fatalf("got %d epochs, %v; want %d", len(ms), err, tc.want)
			}
		})
	}
}

// FuzzDecodeMetrics checks the metrics.jsonl reader: no panic; an accepted
// file yields one epoch per well-formed non-empty line (all but at most a
// torn last one), and each epoch survives a marshal→unmarshal round trip.
func FuzzDecodeMetrics(f *testing.F) {
	f.Add(metricsLines(f, EpochMetrics{Epoch: 1, Step: 10, Loss: -0.5, KNNTop1: 0.25, Metrics: map[string]float64{"output_dim": 64}, PeakRSSBytes: 1 << 30}))
	f.Add(metricsLines(f, EpochMetrics{Epoch: 1}, EpochMetrics{Epoch: 2}))
	f.Add(append(metricsLines(f, EpochMetrics{Epoch: 1}), `{"epoch":2,"lo`...))
	f.Add([]byte("{\"epoch\":1}\ngarbage\n{\"epoch\":2}\n"))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte(`{"epoch":1e400}` + "\n"))
	f.Add([]byte(`[1,2]` + "\n" + `null` + "\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ms, err := decodeMetrics(bytes.NewReader(in), "metrics.jsonl")
		if err != nil {
			if !strings.Contains(err.Error(), "metrics.jsonl") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		nonEmpty := 0
		for _, l := range bytes.Split(in, []byte("\n")) {
			if len(bytes.TrimSuffix(l, []byte("\r"))) > 0 { // the scanner drops a line's final \r
				nonEmpty++
			}
		}
		if len(ms) > nonEmpty || len(ms) < nonEmpty-1 {
			t.Fatalf("%d non-empty lines gave %d epochs", nonEmpty, len(ms))
		}
		for i, m := range ms {
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("epoch %d does not marshal: %v", i, err)
			}
			var back EpochMetrics
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if len(m.Metrics) == 0 {
				m.Metrics = nil // omitempty drops an empty map
			}
			if !reflect.DeepEqual(m, back) {
				t.Fatalf("epoch %d changed in a round trip:\n%+v\n%+v", i, m, back)
			}
		}
	})
}

// FuzzReadJSON checks ReadJSON on every results file type: no panic, errors
// name the file and say what to do, and what is accepted marshals back to
// JSON that decodes to the same value.
func FuzzReadJSON(f *testing.F) {
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	top5 := 0.9
	for _, v := range []any{
		Summary{Runs: []SummaryRun{{ID: "simsiam-b64-e4-s0-abc", Status: StatusCompleted, LinearTop5: &top5, FinishedAt: now}}, Baselines: map[string]Baseline{BaselineRawPixels: {KNNTop1: 0.7}}},
		RunStatus{Status: StatusRunning, EpochsDone: 2, StartedAt: now},
		RunConfig{ID: "x", Options: map[string]string{"a": "b"}, Transfer: []string{"mnist"}},
		Eval{KNNTop1: 0.5, Transfer: map[string]float64{"mnist": 0.8}},
		Sweep{Config: json.RawMessage(`{"methods":["simsiam"]}`), Runs: []string{"a", "b"}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"runs": [null], "baselines": {"": {}}}`))
	f.Add([]byte(`{"finished_at": "not a time"}`))
	f.Add([]byte(`{"config": }`))
	dir := f.TempDir()
	p := filepath.Join(dir, "file.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, newV := range []func() any{
			func() any { return new(Summary) }, func() any { return new(RunStatus) }, func() any { return new(RunConfig) },
			func() any { return new(Eval) }, func() any { return new(Sweep) }, func() any { return new(Baseline) },
		} {
			v := newV()
			if err := ReadJSON(p, v); err != nil {
				if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "delete it") && !strings.Contains(err.Error(), "use that bench") {
					t.Fatalf("error %q does not name the file and the remedy", err)
				}
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("accepted %T does not marshal: %v", v, err)
			}
			back := newV()
			if err := json.Unmarshal(b, back); err != nil {
				t.Fatalf("re-marshalled %T does not decode: %v", v, err)
			}
			b2, err := json.Marshal(back)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("%T changed in a round trip:\n%s\n%s", v, b, b2)
			}
		}
	})
}
