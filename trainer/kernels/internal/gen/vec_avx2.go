package main

import "fmt"

// AVX2 emitter of the row kernels: 8 floats per ymm register, constants as
// 32-byte memory operands (vc<>), the remaining n%8 elements one at a time
// (VMOVSS loads zero the other lanes; the body runs on whole registers).

var avx2Ptrs = []string{"DI", "SI", "DX", "BX", "R8", "R9", "R10", "R11"}

func avx2Const(v val) string { return fmt.Sprintf("vc<>+%d(SB)", 32*v.constIdx()) }

func genVecAVX2() []byte {
	var w asmBuf
	w.WriteString(header + "//go:build amd64\n\n#include \"textflag.h\"\n\n")
	w.line("// AVX2 row kernels of package kernels (see vec.go and internal/gen/vec.go).\n")
	for i, c := range vconsts {
		for l := 0; l < 8; l++ {
			w.line("DATA vc<>+%d(SB)/4, $0x%08x", 32*i+4*l, c.bits)
		}
	}
	w.line("GLOBL vc<>(SB), RODATA|NOPTR, $%d", 32*len(vconsts))
	for _, k := range vkernels {
		frame := 8 * (len(k.ptrs) + 1)
		w.line("\n// func avx2%s(%s *float32, n int)", k.name, joinComma(k.ptrs))
		w.line("TEXT ·avx2%s(SB), NOSPLIT, $0-%d", k.name, frame)
		regs := map[string]string{}
		for i, p := range k.ptrs {
			regs[p] = avx2Ptrs[i]
			w.op("MOVQ %s+%d(FP), %s", p, 8*i, avx2Ptrs[i])
		}
		w.op("MOVQ n+%d(FP), CX", 8*len(k.ptrs))
		avx2Loop(&w, k, regs)
		w.op("VZEROUPPER")
		w.op("RET")
	}
	for _, r := range rows2D {
		k := findKernel(r.of)
		w.line("\n// func avx2%s(dst *float32, ds int, x *float32, xs int, n, count int)", r.name)
		w.line("// for i < count, in order: the %s body on dst[i*ds:][:n], x[i*xs:][:n]", r.of)
		w.line("TEXT ·avx2%s(SB), NOSPLIT, $0-48", r.name)
		w.op("MOVQ dst+0(FP), R12")
		w.op("MOVQ ds+8(FP), R10")
		w.op("MOVQ x+16(FP), R13")
		w.op("MOVQ xs+24(FP), R11")
		w.op("MOVQ n+32(FP), AX")
		w.op("MOVQ count+40(FP), R9")
		w.op("SHLQ $2, R10")
		w.op("SHLQ $2, R11")
		w.label("row")
		w.op("TESTQ R9, R9")
		w.op("JEQ rowsdone")
		w.op("MOVQ R12, DI")
		w.op("MOVQ R13, SI")
		w.op("MOVQ AX, CX")
		avx2Loop(&w, k, map[string]string{"dst": "DI", "x": "SI"})
		w.op("ADDQ R10, R12")
		w.op("ADDQ R11, R13")
		w.op("DECQ R9")
		w.op("JMP row")
		w.label("rowsdone")
		w.op("VZEROUPPER")
		w.op("RET")
	}
	avx2DWPixel(&w)
	return w.Bytes()
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// avx2Loop emits the loop over CX elements: whole vectors, then single
// elements.
func avx2Loop(w *asmBuf, k vkernel, regs map[string]string) {
	w.label("vloop")
	w.op("CMPQ CX, $8")
	w.op("JLT vtail")
	avx2Body(w, k, regs, true)
	for _, p := range k.ptrs {
		w.op("ADDQ $32, %s", regs[p])
	}
	w.op("SUBQ $8, CX")
	w.op("JMP vloop")
	w.label("vtail")
	w.op("TESTQ CX, CX")
	w.op("JEQ vdone")
	w.label("vone")
	avx2Body(w, k, regs, false)
	for _, p := range k.ptrs {
		w.op("ADDQ $4, %s", regs[p])
	}
	w.op("DECQ CX")
	w.op("JNE vone")
	w.label("vdone")
}

// avx2Body emits one kernel body on a whole vector or (vector false) on
// lane 0.
func avx2Body(w *asmBuf, k vkernel, regs map[string]string, vector bool) {
	b := &vbody{}
	k.body(b)
	last := lastUses(b.ins)
	ra := newRegAlloc(16)
	Y := func(r int) string { return fmt.Sprintf("Y%d", r) }
	X := func(r int) string { return fmt.Sprintf("X%d", r) }
	// opnd is a value as a source operand: register or memory constant.
	opnd := func(v val) string {
		if v.isConst() {
			return avx2Const(v)
		}
		return Y(ra.of[v])
	}
	// inReg returns a register holding v, loading a constant into a fresh
	// register (which the caller owns).
	inReg := func(v val) (int, bool) {
		if !v.isConst() {
			return ra.of[v], false
		}
		r := ra.get()
		w.op("VMOVUPS %s, %s", avx2Const(v), Y(r))
		return r, true
	}
	for i, in := range b.ins {
		die := dying(in, i, last)
		free := func(keep int) {
			for _, d := range die {
				if ra.of[d] != keep {
					ra.put(ra.of[d])
				}
			}
		}
		switch in.op {
		case "load":
			d := ra.get()
			ra.of[in.dst] = d
			if vector {
				w.op("VMOVUPS (%s), %s", regs[in.ptr], Y(d))
			} else {
				w.op("VMOVSS (%s), %s", regs[in.ptr], X(d))
			}
			continue
		case "store":
			r := ra.of[in.args[0]]
			if vector {
				w.op("VMOVUPS %s, (%s)", Y(r), regs[in.ptr])
			} else {
				w.op("VMOVSS %s, (%s)", X(r), regs[in.ptr])
			}
			free(-1)
			continue
		}
		mn := map[string]string{"add": "VADDPS", "mul": "VMULPS", "max": "VMAXPS", "min": "VMINPS", "sub": "VSUBPS", "div": "VDIVPS"}[in.op]
		switch in.op {
		case "add", "mul", "max", "min", "sub", "div":
			x, y := in.args[0], in.args[1]
			if x.isConst() && (in.op == "add" || in.op == "mul") {
				x, y = y, x
			}
			// A constant first operand goes to a fresh register first, so
			// that it cannot take the register of a dying operand.
			xr, owned := inReg(x)
			free(-1)
			d := xr
			if !owned {
				d = ra.get()
			}
			w.op("%s %s, %s, %s", mn, opnd(y), Y(xr), Y(d))
			ra.of[in.dst] = d
		case "neg":
			free(-1)
			d := ra.get()
			w.op("VXORPS %s, %s, %s", avx2Const(cst("sign")), opnd(in.args[0]), Y(d))
			ra.of[in.dst] = d
		case "round":
			free(-1)
			d := ra.get()
			w.op("VROUNDPS $0, %s, %s", opnd(in.args[0]), Y(d))
			ra.of[in.dst] = d
		case "pow2":
			free(-1)
			d := ra.get()
			w.op("VCVTTPS2DQ %s, %s", opnd(in.args[0]), Y(d))
			w.op("VPADDD %s, %s, %s", avx2Const(cst("bias")), Y(d), Y(d))
			w.op("VPSLLD $23, %s, %s", Y(d), Y(d))
			ra.of[in.dst] = d
		case "fma", "fnma":
			base := "VFMADD"
			if in.op == "fnma" {
				base = "VFNMADD"
			}
			x, y, z := in.args[0], in.args[1], in.args[2]
			var d int
			switch {
			case !z.isConst() && contains(die, z) && z != x && z != y:
				// z += x*y
				d = ra.of[z]
				if x.isConst() {
					x, y = y, x
				}
				w.op("%s231PS %s, %s, %s", base, opnd(y), Y(ra.of[x]), Y(d))
			case !x.isConst() && contains(die, x) && x != y && (!y.isConst() || !z.isConst()):
				d = ra.of[x]
				if y.isConst() { // x = x*y + z
					w.op("%s132PS %s, %s, %s", base, opnd(y), opnd(z), Y(d))
				} else {
					w.op("%s213PS %s, %s, %s", base, opnd(z), Y(ra.of[y]), Y(d))
				}
			case !y.isConst() && contains(die, y) && x != y && (!x.isConst() || !z.isConst()):
				d = ra.of[y]
				if x.isConst() {
					w.op("%s132PS %s, %s, %s", base, opnd(x), opnd(z), Y(d))
				} else {
					w.op("%s213PS %s, %s, %s", base, opnd(z), Y(ra.of[x]), Y(d))
				}
			default:
				d = ra.get()
				if z.isConst() {
					w.op("VMOVUPS %s, %s", avx2Const(z), Y(d))
				} else {
					w.op("VMOVAPS %s, %s", Y(ra.of[z]), Y(d))
				}
				if x.isConst() {
					x, y = y, x
				}
				w.op("%s231PS %s, %s, %s", base, opnd(y), Y(ra.of[x]), Y(d))
			}
			free(d)
			ra.of[in.dst] = d
		default:
			panic(in.op)
		}
	}
}

// avx2DWPixel: dst[i] = sum over taps t (in order) of x[xoff[t]+i] *
// w[woff[t]+i]; 32 channels at a time in 4 registers, then 8, then one.
func avx2DWPixel(w *asmBuf) {
	p := w.op
	w.line("\n// func avx2DWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int)")
	w.line("TEXT ·avx2DWPixel(SB), NOSPLIT, $0-56")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ w+16(FP), DX")
	p("MOVQ xoff+24(FP), R8")
	p("MOVQ woff+32(FP), R9")
	p("MOVQ ntaps+40(FP), R10")
	p("MOVQ c+48(FP), CX")
	p("XORQ R11, R11")
	tapAddr := func() {
		p("MOVQ (R8)(R12*8), R13")
		p("LEAQ (SI)(R13*4), R13")
		p("ADDQ R11, R13")
		p("MOVQ (R9)(R12*8), AX")
		p("LEAQ (DX)(AX*4), AX")
		p("ADDQ R11, AX")
	}
	for _, blk := range []struct {
		name  string
		nvec  int
		scale bool
	}{{"dw4", 4, false}, {"dw1", 1, false}} {
		next := "dws"
		if blk.name == "dw4" {
			next = "dw1"
		}
		w.label(blk.name)
		p("CMPQ CX, $%d", 8*blk.nvec)
		p("JLT %s", next)
		for v := 0; v < blk.nvec; v++ {
			p("VXORPS Y%d, Y%d, Y%d", v, v, v)
		}
		p("XORQ R12, R12")
		w.label(blk.name + "tap")
		p("CMPQ R12, R10")
		p("JGE %sst", blk.name)
		tapAddr()
		for v := 0; v < blk.nvec; v++ {
			p("VMOVUPS %d(R13), Y%d", 32*v, 4+v)
		}
		for v := 0; v < blk.nvec; v++ {
			p("VFMADD231PS %d(AX), Y%d, Y%d", 32*v, 4+v, v)
		}
		p("INCQ R12")
		p("JMP %stap", blk.name)
		w.label(blk.name + "st")
		for v := 0; v < blk.nvec; v++ {
			p("VMOVUPS Y%d, %d(DI)(R11*1)", v, 32*v)
		}
		p("ADDQ $%d, R11", 32*blk.nvec)
		p("SUBQ $%d, CX", 8*blk.nvec)
		p("JMP %s", blk.name)
	}
	w.label("dws")
	p("TESTQ CX, CX")
	p("JEQ dwdone")
	p("VXORPS X0, X0, X0")
	p("XORQ R12, R12")
	w.label("dwstap")
	p("CMPQ R12, R10")
	p("JGE dwsst")
	tapAddr()
	p("VMOVSS (R13), X4")
	p("VFMADD231SS (AX), X4, X0")
	p("INCQ R12")
	p("JMP dwstap")
	w.label("dwsst")
	p("VMOVSS X0, (DI)(R11*1)")
	p("ADDQ $4, R11")
	p("DECQ CX")
	p("JMP dws")
	w.label("dwdone")
	p("VZEROUPPER")
	p("RET")
}
