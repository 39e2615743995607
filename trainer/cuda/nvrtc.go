package cuda

import (
	"fmt"
	"runtime"
	"unsafe"
)

// nvrtcAPI is the part of NVRTC (run-time compilation of CUDA C++) used to
// compile the device kernels for the device's architecture.
type nvrtcAPI struct {
	nvrtcVersion              func(major, minor *int32) int32
	nvrtcGetErrorString       func(r int32) string
	nvrtcCreateProgram        func(p *uintptr, src, name string, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	nvrtcCompileProgram       func(p uintptr, numOptions int32, options unsafe.Pointer) int32
	nvrtcGetProgramLogSize    func(p uintptr, n *uintptr) int32
	nvrtcGetProgramLog        func(p uintptr, log *byte) int32
	nvrtcGetCUBINSize         func(p uintptr, n *uintptr) int32
	nvrtcGetCUBIN             func(p uintptr, b *byte) int32
	nvrtcGetPTXSize           func(p uintptr, n *uintptr) int32
	nvrtcGetPTX               func(p uintptr, b *byte) int32
	nvrtcDestroyProgram       func(p *uintptr) int32
	nvrtcGetNumSupportedArchs func(n *int32) int32
	nvrtcGetSupportedArchs    func(archs *int32) int32
}

func (n *nvrtcAPI) symbols() []symbol {
	return []symbol{
		{"nvrtcVersion", &n.nvrtcVersion, false},
		{"nvrtcGetErrorString", &n.nvrtcGetErrorString, false},
		{"nvrtcCreateProgram", &n.nvrtcCreateProgram, false},
		{"nvrtcCompileProgram", &n.nvrtcCompileProgram, false},
		{"nvrtcGetProgramLogSize", &n.nvrtcGetProgramLogSize, false},
		{"nvrtcGetProgramLog", &n.nvrtcGetProgramLog, false},
		{"nvrtcGetCUBINSize", &n.nvrtcGetCUBINSize, false},
		{"nvrtcGetCUBIN", &n.nvrtcGetCUBIN, false},
		{"nvrtcGetPTXSize", &n.nvrtcGetPTXSize, false},
		{"nvrtcGetPTX", &n.nvrtcGetPTX, false},
		{"nvrtcDestroyProgram", &n.nvrtcDestroyProgram, false},
		{"nvrtcGetNumSupportedArchs", &n.nvrtcGetNumSupportedArchs, true},
		{"nvrtcGetSupportedArchs", &n.nvrtcGetSupportedArchs, true},
	}
}

func (n *nvrtcAPI) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	return &Error{Lib: "nvrtc", Call: call, Code: int(r), Msg: n.nvrtcGetErrorString(r)}
}

// version returns NVRTC's version as "major.minor".
func (n *nvrtcAPI) version() string {
	var a, b int32
	if n.nvrtcVersion(&a, &b) != 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d", a, b)
}

// supportedArchs returns the SM versions NVRTC can compile for (e.g. 90 for
// sm_90), or nil when this NVRTC cannot tell.
func (n *nvrtcAPI) supportedArchs() []int {
	if n.nvrtcGetNumSupportedArchs == nil || n.nvrtcGetSupportedArchs == nil {
		return nil
	}
	var k int32
	if n.nvrtcGetNumSupportedArchs(&k) != 0 || k <= 0 || k > 1024 {
		return nil
	}
	a := make([]int32, k)
	if n.nvrtcGetSupportedArchs(&a[0]) != 0 {
		return nil
	}
	out := make([]int, k)
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

// cStrings holds NUL-terminated copies of Go strings and a pinned array of
// pointers to them: a char** that C may read during a call.
type cStrings struct {
	bufs [][]byte
	ptrs []*byte
	pin  runtime.Pinner
}

func newCStrings(ss []string) *cStrings {
	c := &cStrings{bufs: make([][]byte, len(ss)), ptrs: make([]*byte, len(ss)+1)}
	for i, s := range ss {
		c.bufs[i] = append([]byte(s), 0)
		c.ptrs[i] = &c.bufs[i][0]
		c.pin.Pin(c.ptrs[i])
	}
	c.pin.Pin(&c.ptrs[0])
	return c
}

// array returns the char** (NULL-terminated).
func (c *cStrings) array() unsafe.Pointer { return unsafe.Pointer(&c.ptrs[0]) }
func (c *cStrings) free()                 { c.pin.Unpin() }

// compile compiles src with opts and returns the CUBIN (ptx false) or the
// PTX text, NUL-terminated (ptx true). A failed compilation is an *Error
// with the program log.
func (n *nvrtcAPI) compile(src, name string, opts []string, ptx bool) ([]byte, error) {
	var prog uintptr
	if err := n.check("nvrtcCreateProgram", n.nvrtcCreateProgram(&prog, src, name, 0, nil, nil)); err != nil {
		return nil, err
	}
	defer n.nvrtcDestroyProgram(&prog)
	cs := newCStrings(opts)
	r := n.nvrtcCompileProgram(prog, int32(len(opts)), cs.array())
	runtime.KeepAlive(cs)
	cs.free()
	if r != 0 {
		e := n.check("nvrtcCompileProgram", r).(*Error)
		e.Log = n.log(prog)
		return nil, e
	}
	var size uintptr
	sizeFn, getFn, what := n.nvrtcGetCUBINSize, n.nvrtcGetCUBIN, "CUBIN"
	if ptx {
		sizeFn, getFn, what = n.nvrtcGetPTXSize, n.nvrtcGetPTX, "PTX"
	}
	if err := n.check("nvrtcGet"+what+"Size", sizeFn(prog, &size)); err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, &Error{Lib: "nvrtc", Call: "nvrtcGet" + what + "Size", Msg: "empty " + what}
	}
	out := make([]byte, size)
	if err := n.check("nvrtcGet"+what, getFn(prog, &out[0])); err != nil {
		return nil, err
	}
	return out, nil
}

// log returns the program's compilation log.
func (n *nvrtcAPI) log(prog uintptr) string {
	var size uintptr
	if n.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1 {
		return ""
	}
	b := make([]byte, size)
	if n.nvrtcGetProgramLog(prog, &b[0]) != 0 {
		return ""
	}
	return bytesString(b)
}
