package sweep

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// presets are sweep.yaml files shipped with bench (bench run --preset NAME).
//
//go:embed presets/*.yaml
var presets embed.FS

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	ents, _ := fs.ReadDir(presets, "presets")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// Preset returns the sweep of preset name, read as a sweep.yaml.
func Preset(name string) (Config, error) {
	b, err := presets.ReadFile(path.Join("presets", name+".yaml"))
	if err != nil {
		return Config{}, Invalid(fmt.Errorf("unknown preset %q (have: %s)", name, strings.Join(PresetNames(), ", ")))
	}
	if err := checkIntegers(b); err != nil {
		return Config{}, Invalid(fmt.Errorf("preset %s: %w", name, err))
	}
	c, err := parseConfig(b, "preset "+name)
	c.Preset = name
	return c, err
}
