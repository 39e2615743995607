package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxIDXBytes bounds the payload an IDX header may announce, so a corrupt
// header cannot ask for an absurd allocation.
const maxIDXBytes = 1 << 32

// IDXArray is the content of one IDX file of unsigned bytes.
type IDXArray struct {
	Dims []int
	Data []byte
}

// openMaybeGzip opens path and transparently gunzips it when it starts with
// the gzip magic bytes 1f 8b (whatever the file name says).
func openMaybeGzip(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: bad gzip header: %w", path, err)
		}
		return zr, func() error { zr.Close(); return f.Close() }, nil
	}
	return br, f.Close, nil
}

// ReadIDXFile reads an IDX file of unsigned bytes (type code 0x08), gzipped
// or not, and checks that it has wantDims dimensions (0 accepts any).
func ReadIDXFile(path string, wantDims int) (*IDXArray, error) {
	r, closeFn, err := openMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("data: idx: %w", err)
	}
	defer closeFn()
	a, err := ReadIDX(r, wantDims)
	if err != nil {
		return nil, fmt.Errorf("data: idx %s: %w", path, err)
	}
	// Read to the end: this checks the gzip trailer (a truncated .gz can
	// hold the whole payload yet lack its checksum) and rejects extra data.
	if n, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("data: idx %s: after the data: %w", path, truncated(err))
	} else if n > 0 {
		return nil, fmt.Errorf("data: idx %s: %d unexpected bytes after the data for dimensions %v", path, n, a.Dims)
	}
	return a, nil
}

// ReadIDX reads an uncompressed IDX stream: magic 00 00 <type> <ndims>, ndims
// big-endian uint32 sizes, then the data. Only unsigned bytes (type 0x08) are
// supported, as used by MNIST and Fashion-MNIST.
func ReadIDX(r io.Reader, wantDims int) (*IDXArray, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("magic number: %w", truncated(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("bad magic number %02x%02x%02x%02x: not an IDX file (want 0000 <type> <ndims>)", magic[0], magic[1], magic[2], magic[3])
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("magic number %02x%02x%02x%02x: element type 0x%02x unsupported (want 0x08, unsigned byte)", magic[0], magic[1], magic[2], magic[3], magic[2])
	}
	nd := int(magic[3])
	if nd == 0 || (wantDims > 0 && nd != wantDims) {
		return nil, fmt.Errorf("magic number %02x%02x%02x%02x: %d dimensions, want %d", magic[0], magic[1], magic[2], magic[3], nd, wantDims)
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("size of dimension %d: %w", i, truncated(err))
		}
		dims[i] = int(binary.BigEndian.Uint32(b[:]))
		if dims[i] == 0 && i > 0 {
			return nil, fmt.Errorf("size of dimension %d is 0", i)
		}
		total *= dims[i]
		if total > maxIDXBytes {
			return nil, fmt.Errorf("dimensions %v announce more than %d bytes", dims[:i+1], maxIDXBytes)
		}
	}
	buf := make([]byte, total)
	if n, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("data for dimensions %v: read %d of %d bytes: %w", dims, n, total, truncated(err))
	}
	return &IDXArray{Dims: dims, Data: buf}, nil
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("file truncated (%w)", io.ErrUnexpectedEOF)
	}
	return err
}

// LoadIDX loads an image file (idx3: count, rows, cols) and a label file
// (idx1: count) into a single-channel Dataset with values byte/255. The
// counts must agree and labels must be below numClasses (0: one more than
// the largest label).
func LoadIDX(imagesPath, labelsPath string, numClasses int) (*Dataset, error) {
	img, err := ReadIDXFile(imagesPath, 3)
	if err != nil {
		return nil, err
	}
	lab, err := ReadIDXFile(labelsPath, 1)
	if err != nil {
		return nil, err
	}
	n, h, w := img.Dims[0], img.Dims[1], img.Dims[2]
	if lab.Dims[0] != n {
		return nil, fmt.Errorf("data: idx: image count %d in %s does not match label count %d in %s", n, imagesPath, lab.Dims[0], labelsPath)
	}
	labels := make([]int, n)
	maxLabel := -1
	for i, b := range lab.Data {
		labels[i] = int(b)
		maxLabel = max(maxLabel, int(b))
		if numClasses > 0 && int(b) >= numClasses {
			return nil, fmt.Errorf("data: idx %s: label %d of item %d outside [0,%d)", labelsPath, b, i, numClasses)
		}
	}
	if numClasses <= 0 {
		numClasses = max(maxLabel+1, 1)
	}
	pix := make([]float32, len(img.Data))
	for i, b := range img.Data {
		pix[i] = float32(b) / 255
	}
	return NewDataset(filepath.Base(imagesPath), "", pix, labels, h, w, 1, numClasses, nil)
}

// idxNames lists the accepted file names for each split of an IDX dataset,
// tried in order, each with and without ".gz".
var idxNames = map[string][2][]string{
	Train: {{"train-images-idx3-ubyte", "train-images.idx3-ubyte"}, {"train-labels-idx1-ubyte", "train-labels.idx1-ubyte"}},
	Test:  {{"t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"}, {"t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"}},
}

// findIDXFiles returns the image and label paths of split in dir.
func findIDXFiles(dir, split string) (images, labels string, err error) {
	names, ok := idxNames[split]
	if !ok {
		return "", "", fmt.Errorf("data: unknown split %q (want %q or %q)", split, Train, Test)
	}
	find := func(cands []string) string {
		for _, c := range cands {
			for _, suf := range []string{"", ".gz"} {
				p := filepath.Join(dir, c+suf)
				if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
					return p
				}
			}
		}
		return ""
	}
	images, labels = find(names[0]), find(names[1])
	if images == "" || labels == "" {
		return "", "", fmt.Errorf("data: %s: no %s[.gz] / %s[.gz]", dir, names[0][0], names[1][0])
	}
	return images, labels, nil
}

// LoadIDXDir loads split ("train" or "test") of an MNIST-style dataset from
// dir, which holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally ".gz".
func LoadIDXDir(dir, split string, numClasses int, classNames []string) (*Dataset, error) {
	ip, lp, err := findIDXFiles(dir, split)
	if err != nil {
		return nil, err
	}
	d, err := LoadIDX(ip, lp, numClasses)
	if err != nil {
		return nil, err
	}
	d.Split = split
	if classNames != nil {
		if len(classNames) != d.NumClasses {
			return nil, fmt.Errorf("data: %s: %d class names for %d classes", dir, len(classNames), d.NumClasses)
		}
		d.ClassNames = classNames
	}
	return d, nil
}
