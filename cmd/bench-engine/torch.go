package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// torchInfo is the first line scripts/bench_engine.py --serve prints.
type torchInfo struct {
	Engine    string  `json:"engine"`
	Torch     string  `json:"torch"`
	Threads   int     `json:"threads"`
	Params    int     `json:"params"`
	Batch     int     `json:"batch"`
	ConvFlops float64 `json:"conv_flops"`
}

// torchProc is the PyTorch side, a child process answering "steps K" lines
// with {"times": [...], "peak_rss": bytes}.
type torchProc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Scanner
	stderr  *strings.Builder
	info    torchInfo
	peakRSS int64
}

func startTorch(ctx context.Context, o *options) (*torchProc, error) {
	if _, err := os.Stat(o.Script); err != nil {
		return nil, fmt.Errorf("PyTorch side: %w (run from the repository root, or pass -script; -pytorch=false times ours only)", err)
	}
	cmd := exec.CommandContext(ctx, o.Python, o.Script, "--serve",
		"--batch", fmt.Sprint(o.Batch), "--model", o.Model, "--input", fmt.Sprintf("%dx%dx%d", o.C, o.H, o.W),
		"--threads", "2", "--seed", fmt.Sprint(o.Seed), "--precision", o.Precision)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &torchProc{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	var err error
	if p.in, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("PyTorch side: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("PyTorch side: %w", err)
	}
	p.out = bufio.NewScanner(stdout)
	p.out.Buffer(make([]byte, 1<<16), 1<<20)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start PyTorch side %s %s: %w (install Debian's python3-torch, or pass -python; -pytorch=false times ours only)", o.Python, o.Script, err)
	}
	if err := p.readJSON(&p.info); err != nil {
		p.close()
		return nil, err
	}
	if p.info.Engine != "pytorch" || p.info.Batch != o.Batch {
		p.close()
		return nil, fmt.Errorf("PyTorch side: unexpected greeting %+v (want engine pytorch, batch %d)", p.info, o.Batch)
	}
	return p, nil
}

// readJSON decodes the next stdout line into v; on EOF it reports the
// child's stderr, which holds Python's traceback.
func (p *torchProc) readJSON(v any) error {
	if !p.out.Scan() {
		err := p.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("PyTorch side exited early (%v); its stderr:\n%s", err, tail(p.stderr.String(), 2000))
	}
	line := p.out.Bytes()
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("PyTorch side: bad reply %q: %w", line, err)
	}
	return nil
}

// steps asks for k timed training steps and returns their wall and process
// CPU durations in seconds.
func (p *torchProc) steps(ctx context.Context, k int) (wall, cpu []float64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if _, err := fmt.Fprintf(p.in, "steps %d\n", k); err != nil {
		return nil, nil, fmt.Errorf("PyTorch side: send: %w; its stderr:\n%s", err, tail(p.stderr.String(), 2000))
	}
	var r struct {
		Times    []float64 `json:"times"`
		CPUTimes []float64 `json:"cpu_times"`
		PeakRSS  int64     `json:"peak_rss"`
		Error    string    `json:"error"`
	}
	if err := p.readJSON(&r); err != nil {
		return nil, nil, err
	}
	if r.Error != "" {
		return nil, nil, fmt.Errorf("PyTorch side: %s", r.Error)
	}
	if len(r.Times) != k || len(r.CPUTimes) != k {
		return nil, nil, fmt.Errorf("PyTorch side: asked for %d steps, got %d times and %d CPU times", k, len(r.Times), len(r.CPUTimes))
	}
	p.peakRSS = r.PeakRSS
	return r.Times, r.CPUTimes, nil
}

// close asks the child to quit and waits for it.
func (p *torchProc) close() {
	fmt.Fprintln(p.in, "quit")
	p.in.Close()
	p.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
