package main

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"strings"
)

// Row kernels (package kernels, vec.go) for AVX2 and NEON, generated from
// one description: each kernel is a straight-line body on one vector of
// lanes in a small SSA form (vop), which an emitter per instruction set
// turns into the loop over n (whole vectors, then the remaining elements
// one at a time through lane 0 with the same body), with registers
// allocated by liveness. The hand-written AVX-512 kernels
// (vec_avx512_amd64.s) compute the same operations in the same order.

// val is a virtual vector register; negative values name constants.
type val int

type vop struct {
	op   string // load store add sub mul div max min fma fnma neg round pow2
	dst  val
	args []val
	ptr  string // load, store: the pointer argument
}

// vbody is one kernel body under construction.
type vbody struct {
	ins  []vop
	next val
}

// Constants of the kernels: the float32 exponential's (Cephes expf, as in
// exp32 of vec.go) and its clamp. hi: exp(88.5) rounds n to 128, whose
// exponent bits encode +Inf, so sigmoid(-x) is 0 for x >= 88.5 (as the
// float64 path of exp32 gives); lo: 2^-127 encodes 0.
var vconsts = []struct {
	name string
	bits uint32
}{
	{"one", math.Float32bits(1)},
	{"log2e", math.Float32bits(1.44269504088896341)},
	{"ln2hi", math.Float32bits(0.693359375)},
	{"ln2lo", math.Float32bits(-2.12194440e-4)},
	{"p0", math.Float32bits(1.9875691500e-4)},
	{"p1", math.Float32bits(1.3981999507e-3)},
	{"p2", math.Float32bits(8.3334519073e-3)},
	{"p3", math.Float32bits(4.1665795894e-2)},
	{"p4", math.Float32bits(1.6666665459e-1)},
	{"p5", math.Float32bits(5.0000001201e-1)},
	{"lo", math.Float32bits(-88)},
	{"hi", math.Float32bits(88.5)},
	{"bias", 127},
	{"sign", 0x80000000},
	{"half", math.Float32bits(0.5)},
}

func cst(name string) val {
	for i, c := range vconsts {
		if c.name == name {
			return val(-1 - i)
		}
	}
	panic("no constant " + name)
}

func (v val) isConst() bool { return v < 0 }
func (v val) constIdx() int { return int(-1 - v) }

func (b *vbody) emit(op string, ptr string, args ...val) val {
	d := b.next
	b.next++
	b.ins = append(b.ins, vop{op: op, dst: d, args: args, ptr: ptr})
	return d
}

func (b *vbody) load(p string) val { return b.emit("load", p) }
func (b *vbody) store(p string, v val) {
	b.ins = append(b.ins, vop{op: "store", dst: -1, args: []val{v}, ptr: p})
}
func (b *vbody) add(x, y val) val     { return b.emit("add", "", x, y) }
func (b *vbody) sub(x, y val) val     { return b.emit("sub", "", x, y) }
func (b *vbody) mul(x, y val) val     { return b.emit("mul", "", x, y) }
func (b *vbody) div(x, y val) val     { return b.emit("div", "", x, y) }
func (b *vbody) max(x, y val) val     { return b.emit("max", "", x, y) }
func (b *vbody) min(x, y val) val     { return b.emit("min", "", x, y) }
func (b *vbody) fma(x, y, z val) val  { return b.emit("fma", "", x, y, z) }  // x*y + z
func (b *vbody) fnma(x, y, z val) val { return b.emit("fnma", "", x, y, z) } // z - x*y
func (b *vbody) neg(x val) val        { return b.emit("neg", "", x) }
func (b *vbody) round(x val) val      { return b.emit("round", "", x) } // to nearest even
func (b *vbody) pow2(n val) val       { return b.emit("pow2", "", n) }  // 2^n, n integral in [-127, 128]
func (b *vbody) sigmoid(x val) val    { return b.div(cst("one"), b.add(b.exp(b.neg(x)), cst("one"))) }

// exp is e^t: n = round(t*log2 e), r = t - n*ln2 (in two parts), a degree-6
// polynomial in r, times 2^n, with t clamped to [lo, hi].
func (b *vbody) exp(t val) val {
	t = b.min(b.max(t, cst("lo")), cst("hi"))
	n := b.round(b.mul(t, cst("log2e")))
	r := b.fnma(n, cst("ln2hi"), t)
	r = b.fnma(n, cst("ln2lo"), r)
	p := b.fma(cst("p0"), r, cst("p1"))
	for _, c := range []string{"p2", "p3", "p4", "p5"} {
		p = b.fma(p, r, cst(c))
	}
	p = b.fma(p, b.mul(r, r), r)
	p = b.add(p, cst("one"))
	return b.mul(p, b.pow2(n))
}

// vkernel is one row kernel: Go name suffix, pointer arguments (then n) and
// its body.
type vkernel struct {
	name string
	ptrs []string
	body func(b *vbody)
}

var vkernels = []vkernel{
	{"SiLU", []string{"dst", "x"}, func(b *vbody) {
		x := b.load("x")
		b.store("dst", b.mul(x, b.sigmoid(x)))
	}},
	{"Sigmoid", []string{"dst", "x"}, func(b *vbody) {
		b.store("dst", b.sigmoid(b.load("x")))
	}},
	{"SiLUGrad", []string{"dst", "x", "gy"}, func(b *vbody) {
		x, g := b.load("x"), b.load("gy")
		s := b.sigmoid(x)
		u := b.fma(b.sub(cst("one"), s), x, cst("one"))
		b.store("dst", b.mul(b.mul(s, g), u))
	}},
	{"AffineSiLU", []string{"dst", "x", "s", "t"}, func(b *vbody) {
		z := b.fma(b.load("x"), b.load("s"), b.load("t"))
		b.store("dst", b.mul(z, b.sigmoid(z)))
	}},
	{"AffineSiLUGrad", []string{"dst", "x", "gy", "s", "t"}, func(b *vbody) {
		z := b.fma(b.load("x"), b.load("s"), b.load("t"))
		g := b.load("gy")
		s := b.sigmoid(z)
		u := b.fma(b.sub(cst("one"), s), z, cst("one"))
		b.store("dst", b.mul(b.mul(s, g), u))
	}},
	{"FMA", []string{"dst", "a", "b"}, func(b *vbody) {
		b.store("dst", b.fma(b.load("a"), b.load("b"), b.load("dst")))
	}},
	{"Affine", []string{"dst", "x", "s", "t"}, func(b *vbody) {
		b.store("dst", b.fma(b.load("x"), b.load("s"), b.load("t")))
	}},
	{"Affine2", []string{"dst", "x", "s", "y", "u", "t"}, func(b *vbody) {
		r := b.fma(b.load("x"), b.load("s"), b.load("t"))
		b.store("dst", b.fma(b.load("y"), b.load("u"), r))
	}},
	{"Add", []string{"dst", "x"}, func(b *vbody) {
		b.store("dst", b.add(b.load("dst"), b.load("x")))
	}},
	{"Mul", []string{"dst", "x", "s"}, func(b *vbody) {
		b.store("dst", b.mul(b.load("x"), b.load("s")))
	}},
	{"SqDev", []string{"dst", "x", "m"}, func(b *vbody) {
		d := b.sub(b.load("x"), b.load("m"))
		b.store("dst", b.fma(d, d, b.load("dst")))
	}},
	{"GradSums", []string{"s1", "s2", "gv", "x", "m"}, func(b *vbody) {
		g := b.load("gv")
		d := b.sub(b.load("x"), b.load("m"))
		b.store("s1", b.add(b.load("s1"), g))
		b.store("s2", b.fma(g, d, b.load("s2")))
	}},
	{"Copy", []string{"dst", "x"}, func(b *vbody) {
		b.store("dst", b.load("x"))
	}},
	{"ShiftSq", []string{"s1", "s2", "x", "k"}, func(b *vbody) {
		d := b.sub(b.load("x"), b.load("k"))
		b.store("s1", b.add(b.load("s1"), d))
		b.store("s2", b.fma(d, d, b.load("s2")))
	}},
	// Winograd F(2x2, 3x3) transforms, one 4-point (or 3- or 2-point)
	// transform across n lanes; no rounding but that of each add, sub and
	// halving, so every backend computes the same values.
	{"WinoIn", []string{"v0", "v1", "v2", "v3", "x0", "x1", "x2", "x3"}, func(b *vbody) {
		x0, x1, x2, x3 := b.load("x0"), b.load("x1"), b.load("x2"), b.load("x3")
		b.store("v0", b.sub(x0, x2))
		b.store("v1", b.add(x1, x2))
		b.store("v2", b.sub(x2, x1))
		b.store("v3", b.sub(x1, x3))
	}},
	{"WinoOut", []string{"y0", "y1", "m0", "m1", "m2", "m3"}, func(b *vbody) {
		m0, m1, m2, m3 := b.load("m0"), b.load("m1"), b.load("m2"), b.load("m3")
		b.store("y0", b.add(b.add(m0, m1), m2))
		b.store("y1", b.sub(b.sub(m1, m2), m3))
	}},
	{"WinoFilter", []string{"u0", "u1", "u2", "u3", "g0", "g1", "g2"}, func(b *vbody) {
		g0, g1, g2 := b.load("g0"), b.load("g1"), b.load("g2")
		b.store("u0", g0)
		b.store("u1", b.mul(b.add(b.add(g0, g1), g2), cst("half")))
		b.store("u2", b.mul(b.add(b.sub(g0, g1), g2), cst("half")))
		b.store("u3", g2)
	}},
	{"WinoFilter2", []string{"u0", "u1", "u2", "u3", "g0", "g1"}, func(b *vbody) {
		g0, g1 := b.load("g0"), b.load("g1")
		b.store("u0", g0)
		b.store("u1", b.mul(b.add(g0, g1), cst("half")))
		b.store("u2", b.mul(b.sub(g0, g1), cst("half")))
		b.store("u3", b.neg(g1))
	}},
	{"WinoOut3", []string{"y0", "y1", "y2", "m0", "m1", "m2", "m3"}, func(b *vbody) {
		m0, m1, m2, m3 := b.load("m0"), b.load("m1"), b.load("m2"), b.load("m3")
		b.store("y0", b.add(b.add(m0, m1), m2))
		b.store("y1", b.sub(m1, m2))
		b.store("y2", b.add(b.add(m1, m2), m3))
	}},
}

// rows2D are the 2-D kernels: count runs of n floats, strides in floats,
// the body of the named 1-D kernel on each run in order.
var rows2D = []struct{ name, of string }{{"Copy2D", "Copy"}, {"Add2D", "Add"}}

func findKernel(name string) vkernel {
	for _, k := range vkernels {
		if k.name == name {
			return k
		}
	}
	panic(name)
}

// lastUses maps each value to the index of the last instruction reading it.
func lastUses(ins []vop) map[val]int {
	last := map[val]int{}
	for i, in := range ins {
		for _, a := range in.args {
			if !a.isConst() {
				last[a] = i
			}
		}
	}
	return last
}

// regAlloc hands out physical vector registers 0..n-1.
type regAlloc struct {
	free []int
	of   map[val]int
}

func newRegAlloc(n int) *regAlloc {
	r := &regAlloc{of: map[val]int{}}
	for i := n - 1; i >= 0; i-- {
		r.free = append(r.free, i)
	}
	return r
}

func (r *regAlloc) get() int {
	if len(r.free) == 0 {
		panic("out of vector registers")
	}
	x := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	return x
}

func (r *regAlloc) put(x int) { r.free = append(r.free, x) }

// dying returns the distinct non-constant arguments of instruction i whose
// last use it is.
func dying(in vop, i int, last map[val]int) []val {
	var out []val
	for _, a := range in.args {
		if a.isConst() || last[a] != i {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

func contains(vs []val, v val) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func genVec(out map[string][]byte) {
	out["vec_avx2_amd64.s"] = genVecAVX2()
	out["vec_neon_arm64.s"] = genVecNEON()
	out["vec_decl_amd64.go"] = vecDecls("amd64", "avx2")
	out["vec_decl_arm64.go"] = vecDecls("arm64", "neon")
}

func vecDecls(goarch, prefix string) []byte {
	var g bytes.Buffer
	fmt.Fprintf(&g, "%s//go:build %s\n\npackage kernels\n\n", header, goarch)
	for _, k := range vkernels {
		fmt.Fprintf(&g, "//go:noescape\nfunc %s%s(%s *float32, n int)\n\n", prefix, k.name, strings.Join(k.ptrs, ", "))
	}
	for _, k := range rows2D {
		fmt.Fprintf(&g, "//go:noescape\nfunc %s%s(dst *float32, ds int, x *float32, xs int, n, count int)\n\n", prefix, k.name)
	}
	fmt.Fprintf(&g, "//go:noescape\nfunc %sDWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int)\n\n", prefix)
	fmt.Fprintf(&g, "// %sVec is the %s row-kernel table.\nvar %sVec = vecOps{\n", prefix, prefix, prefix)
	for _, k := range vkernels {
		fmt.Fprintf(&g, "\t%s: %s%s,\n", lowerFirst(k.name), prefix, k.name)
	}
	for _, k := range rows2D {
		fmt.Fprintf(&g, "\t%s: %s%s,\n", lowerFirst(k.name), prefix, k.name)
	}
	fmt.Fprintf(&g, "\tdwPixel: %sDWPixel,\n}\n", prefix)
	src, err := format.Source(g.Bytes())
	if err != nil {
		panic(err)
	}
	return src
}

func lowerFirst(s string) string {
	if s == "FMA" {
		return "fma"
	}
	if strings.HasPrefix(s, "SiLU") {
		return "silu" + s[4:]
	}
	return strings.ToLower(s[:1]) + s[1:]
}
