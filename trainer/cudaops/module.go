package cudaops

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/effnas/effnas/trainer/cuda"
)

// EnvCache names the directory of compiled kernels ("off" disables the
// disk cache). Default: the user's cache directory, effnas/cuda.
const EnvCache = "EFFNAS_CUDA_CACHE"

// Kernels is the kernel module loaded on one device, with the scratch
// memory its reductions share. Use it inside Device.Do (its methods take
// the *cuda.Ctx); it is not safe for concurrent use, which the device
// thread guarantees.
type Kernels struct {
	dev *cuda.Device
	mod *cuda.Module
	fns map[string]*cuda.Function
	img cuda.Image
	// scratch for the partial sums of reductions (float64), grown on
	// demand; the stream orders its reuse
	scratch cuda.Buffer
	// Launched counts launches per kernel (for tests and profiles).
	Launched map[string]int
	// Cached reports whether the image came from the disk cache.
	Cached bool
}

var (
	imgMu    sync.Mutex
	imgCache = map[string]cuda.Image{} // by cache key, for this process
)

// Load compiles (once per architecture and process, and across processes
// through the disk cache) and loads the kernel module on c's device, and
// resolves every kernel of the launch table.
func Load(c *cuda.Ctx) (*Kernels, error) {
	d := c.Device()
	img, cached, err := image(d)
	if err != nil {
		return nil, err
	}
	m, err := c.LoadModule(img)
	if err != nil {
		return nil, fmt.Errorf("cudaops: loading the kernels (%s): %w", img.Arch, err)
	}
	k := &Kernels{dev: d, mod: m, img: img, fns: map[string]*cuda.Function{}, Launched: map[string]int{}, Cached: cached}
	for _, kn := range kernels {
		f, err := c.Function(m, kn.name)
		if err != nil {
			c.UnloadModule(m)
			return nil, fmt.Errorf("cudaops: %w", err)
		}
		k.fns[kn.name] = f
	}
	return k, nil
}

// Close frees the scratch memory and unloads the module.
func (k *Kernels) Close(c *cuda.Ctx) error {
	err := c.Free(k.scratch)
	k.scratch = cuda.Buffer{}
	if e := c.UnloadModule(k.mod); err == nil {
		err = e
	}
	return err
}

// Image is the compiled module (architecture, CUBIN or PTX).
func (k *Kernels) Image() cuda.Image { return k.img }

// compileOptions are the NVRTC options of the module beyond the
// architecture: default float semantics (no fast math, FMA contraction
// allowed, IEEE division and square root).
var compileOptions = []string{"-DEFFNAS_NVRTC"}

func image(d *cuda.Device) (cuda.Image, bool, error) {
	arch, ptx, err := d.CompileTarget()
	if err != nil {
		return cuda.Image{}, false, err
	}
	src := Source()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%s\x00", d.NVRTCVersion(), arch, ptx, strings.Join(compileOptions, " "))
	h.Write([]byte(src))
	key := hex.EncodeToString(h.Sum(nil))[:20]
	imgMu.Lock()
	defer imgMu.Unlock()
	if img, ok := imgCache[key]; ok {
		return img, true, nil
	}
	ext := ".cubin"
	if ptx {
		ext = ".ptx"
	}
	file := ""
	if dir := cacheDir(); dir != "" {
		file = filepath.Join(dir, key+"-"+arch+ext)
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			img := cuda.Image{Data: b, Arch: arch, PTX: ptx}
			imgCache[key] = img
			return img, true, nil
		}
	}
	img, err := d.Compile(src, "effnas_kernels.cu", compileOptions...)
	if err != nil {
		return cuda.Image{}, false, fmt.Errorf("cudaops: compiling the kernels for %s: %w", arch, err)
	}
	imgCache[key] = img
	if file != "" {
		// best effort: a cache that cannot be written only costs time
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err == nil {
			tmp := file + fmt.Sprintf(".%d.tmp", os.Getpid())
			if os.WriteFile(tmp, img.Data, 0o644) == nil {
				os.Rename(tmp, file)
			}
		}
	}
	return img, false, nil
}

// cacheDir is the disk cache of compiled kernels ("" when disabled).
func cacheDir() string {
	switch v := os.Getenv(EnvCache); v {
	case "off", "none", "0":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "effnas", "cuda")
	default:
		return v
	}
}

// launch runs kernel name after checking args against its parameters:
// their number and kinds must match the launch table, which is what the
// source and the emulator's signatures are generated from.
func (k *Kernels) launch(c *cuda.Ctx, name string, grid, block cuda.Dim3, args ...cuda.Arg) error {
	kn := kernelByID[name]
	f := k.fns[name]
	if kn == nil || f == nil {
		return fmt.Errorf("cudaops: no kernel %q in the launch table", name)
	}
	if err := checkArgs(kn, args); err != nil {
		return err
	}
	k.Launched[name]++
	return c.Launch(f, grid, block, 0, args...)
}

func checkArgs(kn *kernel, args []cuda.Arg) error {
	if len(args) != len(kn.params) {
		return fmt.Errorf("cudaops: kernel %s takes %d arguments, got %d", kn.name, len(kn.params), len(args))
	}
	for i, p := range kn.params {
		if args[i].Kind != p.kind() {
			return fmt.Errorf("cudaops: kernel %s: argument %d (%s %s) is a %v", kn.name, i, p.typ, p.name, args[i].Kind)
		}
	}
	return nil
}

// elementwise block size and grid cap (grid-stride loops cover the rest).
const (
	ewBlock   = 256
	ewMaxGrid = 1 << 16
)

func ewGrid(n int) cuda.Dim3 { return cuda.D1(min(ewMaxGrid, max(1, (n+ewBlock-1)/ewBlock))) }

// launchN launches an elementwise kernel over n elements (n is the last
// argument, appended here).
func (k *Kernels) launchN(c *cuda.Ctx, name string, n int, args ...cuda.Arg) error {
	return k.launch(c, name, ewGrid(n), cuda.D1(ewBlock), append(args, cuda.IntArg(n))...)
}

// scratchFor returns scratch memory of at least n float64 values.
func (k *Kernels) scratchFor(c *cuda.Ctx, n int) (cuda.Buffer, error) {
	if k.scratch.Bytes() >= 8*n {
		return k.scratch.Slice(0, 2*n), nil
	}
	// queued work may still read the old scratch
	if err := c.Sync(); err != nil {
		return cuda.Buffer{}, err
	}
	if err := c.Free(k.scratch); err != nil {
		return cuda.Buffer{}, err
	}
	k.scratch = cuda.Buffer{}
	b, err := c.AllocBytes(8 * max(n, 1<<16))
	if err != nil {
		return cuda.Buffer{}, err
	}
	k.scratch = b
	return b.Slice(0, 2*n), nil
}
