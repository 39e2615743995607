package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func cifarRecord(label byte, seed int) []byte {
	rec := make([]byte, CIFARRecord)
	rec[0] = label
	for i := 1; i < len(rec); i++ {
		rec[i] = byte(i*3 + seed)
	}
	return rec
}

func TestParseCIFAR(t *testing.T) {
	raw := append(cifarRecord(3, 0), cifarRecord(9, 5)...)
	imgs, labels, err := ParseCIFAR(bytes.NewReader(raw), "mem", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 2 || labels[0] != 3 || labels[1] != 9 || len(imgs) != 2*32*32*3 {
		t.Fatalf("labels %v, %d values", labels, len(imgs))
	}
	// pixel (y=2, x=5) of image 1, channel g: byte 1 + 1024 + 2*32+5 of record 1.
	p := 2*32 + 5
	want := float32(byte((1+1024+p)*3+5)) / 255
	if got := imgs[32*32*3+p*3+1]; got != want {
		t.Fatalf("green pixel = %v want %v", got, want)
	}
	if _, _, err := ParseCIFAR(bytes.NewReader(raw[:CIFARRecord+100]), "mem", nil, nil); err == nil || !strings.Contains(err.Error(), "record 1 truncated: 100 of 3073") {
		t.Fatalf("truncated: %v", err)
	}
	bad := cifarRecord(10, 0)
	if _, _, err := ParseCIFAR(bytes.NewReader(bad), "mem", nil, nil); err == nil || !strings.Contains(err.Error(), "label 10") {
		t.Fatalf("bad label: %v", err)
	}
}

func TestLoadCIFAR10Dir(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cifar-10-batches-bin")
	for i, f := range cifarFiles[Train] {
		writeFile(t, filepath.Join(sub, f), append(cifarRecord(byte(i), i), cifarRecord(byte(i+1), i)...))
	}
	writeFile(t, filepath.Join(sub, "test_batch.bin"), cifarRecord(7, 1))
	tr, err := LoadCIFAR10(dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 10 || tr.H != 32 || tr.C != 3 || tr.NumClasses != 10 || tr.ClassNames[0] != "airplane" {
		t.Fatalf("train: N=%d %dx%dx%d %v", tr.N, tr.H, tr.W, tr.C, tr.ClassNames)
	}
	te, err := Load("cifar10", Test, Options{Dir: dir})
	if err != nil || te.N != 1 || te.Labels[0] != 7 {
		t.Fatalf("test: %v %v", te, err)
	}
}

func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}

func uniform(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	red := color.RGBA{200, 0, 0, 255}
	blue := color.RGBA{0, 0, 255, 255}
	writeImage(t, filepath.Join(dir, "b_red", "1.png"), uniform(8, 6, red))
	writeImage(t, filepath.Join(dir, "b_red", "2.JPG"), uniform(5, 5, red))
	writeImage(t, filepath.Join(dir, "a_blue", "x.jpeg"), uniform(12, 12, blue))
	writeFile(t, filepath.Join(dir, "a_blue", "notes.txt"), []byte("ignored"))

	d, err := LoadFolder(dir, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 3 || d.H != 4 || d.W != 4 || d.C != 3 || d.NumClasses != 2 || d.ClassNames[0] != "a_blue" || d.ClassNames[1] != "b_red" {
		t.Fatalf("N=%d %dx%dx%d classes %v", d.N, d.H, d.W, d.C, d.ClassNames)
	}
	near := func(a, b float32) bool { return math.Abs(float64(a-b)) < 0.03 }
	for i := 0; i < d.N; i++ {
		img := d.Image(i)
		want := [3]float32{0, 0, 1}
		if d.Labels[i] == 1 {
			want = [3]float32{200.0 / 255, 0, 0}
		}
		for p := 0; p < len(img); p += 3 {
			if !near(img[p], want[0]) || !near(img[p+1], want[1]) || !near(img[p+2], want[2]) {
				t.Fatalf("image %d (label %d) pixel %d = %v want %v", i, d.Labels[i], p/3, img[p:p+3], want)
			}
		}
	}
	g, err := LoadFolder(dir, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if g.C != 1 || g.H != 12 || g.W != 12 { // size of the first image (a_blue/x.jpeg)
		t.Fatalf("gray: %dx%dx%d", g.H, g.W, g.C)
	}
	if v := g.Image(0)[0]; !near(v, 0.114) {
		t.Fatalf("luma of blue = %v", v)
	}
	// As a named dataset: no train/ sub-folder, so the folder is the train
	// split and the test split is an error.
	if d, err := Load("folder:"+dir, Train, Options{Size: 4, Channels: 1}); err != nil || d.N != 3 || d.C != 1 {
		t.Fatalf("folder:train: %v", err)
	}
	if _, err := Load("folder:"+dir, Test, Options{}); err == nil {
		t.Fatal("folder test split without test/ loaded")
	}
	writeFile(t, filepath.Join(dir, "bad", "broken.png"), []byte("not a png"))
	if _, err := LoadFolder(dir, 4, 3); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Fatalf("broken file: %v", err)
	}
	if _, err := LoadFolder(t.TempDir(), 4, 3); err == nil {
		t.Fatal("empty folder loaded")
	}
}
