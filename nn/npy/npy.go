// Package npy writes (and, for checks, reads) NumPy .npy files, format
// version 1.0: the magic "\x93NUMPY", version bytes 1 0, a little-endian
// u16 header length, an ASCII Python-dict header
// {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), } padded with
// spaces and ended by '\n' so the data starts on a 64-byte boundary, then
// the raw little-endian row-major data. numpy.load reads them directly.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/siambench/siambench/atomicfile"
)

const magic = "\x93NUMPY"

func header(descr string, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	s := strings.Join(dims, ", ")
	if len(shape) == 1 {
		s += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, s)
	pad := 64 - (len(magic)+4+len(h)+1)%64
	if pad == 64 {
		pad = 0
	}
	h += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{1, 0})
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	return b.Bytes()
}

func checkShape(n int, shape []int) error {
	p := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", shape)
		}
		p *= d
	}
	if p != n {
		return fmt.Errorf("npy: shape %v needs %d values, got %d", shape, p, n)
	}
	return nil
}

// WriteFloat32 writes data, of the given shape (row-major), as '<f4'.
func WriteFloat32(w io.Writer, data []float32, shape ...int) error {
	if err := checkShape(len(data), shape); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(header("<f4", shape))
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// WriteInt64 writes data, of the given shape, as '<i8'.
func WriteInt64(w io.Writer, data []int64, shape ...int) error {
	if err := checkShape(len(data), shape); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(header("<i8", shape))
	var b [8]byte
	for _, v := range data {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// SaveFloat32 writes a '<f4' array to path atomically.
func SaveFloat32(path string, data []float32, shape ...int) error {
	return atomicfile.Write(path, func(w io.Writer) error { return WriteFloat32(w, data, shape...) })
}

// SaveInt64 writes a '<i8' array to path atomically.
func SaveInt64(path string, data []int64, shape ...int) error {
	return atomicfile.Write(path, func(w io.Writer) error { return WriteInt64(w, data, shape...) })
}

var headerRE = regexp.MustCompile(`^\{'descr': '([<>|]\w+)', 'fortran_order': False, 'shape': \(([0-9, ]*)\), \} *\n$`)

// Header parses the header of a version 1.0 file as this package writes it
// and returns the dtype descriptor, the shape and the data that follows.
func Header(b []byte) (descr string, shape []int, data []byte, err error) {
	if len(b) < 10 || string(b[:6]) != magic || b[6] != 1 || b[7] != 0 {
		return "", nil, nil, fmt.Errorf("npy: not a version 1.0 .npy file")
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if 10+hl > len(b) {
		return "", nil, nil, fmt.Errorf("npy: header of %d bytes exceeds the file", hl)
	}
	m := headerRE.FindSubmatch(b[10 : 10+hl])
	if m == nil {
		return "", nil, nil, fmt.Errorf("npy: unrecognised header %q", b[10:10+hl])
	}
	for _, f := range strings.Split(string(m[2]), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil {
			return "", nil, nil, fmt.Errorf("npy: bad shape %q", m[2])
		}
		shape = append(shape, d)
	}
	return string(m[1]), shape, b[10+hl:], nil
}
