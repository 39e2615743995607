package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an unsigned-byte IDX array.
func idxBytes(dims []int, payload []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeIDXSplit writes n images of h x w (pixel = (i*7+y*w+x) mod 256) and
// labels i mod 10 as an IDX pair for split into dir.
func writeIDXSplit(t *testing.T, dir, split string, n, h, w int, zip bool) ([]byte, []byte) {
	t.Helper()
	pix := make([]byte, n*h*w)
	for i := range pix {
		pix[i] = byte(i*7 + i/(h*w))
	}
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 10)
	}
	prefix := "train"
	if split == Test {
		prefix = "t10k"
	}
	img, labs := idxBytes([]int{n, h, w}, pix), idxBytes([]int{n}, lab)
	ext := ""
	if zip {
		img, labs, ext = gz(t, img), gz(t, labs), ".gz"
	}
	writeFile(t, filepath.Join(dir, prefix+"-images-idx3-ubyte"+ext), img)
	writeFile(t, filepath.Join(dir, prefix+"-labels-idx1-ubyte"+ext), labs)
	return pix, lab
}

func TestIDXRoundTrip(t *testing.T) {
	for _, zip := range []bool{false, true} {
		dir := t.TempDir()
		pix, lab := writeIDXSplit(t, dir, Train, 13, 5, 4, zip)
		d, err := LoadIDXDir(dir, Train, 10, nil)
		if err != nil {
			t.Fatalf("zip=%v: %v", zip, err)
		}
		if d.N != 13 || d.H != 5 || d.W != 4 || d.C != 1 || d.NumClasses != 10 || len(d.ClassNames) != 10 {
			t.Fatalf("zip=%v: shape %d %dx%dx%d K=%d", zip, d.N, d.H, d.W, d.C, d.NumClasses)
		}
		for i, p := range pix {
			if d.Images[i] != float32(p)/255 {
				t.Fatalf("zip=%v: pixel %d = %v, want %v", zip, i, d.Images[i], float32(p)/255)
			}
		}
		for i, l := range lab {
			if d.Labels[i] != int(l) {
				t.Fatalf("label %d = %d want %d", i, d.Labels[i], l)
			}
		}
	}
}

// TestIDXGzipByMagic: a gzipped file without .gz in its name still loads.
func TestIDXGzipByMagic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	writeFile(t, p, gz(t, idxBytes([]int{2, 1, 1}, []byte{3, 4})))
	a, err := ReadIDXFile(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Data) != 2 || a.Data[1] != 4 {
		t.Fatalf("got %v", a)
	}
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes([]int{3, 2, 2}, make([]byte, 12))
	cases := []struct {
		name, want string
		b          []byte
		dims       int
	}{
		{"badmagic", "bad magic", append([]byte{1, 2}, good[2:]...), 3},
		{"badtype", "element type 0x0d", append([]byte{0, 0, 0x0d}, good[3:]...), 3},
		{"baddims", "3 dimensions, want 1", good, 1},
		{"truncdata", "read 5 of 12 bytes", good[:len(good)-7], 3},
		{"truncheader", "size of dimension 1", good[:9], 3},
		{"empty", "magic number", nil, 3},
		{"truncgz", "truncated", gz(t, good)[:30], 3},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		writeFile(t, p, c.b)
		_, err := ReadIDXFile(p, c.dims)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want mention of %q and the file", c.name, err, c.want)
		}
	}
}

func TestIDXCountMismatch(t *testing.T) {
	dir := t.TempDir()
	ip, lp := filepath.Join(dir, "i"), filepath.Join(dir, "l")
	writeFile(t, ip, idxBytes([]int{3, 2, 2}, make([]byte, 12)))
	writeFile(t, lp, idxBytes([]int{4}, make([]byte, 4)))
	_, err := LoadIDX(ip, lp, 10)
	if err == nil || !strings.Contains(err.Error(), "image count 3") || !strings.Contains(err.Error(), "label count 4") {
		t.Fatalf("err = %v", err)
	}
	writeFile(t, lp, idxBytes([]int{3}, []byte{0, 12, 1}))
	_, err = LoadIDX(ip, lp, 10)
	if err == nil || !strings.Contains(err.Error(), "label 12 of item 1") {
		t.Fatalf("err = %v", err)
	}
	d, err := LoadIDX(ip, lp, 0)
	if err != nil || d.NumClasses != 13 {
		t.Fatalf("inferred classes: %v %v", d, err)
	}
}

func TestIDXTrailingBytes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	writeFile(t, p, append(idxBytes([]int{2}, []byte{1, 2}), 9))
	if _, err := ReadIDXFile(p, 1); err == nil || !strings.Contains(err.Error(), "1 unexpected bytes") {
		t.Fatalf("err = %v", err)
	}
}
