package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// Schema is the version of the results files this bench writes, and the
// newest it reads. Every JSON file of a results directory carries it as a
// top-level "schema" field (each line of metrics.jsonl too); a file without
// the field was written by a bench from before versioning and is version 1.
// Bump it when a change would make an older bench misread the files: a
// field renamed, removed, or given a new meaning or unit. Adding an optional
// field (one an older bench can ignore) keeps the version.
const Schema = 1

// SchemaField is the JSON field that holds a file's schema version.
const SchemaField = "schema"

// SchemaError is the error of a reader given a file (or a metrics.jsonl
// line) of a newer schema than Schema: this bench cannot tell what its
// fields mean, so it refuses it rather than misreading it.
type SchemaError struct {
	Path    string // the file
	Line    int    // 1-based line of metrics.jsonl; 0 for a whole file
	Version int    // the file's schema version (> Schema)
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("%s has results schema %d, but this bench reads schema %d at most: it was written by a newer bench; use that bench (or a newer one) to read it (bench version says which this is)",
		location(e.Path, e.Line), e.Version, Schema)
}

// location names a file, or one of its lines when line > 0.
func location(path string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s line %d", path, line)
	}
	return path
}

// checkSchema returns the schema version of the JSON document b, read from
// the file path (line: see SchemaError.Line): 1 when it has no schema field,
// a *SchemaError when it is newer than Schema, another error when the field
// is not a positive integer. A document that is not a JSON object passes
// (version 1): decoding it reports what is wrong.
func checkSchema(b []byte, path string, line int) (int, error) {
	var probe struct {
		Schema json.RawMessage `json:"schema"`
	}
	if json.Unmarshal(b, &probe) != nil || len(probe.Schema) == 0 || string(probe.Schema) == "null" {
		return 1, nil
	}
	v, err := strconv.Atoi(string(probe.Schema))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%s: schema %s is not a version number (a positive integer): the file is corrupt; delete it to recompute", location(path, line), probe.Schema)
	}
	if v > Schema {
		return v, &SchemaError{Path: path, Line: line, Version: v}
	}
	return v, nil
}

// CheckSchema reads the schema version of the file at path without
// decoding the rest: nil when the file is absent or of a version this bench
// reads, a *SchemaError when it is newer. Writers call it before replacing a
// file another bench may have written.
func CheckSchema(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var newer *SchemaError
	if _, err := checkSchema(b, path, 0); errors.As(err, &newer) {
		return err
	}
	return nil
}

// stamp returns the compact JSON object b with "schema": Schema as its first
// field. b that is not an object (null, an array) is returned unchanged; b
// that already has a schema field keeps it if it is Schema, and is an error
// otherwise (a value decoded from a file of another version, re-encoded).
func stamp(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != '{' {
		return b, nil
	}
	var probe struct {
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, err
	}
	if len(probe.Schema) > 0 {
		if string(probe.Schema) == strconv.Itoa(Schema) {
			return b, nil
		}
		return nil, fmt.Errorf("value has its own %s field %s, not %d", SchemaField, probe.Schema, Schema)
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	fmt.Fprintf(&out, "{%q:%d", SchemaField, Schema)
	if !bytes.Equal(b, []byte("{}")) {
		out.WriteByte(',')
	}
	out.Write(b[1:])
	return out.Bytes(), nil
}

// MarshalMetrics encodes m as one line of metrics.jsonl (without the
// newline), stamped with Schema like every results file.
func MarshalMetrics(m EpochMetrics) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return stamp(b)
}
