package main

import "fmt"

// NEON emitter of the row kernels: 4 floats per V register, constants
// replicated into V16.. at entry, the remaining n%4 elements one at a time
// (FMOVS loads zero the other lanes).
//
// Go's arm64 assembler has no mnemonics for most floating-point vector
// instructions, so they are emitted as WORD with the encoding computed here
// and the instruction in a comment (checked against binutils' disassembler
// when written, and by the kernels' tests under qemu).

// neon3 encodes a three-register .4S instruction: d = n op m.
func neon3(base uint32, d, n, m int) uint32 {
	return base | uint32(m)<<16 | uint32(n)<<5 | uint32(d)
}

// neon2 encodes a two-register .4S instruction: d = op n.
func neon2(base uint32, d, n int) uint32 { return base | uint32(n)<<5 | uint32(d) }

var neonOps = map[string]uint32{
	"FADD": 0x4E20D400, "FSUB": 0x4EA0D400, "FMUL": 0x6E20DC00, "FDIV": 0x6E20FC00,
	"FMAX": 0x4E20F400, "FMIN": 0x4EA0F400, "FMLA": 0x4E20CC00, "FMLS": 0x4EA0CC00,
	"ADD": 0x4EA08400, "ORR": 0x4EA01C00,
	"FRINTN": 0x4E218800, "FCVTZS": 0x4EA1B800, "FNEG": 0x6EA0F800,
}

// neonW emits one WORD-encoded instruction with its mnemonic.
func neonW(w *asmBuf, op string, d, n, m int) {
	var enc uint32
	var text string
	switch op {
	case "FRINTN", "FCVTZS", "FNEG":
		enc = neon2(neonOps[op], d, n)
		text = fmt.Sprintf("%s V%d.4S, V%d.4S", op, d, n)
	case "SHL23":
		enc = 0x4F005400 | (32+23)<<16 | uint32(n)<<5 | uint32(d)
		text = fmt.Sprintf("SHL V%d.4S, V%d.4S, #23", d, n)
	case "MOV":
		enc = neon3(neonOps["ORR"], d, n, n)
		text = fmt.Sprintf("MOV V%d.16B, V%d.16B", d, n)
	default:
		enc = neon3(neonOps[op], d, n, m)
		text = fmt.Sprintf("%s V%d.4S, V%d.4S, V%d.4S", op, d, n, m)
	}
	w.op("WORD $0x%08x // %s", enc, text)
}

// neonFMLAElem encodes FMLA Vd.4S, Vn.4S, Vm.S[idx]: d += n * m[idx].
func neonFMLAElem(w *asmBuf, d, n, m, idx int) {
	enc := uint32(0x4F801000) | uint32(idx&1)<<21 | uint32(m)<<16 | uint32(idx>>1)<<11 | uint32(n)<<5 | uint32(d)
	w.op("WORD $0x%08x // FMLA V%d.4S, V%d.4S, V%d.S[%d]", enc, d, n, m, idx)
}

var neonPtrs = []string{"R0", "R1", "R2", "R3", "R4", "R5", "R8", "R9"}

const neonConstBase = 16 // constant i lives in V(16+i)

func genVecNEON() []byte {
	var w asmBuf
	w.WriteString(header + "//go:build arm64\n\n#include \"textflag.h\"\n\n")
	w.line("// NEON row kernels of package kernels (see vec.go and internal/gen/vec.go).\n")
	for i, c := range vconsts {
		w.line("DATA vc<>+%d(SB)/4, $0x%08x", 4*i, c.bits)
	}
	w.line("GLOBL vc<>(SB), RODATA|NOPTR, $%d", 4*len(vconsts))
	for _, k := range vkernels {
		frame := 8 * (len(k.ptrs) + 1)
		w.line("\n// func neon%s(%s *float32, n int)", k.name, joinComma(k.ptrs))
		w.line("TEXT ·neon%s(SB), NOSPLIT, $0-%d", k.name, frame)
		regs := map[string]string{}
		for i, p := range k.ptrs {
			regs[p] = neonPtrs[i]
			w.op("MOVD %s+%d(FP), %s", p, 8*i, neonPtrs[i])
		}
		w.op("MOVD n+%d(FP), R6", 8*len(k.ptrs))
		neonConsts(&w, k)
		neonLoop(&w, k, regs)
		w.op("RET")
	}
	for _, r := range rows2D {
		k := findKernel(r.of)
		w.line("\n// func neon%s(dst *float32, ds int, x *float32, xs int, n, count int)", r.name)
		w.line("// for i < count, in order: the %s body on dst[i*ds:][:n], x[i*xs:][:n]", r.of)
		w.line("TEXT ·neon%s(SB), NOSPLIT, $0-48", r.name)
		w.op("MOVD dst+0(FP), R8")
		w.op("MOVD ds+8(FP), R9")
		w.op("MOVD x+16(FP), R10")
		w.op("MOVD xs+24(FP), R11")
		w.op("MOVD n+32(FP), R12")
		w.op("MOVD count+40(FP), R13")
		w.op("LSL $2, R9, R9")
		w.op("LSL $2, R11, R11")
		neonConsts(&w, k)
		w.label("row")
		w.op("CBZ R13, rowsdone")
		w.op("MOVD R8, R0")
		w.op("MOVD R10, R1")
		w.op("MOVD R12, R6")
		neonLoop(&w, k, map[string]string{"dst": "R0", "x": "R1"})
		w.op("ADD R9, R8, R8")
		w.op("ADD R11, R10, R10")
		w.op("SUB $1, R13, R13")
		w.op("B row")
		w.label("rowsdone")
		w.op("RET")
	}
	neonDWPixel(&w)
	return w.Bytes()
}

// neonConsts replicates the constants the kernel uses into V16...
func neonConsts(w *asmBuf, k vkernel) {
	b := &vbody{}
	k.body(b)
	used := map[int]bool{}
	for _, in := range b.ins {
		for _, a := range in.args {
			if a.isConst() {
				used[a.constIdx()] = true
			}
		}
		if in.op == "pow2" {
			used[cst("bias").constIdx()] = true
		}
	}
	top := -1
	for i := range vconsts {
		if used[i] {
			top = i
		}
	}
	if top < 0 {
		return
	}
	w.op("MOVD $vc<>(SB), R7")
	for i := 0; i <= top; i++ {
		w.op("VLD1R.P 4(R7), [V%d.S4]", neonConstBase+i)
	}
}

func neonLoop(w *asmBuf, k vkernel, regs map[string]string) {
	w.label("vloop")
	w.op("CMP $4, R6")
	w.op("BLT vtail")
	neonBody(w, k, regs, true)
	for _, p := range k.ptrs {
		w.op("ADD $16, %s, %s", regs[p], regs[p])
	}
	w.op("SUB $4, R6, R6")
	w.op("B vloop")
	w.label("vtail")
	w.op("CBZ R6, vdone")
	neonBody(w, k, regs, false)
	for _, p := range k.ptrs {
		w.op("ADD $4, %s, %s", regs[p], regs[p])
	}
	w.op("SUB $1, R6, R6")
	w.op("B vtail")
	w.label("vdone")
}

func neonBody(w *asmBuf, k vkernel, regs map[string]string, vector bool) {
	b := &vbody{}
	k.body(b)
	last := lastUses(b.ins)
	ra := newRegAlloc(16)
	reg := func(v val) int {
		if v.isConst() {
			return neonConstBase + v.constIdx()
		}
		return ra.of[v]
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
				w.op("VLD1 (%s), [V%d.S4]", regs[in.ptr], d)
			} else {
				w.op("FMOVS (%s), F%d", regs[in.ptr], d)
			}
		case "store":
			r := reg(in.args[0])
			if vector {
				w.op("VST1 [V%d.S4], (%s)", r, regs[in.ptr])
			} else {
				w.op("FMOVS F%d, (%s)", r, regs[in.ptr])
			}
			free(-1)
		case "add", "sub", "mul", "div", "max", "min":
			op := map[string]string{"add": "FADD", "sub": "FSUB", "mul": "FMUL", "div": "FDIV", "max": "FMAX", "min": "FMIN"}[in.op]
			free(-1)
			d := ra.get()
			neonW(w, op, d, reg(in.args[0]), reg(in.args[1]))
			ra.of[in.dst] = d
		case "neg", "round":
			op := map[string]string{"neg": "FNEG", "round": "FRINTN"}[in.op]
			free(-1)
			d := ra.get()
			neonW(w, op, d, reg(in.args[0]), 0)
			ra.of[in.dst] = d
		case "pow2":
			free(-1)
			d := ra.get()
			neonW(w, "FCVTZS", d, reg(in.args[0]), 0)
			neonW(w, "ADD", d, d, neonConstBase+cst("bias").constIdx())
			neonW(w, "SHL23", d, d, 0)
			ra.of[in.dst] = d
		case "fma", "fnma":
			op := "FMLA"
			if in.op == "fnma" {
				op = "FMLS"
			}
			x, y, z := in.args[0], in.args[1], in.args[2]
			var d int
			if !z.isConst() && contains(die, z) && z != x && z != y {
				d = ra.of[z]
			} else {
				d = ra.get()
				neonW(w, "MOV", d, reg(z), 0)
			}
			neonW(w, op, d, reg(x), reg(y))
			free(d)
			ra.of[in.dst] = d
		default:
			panic(in.op)
		}
	}
}

// neonDWPixel: dst[i] = sum over taps t (in order) of x[xoff[t]+i] *
// w[woff[t]+i]; 16 channels at a time in 4 registers, then 4, then one.
func neonDWPixel(w *asmBuf) {
	p := w.op
	w.line("\n// func neonDWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int)")
	w.line("TEXT ·neonDWPixel(SB), NOSPLIT, $0-56")
	p("MOVD dst+0(FP), R0")
	p("MOVD x+8(FP), R1")
	p("MOVD w+16(FP), R2")
	p("MOVD xoff+24(FP), R3")
	p("MOVD woff+32(FP), R4")
	p("MOVD ntaps+40(FP), R5")
	p("MOVD c+48(FP), R6")
	p("MOVD $0, R7")
	tapAddr := func() {
		p("MOVD (R3)(R8<<3), R9")
		p("ADD R9<<2, R1, R9")
		p("ADD R7, R9, R9")
		p("MOVD (R4)(R8<<3), R10")
		p("ADD R10<<2, R2, R10")
		p("ADD R7, R10, R10")
	}
	vlist := func(first, n int) string {
		s := "["
		for v := 0; v < n; v++ {
			if v > 0 {
				s += ", "
			}
			s += fmt.Sprintf("V%d.S4", first+v)
		}
		return s + "]"
	}
	for _, blk := range []struct {
		name string
		nvec int
		next string
	}{{"dw4", 4, "dw1"}, {"dw1", 1, "dws"}} {
		w.label(blk.name)
		p("CMP $%d, R6", 4*blk.nvec)
		p("BLT %s", blk.next)
		for v := 0; v < blk.nvec; v++ {
			p("VEOR V%d.B16, V%d.B16, V%d.B16", v, v, v)
		}
		p("MOVD $0, R8")
		w.label(blk.name + "tap")
		p("CMP R5, R8")
		p("BGE %sst", blk.name)
		tapAddr()
		p("VLD1 (R9), %s", vlist(4, blk.nvec))
		p("VLD1 (R10), %s", vlist(8, blk.nvec))
		for v := 0; v < blk.nvec; v++ {
			neonW(w, "FMLA", v, 4+v, 8+v)
		}
		p("ADD $1, R8, R8")
		p("B %stap", blk.name)
		w.label(blk.name + "st")
		p("ADD R7, R0, R11")
		p("VST1 %s, (R11)", vlist(0, blk.nvec))
		p("ADD $%d, R7, R7", 16*blk.nvec)
		p("SUB $%d, R6, R6", 4*blk.nvec)
		p("B %s", blk.name)
	}
	w.label("dws")
	p("CBZ R6, dwdone")
	p("VEOR V0.B16, V0.B16, V0.B16")
	p("MOVD $0, R8")
	w.label("dwstap")
	p("CMP R5, R8")
	p("BGE dwsst")
	tapAddr()
	p("FMOVS (R9), F4")
	p("FMOVS (R10), F8")
	neonW(w, "FMLA", 0, 4, 8)
	p("ADD $1, R8, R8")
	p("B dwstap")
	w.label("dwsst")
	p("ADD R7, R0, R11")
	p("FMOVS F0, (R11)")
	p("ADD $4, R7, R7")
	p("SUB $1, R6, R6")
	p("B dws")
	w.label("dwdone")
	p("RET")
}
