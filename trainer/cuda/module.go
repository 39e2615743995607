package cuda

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Image is compiled device code: a CUBIN for one SM architecture, or PTX
// (NUL-terminated text the driver compiles when loading it) when NVRTC
// does not know the device's architecture.
type Image struct {
	Data []byte
	Arch string // "sm_90" (CUBIN) or "compute_90" (PTX)
	PTX  bool
}

// NVRTCVersion is the version of the NVRTC the device compiles with.
func (d *Device) NVRTCVersion() string { return d.rtc.version() }

// CompileTarget returns the architecture Compile targets on this device
// and whether it produces PTX: the device's own SM when NVRTC supports it
// (a CUBIN), else PTX for the newest architecture NVRTC knows that is not
// newer than the device.
func (d *Device) CompileTarget() (arch string, ptx bool, err error) {
	want := d.info.Major*10 + d.info.Minor
	archs := d.rtc.supportedArchs()
	if len(archs) == 0 || slices.Contains(archs, want) {
		return "sm_" + strconv.Itoa(want), false, nil
	}
	best := -1
	for _, a := range archs {
		if a <= want && a > best {
			best = a
		}
	}
	if best < 0 {
		return "", false, fmt.Errorf("cuda: NVRTC %s supports %v, none of them for %s", d.rtc.version(), archs, d.info.Arch())
	}
	return "compute_" + strconv.Itoa(best), true, nil
}

// Compile compiles CUDA C++ source with NVRTC for this device (see
// CompileTarget) with the extra options given. A compilation error is an
// *Error whose Log holds NVRTC's messages.
func (d *Device) Compile(src, name string, opts ...string) (Image, error) {
	arch, ptx, err := d.CompileTarget()
	if err != nil {
		return Image{}, err
	}
	all := append([]string{"--gpu-architecture=" + arch, "--std=c++17"}, opts...)
	data, err := d.rtc.compile(src, name, all, ptx)
	if err != nil {
		return Image{}, err
	}
	return Image{Data: data, Arch: arch, PTX: ptx}, nil
}

// Module is loaded device code.
type Module struct {
	m   uintptr
	fns map[string]*Function
}

// Function is one kernel of a module.
type Function struct {
	f    uintptr
	Name string
}

// LoadModule loads a compiled image into the context.
func (c *Ctx) LoadModule(img Image) (*Module, error) {
	if len(img.Data) == 0 {
		return nil, fmt.Errorf("cuda: LoadModule of an empty image")
	}
	data := img.Data
	if img.PTX && data[len(data)-1] != 0 {
		data = append(slices.Clip(data), 0)
	}
	m := &Module{fns: map[string]*Function{}}
	if err := c.check("cuModuleLoadData", c.d.drv.cuModuleLoadData(&m.m, unsafe.Pointer(&data[0]))); err != nil {
		return nil, err
	}
	return m, nil
}

// Function returns the kernel called name (an extern "C" __global__
// function of the module).
func (c *Ctx) Function(m *Module, name string) (*Function, error) {
	if f, ok := m.fns[name]; ok {
		return f, nil
	}
	f := &Function{Name: name}
	if err := c.check("cuModuleGetFunction", c.d.drv.cuModuleGetFunction(&f.f, m.m, name)); err != nil {
		return nil, fmt.Errorf("%w (kernel %q)", err, name)
	}
	m.fns[name] = f
	return f, nil
}

// UnloadModule unloads m.
func (c *Ctx) UnloadModule(m *Module) error {
	if m == nil || m.m == 0 {
		return nil
	}
	err := c.check("cuModuleUnload", c.d.drv.cuModuleUnload(m.m))
	m.m = 0
	return err
}

// ArgKind is the C type of a kernel argument.
type ArgKind uint8

// Argument kinds: a device pointer, int, float, long long, double.
const (
	ArgPtr ArgKind = iota + 1
	ArgInt32
	ArgFloat32
	ArgInt64
	ArgFloat64
)

var argKindNames = [...]string{ArgPtr: "pointer", ArgInt32: "int", ArgFloat32: "float", ArgInt64: "long long", ArgFloat64: "double"}

func (k ArgKind) String() string {
	if int(k) < len(argKindNames) && argKindNames[k] != "" {
		return argKindNames[k]
	}
	return "ArgKind(" + strconv.Itoa(int(k)) + ")"
}

// Arg is one kernel argument: its kind and its bits.
type Arg struct {
	Kind ArgKind
	bits uint64
}

// BufArg passes the device address of b.
func BufArg(b Buffer) Arg { return Arg{ArgPtr, b.ptr} }

// IntArg passes v as a C int; v must fit in 32 bits (Launch checks).
func IntArg(v int) Arg { return Arg{ArgInt32, uint64(int64(v))} }

// FloatArg passes v as a C float.
func FloatArg(v float32) Arg { return Arg{ArgFloat32, uint64(math.Float32bits(v))} }

// Int64Arg passes v as a C long long.
func Int64Arg(v int64) Arg { return Arg{ArgInt64, uint64(v)} }

// DoubleArg passes v as a C double.
func DoubleArg(v float64) Arg { return Arg{ArgFloat64, math.Float64bits(v)} }

func (a Arg) String() string {
	switch a.Kind {
	case ArgPtr:
		return fmt.Sprintf("ptr:%#x", a.bits)
	case ArgInt32:
		return fmt.Sprintf("int:%d", int32(a.bits))
	case ArgFloat32:
		return fmt.Sprintf("float:%g", math.Float32frombits(uint32(a.bits)))
	case ArgInt64:
		return fmt.Sprintf("long:%d", int64(a.bits))
	case ArgFloat64:
		return fmt.Sprintf("double:%g", math.Float64frombits(a.bits))
	}
	return a.Kind.String()
}

// maxKernelArgs bounds the arguments of one launch.
const maxKernelArgs = 32

// argPack holds the values of one launch and the void* array
// cuLaunchKernel reads (kernelParams: one pointer per argument, to its
// value). It is pinned for the device's life and reused by every launch:
// the driver copies the values when the launch is queued.
type argPack struct {
	vals [maxKernelArgs]uint64
	ptrs [maxKernelArgs]unsafe.Pointer
}

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z int }

// D1 is Dim3{x, 1, 1}.
func D1(x int) Dim3 { return Dim3{x, 1, 1} }

func (d Dim3) ok() bool { return d.X >= 1 && d.Y >= 1 && d.Z >= 1 }

// Launch queues f on the current stream with grid x block threads,
// shared bytes of dynamic shared memory and args, which must match the
// kernel's parameters in number, order and C type.
func (c *Ctx) Launch(f *Function, grid, block Dim3, shared int, args ...Arg) error {
	if f == nil || f.f == 0 {
		return fmt.Errorf("cuda: Launch of a nil function")
	}
	if !grid.ok() || !block.ok() || block.X*block.Y*block.Z > 1024 || grid.Y > 65535 || grid.Z > 65535 {
		return fmt.Errorf("cuda: launch %s: bad grid %v or block %v", f.Name, grid, block)
	}
	if len(args) > maxKernelArgs {
		return fmt.Errorf("cuda: launch %s: %d arguments, at most %d", f.Name, len(args), maxKernelArgs)
	}
	p := c.d.args
	var bad []string
	for i, a := range args {
		switch a.Kind {
		case ArgInt32:
			if v := int64(a.bits); v != int64(int32(v)) {
				bad = append(bad, fmt.Sprintf("argument %d = %d does not fit in an int", i, v))
			}
		case ArgPtr, ArgFloat32, ArgInt64, ArgFloat64:
		default:
			bad = append(bad, fmt.Sprintf("argument %d has no kind", i))
		}
		p.vals[i] = a.bits
	}
	if len(bad) > 0 {
		return fmt.Errorf("cuda: launch %s: %s", f.Name, strings.Join(bad, "; "))
	}
	r := c.d.drv.cuLaunchKernel(f.f, uint32(grid.X), uint32(grid.Y), uint32(grid.Z),
		uint32(block.X), uint32(block.Y), uint32(block.Z), uint32(shared), c.d.stream,
		unsafe.Pointer(&p.ptrs[0]), nil)
	if err := c.check("cuLaunchKernel", r); err != nil {
		return fmt.Errorf("%w (kernel %s, grid %v, block %v)", err, f.Name, grid, block)
	}
	return nil
}
