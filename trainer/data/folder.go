package data

import (
	"fmt"
	"image"
	_ "image/jpeg" // register JPEG decoding
	_ "image/png"  // register PNG decoding
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadFolder loads a folder with one sub-folder per class (class names are
// the sub-folder names, sorted; labels follow that order). Every .png, .jpg
// and .jpeg file (any case) inside a class folder is decoded, converted to
// channels (1: luma 0.299R+0.587G+0.114B; 3: RGB; transparent pixels are
// composited over black) and resized with ResizeBilinear to size x size.
// size 0 keeps the size of the first image (all others are resized to it);
// channels 0 means 3. Other files and nested folders are ignored.
func LoadFolder(dir string, size, channels int) (*Dataset, error) {
	if channels == 0 {
		channels = 3
	}
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("data: folder %s: channels %d unsupported (want 1 or 3)", dir, channels)
	}
	if size < 0 {
		return nil, fmt.Errorf("data: folder %s: negative size %d", dir, size)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: folder: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	slices.Sort(classes)
	if len(classes) == 0 {
		return nil, fmt.Errorf("data: folder %s: no class sub-folders", dir)
	}
	var (
		images  []float32
		labels  []int
		h, w    int
		scratch []float32
	)
	if size > 0 {
		h, w = size, size
	}
	for label, cls := range classes {
		files, err := os.ReadDir(filepath.Join(dir, cls))
		if err != nil {
			return nil, fmt.Errorf("data: folder: %w", err)
		}
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.Name()))
			if f.IsDir() || (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
				continue
			}
			p := filepath.Join(dir, cls, f.Name())
			img, err := decodeImage(p)
			if err != nil {
				return nil, err
			}
			b := img.Bounds()
			if h == 0 {
				h, w = b.Dy(), b.Dx()
			}
			scratch = toFloat(scratch[:0], img, channels)
			n := len(images)
			images = slices.Grow(images, h*w*channels)[:n+h*w*channels]
			ResizeBilinear(images[n:], h, w, scratch, b.Dy(), b.Dx(), channels)
			labels = append(labels, label)
		}
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("data: folder %s: no .png/.jpg/.jpeg images in %d class folders", dir, len(classes))
	}
	return NewDataset("folder:"+dir, "", images, labels, h, w, channels, len(classes), classes)
}

func decodeImage(p string) (image.Image, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("data: folder: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("data: folder: decode %s: %w", p, err)
	}
	if b := img.Bounds(); b.Empty() {
		return nil, fmt.Errorf("data: folder: %s is empty", p)
	}
	return img, nil
}

// toFloat appends img as HWC float32 values in [0,1] with c channels.
func toFloat(dst []float32, img image.Image, c int) []float32 {
	b := img.Bounds()
	if g, ok := img.(*image.Gray); ok && c == 1 {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				dst = append(dst, float32(g.GrayAt(x, y).Y)/255)
			}
		}
		return dst
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA() // premultiplied: over black
			rf, gf, bf := float32(r)/65535, float32(g)/65535, float32(bl)/65535
			if c == 1 {
				dst = append(dst, 0.299*rf+0.587*gf+0.114*bf)
			} else {
				dst = append(dst, rf, gf, bf)
			}
		}
	}
	return dst
}
