package main

import (
	"bytes"
	"fmt"
	"go/format"
)

// The go backend's micro-kernels, in plain Go: an mr x nr tile with one
// accumulator per element, A and B walked by pointers (no index
// arithmetic, no bounds checks, never stepped past their last element) and
// k unrolled 4x. The tile is sized by the
// register file (amd64 gives Go code 15 X registers: accumulators, mr A
// values and one B value must fit or the loop spills), the unrolling by the
// front end: one pointer step per four k steps. Whole tiles only (no
// masks): the driver takes column tails through scratch.

// goTiles are the generated shapes (mr, nr); each also gets its 1..mr-1 row
// variants for the last rows of a call.
var goTiles = [][2]int{{3, 3}, {4, 2}}

const goUnroll = 4

func genGoKernels(out map[string][]byte) {
	var g bytes.Buffer
	fmt.Fprintf(&g, "%spackage kernels\n\nimport \"unsafe\"\n", header)
	for _, t := range goTiles {
		mr, nr := t[0], t[1]
		fmt.Fprintf(&g, "\n// goTile%dx%d is the %dx%d go tile: kern[r] computes r <= %d rows.\n", mr, nr, mr, nr, mr)
		fmt.Fprintf(&g, "var goTile%dx%d = tile{mr: %d, nr: %d, kern: []microKernel{nil", mr, nr, mr, nr)
		for r := 1; r <= mr; r++ {
			fmt.Fprintf(&g, ", goKern%dx%dr%d", mr, nr, r)
		}
		fmt.Fprintf(&g, "}}\n")
		for r := 1; r <= mr; r++ {
			goKernel(&g, fmt.Sprintf("goKern%dx%dr%d", mr, nr, r), r, nr)
		}
	}
	src, err := format.Source(g.Bytes())
	if err != nil {
		panic(err)
	}
	out["gemm_go_kernels.go"] = src
}

func goKernel(g *bytes.Buffer, name string, mr, nr int) {
	p := func(f string, a ...any) { fmt.Fprintf(g, f+"\n", a...) }
	acc := func(i, j int) string { return fmt.Sprintf("c%d%d", i, j) }
	p("\nfunc %s%s {", name, kernelSig)
	var accs []string
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			accs = append(accs, acc(i, j))
		}
	}
	p("var %s float32", joinComma(accs))
	p("a1, a2, a3 := rs, 2*rs, 3*rs")
	p("_, _, _ = a1, a2, a3")
	step := func(u int, first bool) {
		if u > 0 {
			p("a = unsafe.Add(a, cs)")
		}
		def := "="
		if first {
			def = ":="
		}
		for i := 0; i < mr; i++ {
			src := "a"
			if i > 0 {
				src = fmt.Sprintf("unsafe.Add(a, a%d)", i)
			}
			p("x%d %s *(*float32)(%s)", i, def, src)
		}
		for j := 0; j < nr; j++ {
			d := "="
			if first && j == 0 {
				d = ":="
			}
			p("v %s bb[%d]", d, u*nr+j)
			for i := 0; i < mr; i++ {
				p("%s += x%d * v", acc(i, j), i)
			}
		}
	}
	// a and b step to the next k only while one is left: a pointer one
	// step past the last element may lie past the end of its allocation,
	// which unsafe.Pointer's rules forbid (checkptr, -race, catches it).
	// So the unrolled loop stops with 1..4 steps left, and the last four,
	// when that is what is left, run without a step after them.
	p("for k > %d {", goUnroll)
	p("bb := (*[%d]float32)(b)", goUnroll*nr)
	for u := 0; u < goUnroll; u++ {
		step(u, u == 0)
	}
	p("a = unsafe.Add(a, cs)")
	p("b = unsafe.Add(b, %d)", 4*goUnroll*nr)
	p("k -= %d", goUnroll)
	p("}")
	p("if k == %d {", goUnroll)
	p("bb := (*[%d]float32)(b)", goUnroll*nr)
	for u := 0; u < goUnroll; u++ {
		step(u, u == 0)
	}
	p("} else {")
	p("for k > 0 {")
	p("bb := (*[%d]float32)(b)", nr)
	step(0, true)
	p("if k--; k == 0 {")
	p("break")
	p("}")
	p("a = unsafe.Add(a, cs)")
	p("b = unsafe.Add(b, %d)", 4*nr)
	p("}")
	p("}")
	for i := 0; i < mr; i++ {
		cp := "c"
		if i > 0 {
			cp = fmt.Sprintf("unsafe.Add(c, %d*ldc)", i)
		}
		p("r%d := (*[%d]float32)(%s)", i, nr, cp)
	}
	p("if acc != 0 {")
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			p("%s += r%d[%d]", acc(i, j), i, j)
		}
	}
	p("}")
	for i := 0; i < mr; i++ {
		var l, r []string
		for j := 0; j < nr; j++ {
			l = append(l, fmt.Sprintf("r%d[%d]", i, j))
			r = append(r, acc(i, j))
		}
		p("%s = %s", joinComma(l), joinComma(r))
	}
	p("}")
}
