package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// EnvLibs is the environment variable naming directories (separated by
// ':') searched before all others for every CUDA library, the driver's
// included.
const EnvLibs = "EFFNAS_CUDA_LIBS"

// libSpec describes one shared library: what it is, its file names in order
// of preference, and where to look for it.
type libSpec struct {
	key  string // short name in reports and errors: "cuda", "cublas", ...
	what string // what it is, for people: "CUDA driver", "cuBLAS", ...
	// names are file names in order of preference; a name with '*' is a
	// glob (the newest match wins).
	names []string
	// driver: searched in the driver's directories (libcuda comes with the
	// driver, never with the toolkit or the wheels).
	driver bool
	// majorOf names a library found earlier whose major version this one
	// must share (cuBLAS and cuBLASLt, NVRTC and its builtins); its
	// directory is searched first.
	majorOf string
}

// The libraries, in the order they are resolved. Loading order is
// loadOrder (dependencies first).
var (
	specDriver = libSpec{key: "cuda", what: "CUDA driver", names: []string{"libcuda.so.1", "libcuda.so"}, driver: true}
	specCudart = libSpec{key: "cudart", what: "CUDA runtime", names: []string{"libcudart.so.13", "libcudart.so.12"}}
	specNVRTC  = libSpec{key: "nvrtc", what: "NVRTC", names: []string{"libnvrtc.so.13", "libnvrtc.so.12"}}
	// libnvrtc loads its builtins by soname when compiling
	specNVRTCBuiltins = libSpec{key: "nvrtc-builtins", what: "NVRTC builtins",
		names: []string{"libnvrtc-builtins.so.13*", "libnvrtc-builtins.so.12*"}, majorOf: "nvrtc"}
	specCublasLt = libSpec{key: "cublasLt", what: "cuBLASLt", names: []string{"libcublasLt.so.13", "libcublasLt.so.12"}}
	specCublas   = libSpec{key: "cublas", what: "cuBLAS", names: []string{"libcublas.so.13", "libcublas.so.12"}, majorOf: "cublasLt"}
	specCudnn    = libSpec{key: "cudnn", what: "cuDNN 9", names: []string{"libcudnn.so.9"}}
)

// cudnnSubLibs are cuDNN 9's sub-libraries, which libcudnn.so.9 opens by
// soname when it first needs them; they are preloaded from libcudnn's
// directory (dependencies first) so that they are found wherever cuDNN is.
var cudnnSubLibs = []string{"graph", "ops", "cnn", "adv", "engines_precompiled", "engines_runtime_compiled", "heuristic"}

// searchPaths are the directories searched for the libraries.
type searchPaths struct {
	override []string // EFFNAS_CUDA_LIBS
	driver   []string // system directories of the driver
	toolkit  []string // CUDA toolkit and system directories, then NVIDIA's Python wheels
	// soname: if the driver is not found in a directory, let the system's
	// dynamic loader look for it by name (its cache, LD_LIBRARY_PATH).
	soname bool
}

// triplet is Debian's multiarch directory name for this architecture.
func triplet() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64-linux-gnu"
	case "ppc64le":
		return "powerpc64le-linux-gnu"
	}
	return "x86_64-linux-gnu"
}

// defaultSearch returns the search directories of this machine.
func defaultSearch() searchPaths {
	s := searchFor("/", os.Getenv)
	s.soname = true
	return s
}

// searchFor returns the search directories under root ("/" on a real
// machine, a fake tree in tests) with the environment getenv. Only
// directories that exist are returned, each once, in order.
func searchFor(root string, getenv func(string) string) searchPaths {
	r := func(p string) string { return filepath.Join(root, p) }
	var s searchPaths
	for _, d := range filepath.SplitList(getenv(EnvLibs)) {
		if d != "" {
			s.override = append(s.override, d)
		}
	}
	ldPath := filepath.SplitList(getenv("LD_LIBRARY_PATH"))
	tri := triplet()

	drv := append([]string{}, ldPath...)
	drv = append(drv, r("/usr/lib/"+tri), r("/usr/lib64"), r("/usr/lib"), r("/lib/"+tri), r("/lib64"),
		r("/usr/local/nvidia/lib64"), r("/usr/local/nvidia/lib"), r("/usr/lib/wsl/lib"))
	s.driver = existingDirs(drv)

	tk := append([]string{}, ldPath...)
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if h := getenv(v); h != "" {
			tk = append(tk, filepath.Join(h, "lib64"), filepath.Join(h, "lib"))
		}
	}
	tk = append(tk, r("/usr/local/cuda/lib64"), r("/usr/local/cuda/targets/"+strings.TrimSuffix(tri, "-gnu")+"/lib"))
	tk = append(tk, cudaVersionDirs(root)...)
	tk = append(tk, r("/usr/lib/"+tri), r("/usr/lib64"), r("/usr/local/lib"))
	for _, sp := range sitePackages(root, getenv) {
		for _, sub := range []string{"cu13", "cudnn", "cublas", "cuda_nvrtc", "cuda_runtime", "cu12"} {
			tk = append(tk, filepath.Join(sp, "nvidia", sub, "lib"))
		}
	}
	s.toolkit = existingDirs(tk)
	return s
}

// cudaVersionDirs returns root/usr/local/cuda-X.Y/lib64, newest first.
func cudaVersionDirs(root string) []string {
	m, _ := filepath.Glob(filepath.Join(root, "/usr/local/cuda-*", "lib64"))
	sort.Slice(m, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(m[j])), filepath.Base(filepath.Dir(m[i])))
	})
	return m
}

// versionLess compares the dotted numbers in two names ("cuda-12.9" <
// "cuda-13.0", "libx.so.13.0" < "libx.so.13.1").
func versionLess(a, b string) bool {
	na, nb := numbers(a), numbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

func numbers(s string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// sitePackages returns the Python package directories where NVIDIA's wheels
// may be: those of the python3 found on PATH (and of the interpreter it
// links to), of $VIRTUAL_ENV and $CONDA_PREFIX, the system's and the user's.
func sitePackages(root string, getenv func(string) string) []string {
	var prefixes []string
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir == "" {
			continue
		}
		py := filepath.Join(dir, "python3")
		if fi, err := os.Stat(py); err != nil || fi.IsDir() {
			continue
		}
		prefixes = append(prefixes, filepath.Dir(dir))
		if t, err := filepath.EvalSymlinks(py); err == nil {
			prefixes = append(prefixes, filepath.Dir(filepath.Dir(t)))
		}
	}
	for _, v := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := getenv(v); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	prefixes = append(prefixes, filepath.Join(root, "/usr"), filepath.Join(root, "/usr/local"))
	var out []string
	for _, p := range prefixes {
		for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "local/lib/python3*/dist-packages", "lib64/python3*/site-packages"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			out = append(out, m...)
		}
	}
	if home := getenv("HOME"); home != "" {
		m, _ := filepath.Glob(filepath.Join(home, ".local/lib/python3*/site-packages"))
		out = append(out, m...)
	}
	return out
}

// existingDirs keeps the directories that exist, each once (by cleaned path).
func existingDirs(dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		d = filepath.Clean(d)
		if seen[d] {
			continue
		}
		seen[d] = true
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// dirsFor returns the directories searched for spec, in order.
func (s searchPaths) dirsFor(spec libSpec) []string {
	out := append([]string{}, s.override...)
	if spec.driver {
		return append(out, s.driver...)
	}
	return append(out, s.toolkit...)
}

// major returns the version after ".so." in a file name ("13" for
// libcublas.so.13 and libnvrtc-builtins.so.13.0), or "".
func major(name string) string {
	_, v, ok := strings.Cut(name, ".so.")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(strings.TrimSuffix(v, "*"), ".")
	return v
}

// findLib returns the path of spec's library: the first of its names, in
// order of preference, present in one of its directories (the directory of
// the library named by majorOf first, restricted to its major version).
// The error names what was looked for and where.
func (s searchPaths) findLib(spec libSpec, found map[string]string) (string, error) {
	dirs := s.dirsFor(spec)
	names := spec.names
	if spec.majorOf != "" {
		if p, ok := found[spec.majorOf]; ok {
			dirs = append([]string{filepath.Dir(p)}, dirs...)
			want := major(filepath.Base(p))
			var keep []string
			for _, n := range names {
				if major(n) == want {
					keep = append(keep, n)
				}
			}
			names = keep
		}
	}
	for _, n := range names {
		for _, d := range dirs {
			if strings.Contains(n, "*") {
				m, _ := filepath.Glob(filepath.Join(d, n))
				if len(m) > 0 {
					sort.Slice(m, func(i, j int) bool { return versionLess(m[j], m[i]) })
					return m[0], nil
				}
				continue
			}
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, nil
			}
		}
	}
	return "", notFound(spec, names, existingDirs(dirs))
}

// notFound is the one-line error for a library that is nowhere.
func notFound(spec libSpec, names, dirs []string) error {
	where := "no candidate directory exists"
	if len(dirs) > 0 {
		where = "looked in " + strings.Join(dirs, ", ")
	}
	base := ErrLibrary
	if spec.driver {
		base = ErrNoDriver
	}
	return fmt.Errorf("%w: %s (%s) not found; %s; set %s=DIR[:DIR...] to add directories",
		base, strings.Join(names, " or "), spec.what, where, EnvLibs)
}
