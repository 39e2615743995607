package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR-10 binary format constants.
const (
	cifarSide   = 32
	cifarPlane  = cifarSide * cifarSide
	CIFARRecord = 1 + 3*cifarPlane // label byte, then R, G and B planes (3073 bytes)
)

// CIFAR10Classes are the CIFAR-10 class names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// ParseCIFAR appends the CIFAR-10 records of r to images (NHWC, 32x32x3,
// values byte/255) and labels. r must hold a whole number of 3073-byte
// records; name is used in errors.
func ParseCIFAR(r io.Reader, name string, images []float32, labels []int) ([]float32, []int, error) {
	var rec [CIFARRecord]byte
	for n := 0; ; n++ {
		k, err := io.ReadFull(r, rec[:])
		if err == io.EOF {
			return images, labels, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("data: cifar %s: record %d truncated: %d of %d bytes", name, n, k, CIFARRecord)
		}
		if rec[0] >= 10 {
			return nil, nil, fmt.Errorf("data: cifar %s: record %d: label %d outside [0,10)", name, n, rec[0])
		}
		labels = append(labels, int(rec[0]))
		for p := 0; p < cifarPlane; p++ {
			images = append(images,
				float32(rec[1+p])/255,
				float32(rec[1+cifarPlane+p])/255,
				float32(rec[1+2*cifarPlane+p])/255)
		}
	}
}

// cifarFiles lists the batch files of each split.
var cifarFiles = map[string][]string{
	Train: {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
	Test:  {"test_batch.bin"},
}

// LoadCIFAR10 loads split ("train": data_batch_1..5.bin, "test":
// test_batch.bin) from dir, or from dir/cifar-10-batches-bin when dir holds
// that folder. Class names come from batches.meta.txt when present.
func LoadCIFAR10(dir, split string) (*Dataset, error) {
	files, ok := cifarFiles[split]
	if !ok {
		return nil, fmt.Errorf("data: cifar10: unknown split %q (want %q or %q)", split, Train, Test)
	}
	if sub := filepath.Join(dir, "cifar-10-batches-bin"); isFile(filepath.Join(sub, files[0])) {
		dir = sub
	}
	var images []float32
	var labels []int
	for _, f := range files {
		p := filepath.Join(dir, f)
		fh, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("data: cifar10: %w", err)
		}
		images, labels, err = ParseCIFAR(bufio.NewReaderSize(fh, 1<<16), p, images, labels)
		fh.Close()
		if err != nil {
			return nil, err
		}
	}
	names := CIFAR10Classes
	if b, err := os.ReadFile(filepath.Join(dir, "batches.meta.txt")); err == nil {
		var got []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				got = append(got, l)
			}
		}
		if len(got) == 10 {
			names = got
		}
	}
	d, err := NewDataset("cifar10", split, images, labels, cifarSide, cifarSide, 3, 10, names)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
