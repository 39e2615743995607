package cuda

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Library reports one CUDA library: where it was loaded from, or why not.
type Library struct {
	Key  string // "cuda", "nvrtc", "cublas", "cublasLt", "cudnn", ...
	What string // "CUDA driver", "NVRTC", "cuBLAS", ...
	Path string // absolute path of the loaded file ("" if not loaded)
	// Version as the library reports it ("" when not asked or unknown).
	Version string
	Err     error // why it is not loaded (nil when loaded)
}

// library is one loaded shared library.
type library struct {
	spec libSpec
	path string
	h    uintptr
}

// symbol binds one C function to a Go function variable (a pointer to a
// func). Optional symbols that are missing leave the variable nil.
type symbol struct {
	name     string
	fn       any
	optional bool
}

// bind registers every symbol of syms from l. Missing required symbols
// are one error naming the library, its path and every missing name.
func bind(l *library, syms []symbol) error {
	var missing []string
	for _, s := range syms {
		addr := dlsym(l.h, s.name)
		if addr == 0 {
			if !s.optional {
				missing = append(missing, s.name)
			}
			continue
		}
		registerFunc(s.fn, addr)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (%s) lacks %s (a version older than this program needs?)",
			ErrLibrary, l.path, l.spec.what, strings.Join(missing, ", "))
	}
	return nil
}

// libSet finds, loads and binds the CUDA libraries of one search
// configuration, each at most once; results (and failures) are kept.
// The process uses one (defaultLibs); tests make their own over fake
// libraries.
type libSet struct {
	paths searchPaths

	mu     sync.Mutex
	found  map[string]string   // resolved paths by key
	loaded map[string]*library // by key
	errs   map[string]error    // load failures by key

	drv   *driverAPI
	nvrtc *nvrtcAPI
	blas  *cublasAPI
	dnn   *cudnnAPI
	// apiErr keeps the failure of each API ("driver", "nvrtc", "cublas",
	// "cudnn") so that it is reported, not retried.
	apiErr map[string]error
	// cudnnSubs is set once cuDNN's sub-libraries were preloaded.
	cudnnSubs bool
}

func newLibSet(p searchPaths) *libSet {
	return &libSet{paths: p, found: map[string]string{}, loaded: map[string]*library{},
		errs: map[string]error{}, apiErr: map[string]error{}}
}

var defaultLibs = sync.OnceValue(func() *libSet { return newLibSet(defaultSearch()) })

// load finds and opens spec's library (once). Call with ls.mu held.
func (ls *libSet) load(spec libSpec) (*library, error) {
	if l, ok := ls.loaded[spec.key]; ok {
		return l, nil
	}
	if err, ok := ls.errs[spec.key]; ok {
		return nil, err
	}
	l, err := ls.open(spec)
	if err != nil {
		ls.errs[spec.key] = err
		return nil, err
	}
	ls.loaded[spec.key] = l
	return l, nil
}

func (ls *libSet) open(spec libSpec) (*library, error) {
	path, err := ls.paths.findLib(spec, ls.found)
	if err != nil && spec.driver && ls.paths.soname {
		// the system loader may know where the driver is (ld.so.cache)
		if h, e := dlopen(spec.names[0]); e == nil {
			p := mappedPath(spec.names[0])
			if p == "" {
				p = spec.names[0]
			}
			ls.found[spec.key] = p
			return &library{spec: spec, path: p, h: h}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	h, err := dlopen(path)
	if err != nil {
		base := ErrLibrary
		if spec.driver {
			base = ErrNoDriver
		}
		return nil, fmt.Errorf("%w: cannot load %s (%s): %v", base, path, spec.what, err)
	}
	ls.found[spec.key] = path
	return &library{spec: spec, path: path, h: h}, nil
}

// mappedPath returns the path of the loaded object whose file name starts
// with name, from /proc/self/maps ("" if none).
func mappedPath(name string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		p := fields[len(fields)-1]
		if strings.HasPrefix(filepath.Base(p), strings.TrimSuffix(name, ".1")) {
			return p
		}
	}
	return ""
}

// preload loads an optional dependency; failure only leaves it unloaded
// (the library that needs it reports the real error if it matters).
func (ls *libSet) preload(spec libSpec) {
	_, _ = ls.load(spec)
}

// driver returns the bound driver API, loading it and calling cuInit(0)
// on first use.
func (ls *libSet) driver() (*driverAPI, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.drv != nil {
		return ls.drv, nil
	}
	if err, ok := ls.apiErr["driver"]; ok {
		return nil, err
	}
	d, err := ls.loadDriver()
	if err != nil {
		ls.apiErr["driver"] = err
		return nil, err
	}
	ls.drv = d
	return d, nil
}

func (ls *libSet) loadDriver() (*driverAPI, error) {
	l, err := ls.load(specDriver)
	if err != nil {
		return nil, err
	}
	d := &driverAPI{}
	if err := bind(l, d.symbols()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDriver, err)
	}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return nil, err
	}
	return d, nil
}

// nvrtcAPI returns the bound NVRTC API (its builtins preloaded).
func (ls *libSet) nvrtcAPI() (*nvrtcAPI, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.nvrtc != nil {
		return ls.nvrtc, nil
	}
	if err, ok := ls.apiErr["nvrtc"]; ok {
		return nil, err
	}
	n, err := func() (*nvrtcAPI, error) {
		l, err := ls.loadNVRTC()
		if err != nil {
			return nil, err
		}
		n := &nvrtcAPI{}
		if err := bind(l, n.symbols()); err != nil {
			return nil, err
		}
		return n, nil
	}()
	if err != nil {
		ls.apiErr["nvrtc"] = err
		return nil, err
	}
	ls.nvrtc = n
	return n, nil
}

// loadNVRTC loads NVRTC, its builtins first: NVRTC is resolved first so
// that the builtins found match its version. Call with ls.mu held.
func (ls *libSet) loadNVRTC() (*library, error) {
	if l, ok := ls.loaded[specNVRTC.key]; ok {
		return l, nil
	}
	p, err := ls.paths.findLib(specNVRTC, ls.found)
	if err != nil {
		ls.errs[specNVRTC.key] = err
		return nil, err
	}
	ls.found[specNVRTC.key] = p
	ls.preload(specNVRTCBuiltins)
	return ls.load(specNVRTC)
}

// cublasAPI returns the bound cuBLAS API (cuBLASLt and the runtime
// preloaded).
func (ls *libSet) cublasAPI() (*cublasAPI, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.blas != nil {
		return ls.blas, nil
	}
	if err, ok := ls.apiErr["cublas"]; ok {
		return nil, err
	}
	b, err := func() (*cublasAPI, error) {
		ls.preload(specCudart)
		if _, err := ls.load(specCublasLt); err != nil {
			return nil, err
		}
		l, err := ls.load(specCublas)
		if err != nil {
			return nil, err
		}
		b := &cublasAPI{}
		if err := bind(l, b.symbols()); err != nil {
			return nil, err
		}
		return b, nil
	}()
	if err != nil {
		ls.apiErr["cublas"] = err
		return nil, err
	}
	ls.blas = b
	return b, nil
}

// cudnnAPI returns the bound cuDNN API. With subs, cuDNN's sub-libraries
// are preloaded from its directory first (done once, before the first
// handle is created; listing the library does not need them).
func (ls *libSet) cudnnAPI(subs bool) (*cudnnAPI, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.dnn == nil {
		if err, ok := ls.apiErr["cudnn"]; ok {
			return nil, err
		}
		d, err := func() (*cudnnAPI, error) {
			l, err := ls.load(specCudnn)
			if err != nil {
				return nil, err
			}
			d := &cudnnAPI{}
			if err := bind(l, d.symbols()); err != nil {
				return nil, err
			}
			return d, nil
		}()
		if err != nil {
			ls.apiErr["cudnn"] = err
			return nil, err
		}
		ls.dnn = d
	}
	if subs && !ls.cudnnSubs {
		ls.cudnnSubs = true
		dir := filepath.Dir(ls.found[specCudnn.key])
		// cuDNN's runtime-compiled engines use NVRTC: load it first if it
		// is around (errors are NVRTC's to report, not cuDNN's)
		_, _ = ls.loadNVRTC()
		for _, s := range cudnnSubLibs {
			name := "libcudnn_" + s + ".so.9"
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				_, _ = ls.load(libSpec{key: "cudnn_" + s, what: "cuDNN " + s, names: []string{name}})
			}
		}
	}
	return ls.dnn, nil
}

// report lists every library looked for, loaded or not, in load order.
func (ls *libSet) report() []Library {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []Library
	add := func(spec libSpec) {
		r := Library{Key: spec.key, What: spec.what}
		if l, ok := ls.loaded[spec.key]; ok {
			r.Path = l.path
		} else if err, ok := ls.errs[spec.key]; ok {
			r.Err = err
		} else {
			return
		}
		out = append(out, r)
	}
	for _, s := range []libSpec{specDriver, specCudart, specNVRTCBuiltins, specNVRTC, specCublasLt, specCublas, specCudnn} {
		add(s)
	}
	for _, s := range cudnnSubLibs {
		if l, ok := ls.loaded["cudnn_"+s]; ok {
			out = append(out, Library{Key: "cudnn_" + s, What: l.spec.what, Path: l.path})
		}
	}
	return out
}
