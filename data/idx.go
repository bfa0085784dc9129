package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// IDX is a decoded IDX file (the MNIST format) of unsigned bytes.
type IDX struct {
	Dims []int
	Data []uint8
}

// maxIDXBytes bounds the payload an IDX header may announce (4 GiB), so a
// corrupt header cannot make the reader allocate without limit.
const maxIDXBytes = 1 << 32

// ReadIDX decodes an IDX stream of unsigned bytes (type code 0x08), gzipped or
// not (detected from the gzip magic). It returns an error for a wrong magic
// number, an unsupported element type, a truncated payload or trailing data.
func ReadIDX(r io.Reader) (*IDX, error) { return readIDX(r, 0, "") }

// readIDX is ReadIDX; with wantRank > 0 a magic number of another rank is
// refused before any dimension is read (what names the expected content,
// e.g. "an images file").
func readIDX(r io.Reader, wantRank int, what string) (*IDX, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("IDX magic number: file too short (%w)", err)
	}
	want := "an IDX file of unsigned bytes starts with 000008 then its rank, e.g. 00000803 for images (count, height, width) or 00000801 for labels"
	if wantRank > 0 {
		want = fmt.Sprintf("%s starts with %08x (unsigned bytes, rank %d%s)", what, 0x800+wantRank, wantRank, rankDims(wantRank))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("wrong IDX magic number %02x%02x%02x%02x: %s (is this an IDX file?)", magic[0], magic[1], magic[2], magic[3], want)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("IDX element type 0x%02x is not supported: only unsigned bytes (0x08)", magic[2])
	}
	rank := int(magic[3])
	if rank == 0 {
		return nil, fmt.Errorf("IDX rank is 0: want at least 1 dimension")
	}
	if wantRank > 0 && rank != wantRank {
		return nil, fmt.Errorf("wrong IDX magic number 000008%02x (unsigned bytes, rank %d): %s", magic[3], rank, want)
	}
	dims := make([]int, rank)
	total := uint64(1)
	for i := range dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("IDX header: dimension %d of %d: truncated (%w)", i+1, rank, err)
		}
		dims[i] = int(d)
		total *= uint64(d)
		if total > maxIDXBytes {
			return nil, fmt.Errorf("IDX header (magic 000008%02x: unsigned bytes, rank %d) announces dimensions %v, more than %d bytes: corrupt header or wrong magic number (%s)",
				magic[3], rank, dims[:i+1], uint64(maxIDXBytes), want)
		}
	}
	// ReadAll grows its buffer as bytes arrive, so a header that lies about
	// the size cannot force one huge allocation.
	buf, err := io.ReadAll(io.LimitReader(br, int64(total)+1))
	if err != nil {
		return nil, fmt.Errorf("IDX payload: %w", err)
	}
	if uint64(len(buf)) < total {
		return nil, fmt.Errorf("IDX payload truncated: header %v announces %d bytes, file has %d", dims, total, len(buf))
	}
	if uint64(len(buf)) > total {
		return nil, fmt.Errorf("IDX payload has trailing data after the %d bytes announced by header %v", total, dims)
	}
	return &IDX{Dims: dims, Data: buf}, nil
}

func rankDims(rank int) string {
	switch rank {
	case 1:
		return ": count"
	case 3:
		return ": count, height, width"
	}
	return ""
}

// ReadIDXFile reads an IDX file (gzipped or not); errors name the file.
func ReadIDXFile(path string) (*IDX, error) { return readIDXFile(path, 0, "") }

func readIDXFile(path string, wantRank int, what string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open IDX file: %w", err)
	}
	defer f.Close()
	x, err := readIDX(f, wantRank, what)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// WriteIDX writes an unsigned-byte IDX stream with the given dimensions.
// len(data) must equal the product of dims.
func WriteIDX(w io.Writer, dims []int, data []uint8) error {
	if len(dims) == 0 || len(dims) > 255 {
		return fmt.Errorf("write IDX: rank %d must be in [1,255]", len(dims))
	}
	total := 1
	for _, d := range dims {
		if d < 0 || d > math32Max {
			return fmt.Errorf("write IDX: dimension %d out of range", d)
		}
		total *= d
	}
	if total != len(data) {
		return fmt.Errorf("write IDX: dims %v hold %d bytes but data has %d", dims, total, len(data))
	}
	var hdr bytes.Buffer
	hdr.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		_ = binary.Write(&hdr, binary.BigEndian, uint32(d))
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return fmt.Errorf("write IDX header: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write IDX payload: %w", err)
	}
	return nil
}

const math32Max = 1<<32 - 1

// LoadIDXPair reads an IDX images file (rank 3: n×h×w) and its labels file
// (rank 1: n) into a Memory dataset. Errors name the file and the problem:
// wrong rank, count mismatch, a label outside the class list.
func LoadIDXPair(name, imagesPath, labelsPath string, classes []string) (*Memory, error) {
	// The expected rank is checked at the magic number, before any
	// dimension is read: a file of the wrong kind is named as such.
	im, err := readIDXFile(imagesPath, 3, "an images file")
	if err != nil {
		return nil, err
	}
	lb, err := readIDXFile(labelsPath, 1, "a labels file")
	if err != nil {
		return nil, err
	}
	if im.Dims[0] != lb.Dims[0] {
		return nil, fmt.Errorf("count mismatch: %s holds %d images but %s holds %d labels", imagesPath, im.Dims[0], labelsPath, lb.Dims[0])
	}
	if im.Dims[0] == 0 {
		return nil, fmt.Errorf("%s: the file holds no images", imagesPath)
	}
	labels := make([]int, len(lb.Data))
	for i, l := range lb.Data {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("%s: label %d of item %d is outside the %d classes", labelsPath, l, i, len(classes))
		}
		labels[i] = int(l)
	}
	m, err := NewMemory(name, 1, im.Dims[1], im.Dims[2], im.Data, labels, classes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imagesPath, err)
	}
	return m, nil
}
