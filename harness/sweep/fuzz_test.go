package sweep

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseConfig feeds arbitrary text to the sweep.yaml reader: no panic
// and no hang (alias bombs are refused), errors name the file, and an
// accepted config survives validation, Args and a YAML round trip
// (marshal → parse gives the same Config).
func FuzzParseConfig(f *testing.F) {
	full, err := yaml.Marshal(Defaults())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(full))
	f.Add("methods: [simsiam, byol]\nbatch_sizes: [64, 128]\nepochs: [2]\nseeds: [1, 2]\nset: [simsiam.stopgrad=false]\nbaselines: false\ntrain_limit: 300\n")
	f.Add("")
	f.Add("method: [simsiam]\n")
	f.Add("batch_sizes: big\n")
	f.Add("methods: [simsiam]\n---\nepochs: [50]\n")
	f.Add("set: ['simsiam.lr=0.1,0.2', 'byol.x=']\nseeds: [-1, 9223372036854775807]\n")
	f.Add("a: &a [x, x]\nmethods: *a\n")
	f.Add(aliasBomb())
	f.Add("baselines: null\nout: \"it's here\"\n")
	f.Add("methods: [simsiam]\nalso:\n  - {methods: [byol], epochs: [2]}\n  - {set: [simsiam.stopgrad=false]}\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := parseConfig([]byte(in), "sweep.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "sweep.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		_ = c.Validate()
		_ = c.Args()
		_ = c.TransferDatasets()
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("accepted config does not marshal: %v", err)
		}
		back, err := parseConfig(out, "again.yaml")
		if err != nil {
			t.Fatalf("re-marshalled config does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalize(c), normalize(back)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v\n%s", c, back, out)
		}
	})
}

// normalize maps empty slices to nil: YAML writes both as [] and reads []
// back as empty, so the distinction is not part of the format.
func normalize(c Config) Config {
	if len(c.Methods) == 0 {
		c.Methods = nil
	}
	if len(c.Transfer) == 0 {
		c.Transfer = nil
	}
	if len(c.BatchSizes) == 0 {
		c.BatchSizes = nil
	}
	if len(c.Epochs) == 0 {
		c.Epochs = nil
	}
	if len(c.Seeds) == 0 {
		c.Seeds = nil
	}
	if len(c.Set) == 0 {
		c.Set = nil
	}
	if len(c.Also) == 0 {
		c.Also = nil
	}
	for i, a := range c.Also {
		c.Also[i] = normalize(a)
	}
	return c
}
