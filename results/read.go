package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// MaxMetricsLine bounds one line of metrics.jsonl (16 MiB); a longer line is
// an error naming the file rather than an unbounded buffer.
const MaxMetricsLine = 1 << 24

// decodeMetrics is ReadMetrics on the content r of the file named path. A
// line of a newer schema than Schema is a *SchemaError.
func decodeMetrics(r io.Reader, path string) ([]EpochMetrics, error) {
	var out []EpochMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxMetricsLine)
	var pendingErr error
	line := 0
	for sc.Scan() {
		line++
		if pendingErr != nil {
			return nil, pendingErr
		}
		if len(sc.Bytes()) == 0 {
			continue
		}
		if _, err := checkSchema(sc.Bytes(), path, line); err != nil {
			return nil, err
		}
		var m EpochMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			pendingErr = fmt.Errorf("%s line %d: %w (the file is corrupt: delete the line, or the run folder to recompute the run)", path, line, err)
			continue
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w (lines are limited to %d bytes)", path, err, MaxMetricsLine)
	}
	return out, nil
}
