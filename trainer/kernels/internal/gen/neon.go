package main

import "fmt"

// NEON SGEMM micro-kernels: an MR x (4*NV) tile of C in V registers
// (accumulators V0.., A in V16..V23, B in V24..V27), with the same A layouts
// and packed B panels as the amd64 kernels. A is held in registers and
// multiplied by element (FMLA Vd.4S, Vn.4S, Vm.S[lane]):
//
//	N layout: one 128-bit load per row gives A(i, p..p+3); lanes are k steps
//	          (k unrolled 4x, then one k at a time with a 32-bit load).
//	T layout: A(0..3, p) is one 128-bit load; lanes are rows (a row tail of
//	          1-3 rows loads only those, so nothing past A is read).
//
// Whole tiles only (no masks): the driver sends column tails through a
// scratch tile. These kernels are tested under qemu, not timed: the tile
// shape follows the register budget (32 V registers), not a measurement.

var neonMaxMR = []int{0, 8, 8}

func genNEON(out map[string][]byte) {
	var s asmBuf
	s.WriteString(header + "//go:build arm64\n\n#include \"textflag.h\"\n")
	for _, lay := range []string{"N", "T"} {
		for nv := 1; nv < len(neonMaxMR); nv++ {
			for mr := 1; mr <= neonMaxMR[nv]; mr++ {
				neonKernel(&s, fmt.Sprintf("neon%s%dx%d", lay, nv, mr), lay, nv, mr)
			}
		}
	}
	out["gemm_neon_arm64.s"] = s.Bytes()
	out["gemm_neon_arm64.go"] = gemmDecls("arm64", "neon", "NEON (4 floats per vector)", neonMaxMR)
}

func neonKernel(w *asmBuf, name, lay string, nv, mr int) {
	p := w.op
	acc := func(i, v int) int { return i*nv + v }
	const aBase, bBase = 16, 24
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
	loadB := func() { p("VLD1.P %d(R4), %s", 16*nv, vlist(bBase, nv)) }
	rowPtr := func(i int) string { return fmt.Sprintf("R%d", 5+i) }

	w.line("\n// func %s%s", name, kernelSig)
	w.line("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("MOVD k+0(FP), R0")
	p("MOVD a+8(FP), R1")
	p("MOVD rs+16(FP), R2")
	p("MOVD cs+24(FP), R3")
	p("MOVD b+32(FP), R4")
	for i := 0; i < mr*nv; i++ {
		p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	if lay == "N" {
		p("MOVD R1, %s", rowPtr(0))
		for i := 1; i < mr; i++ {
			p("ADD R2, %s, %s", rowPtr(i-1), rowPtr(i))
		}
		w.label("loop4")
		p("CMP $4, R0")
		p("BLT tail")
		for i := 0; i < mr; i++ {
			p("FMOVQ (%s), F%d", rowPtr(i), aBase+i)
		}
		for u := 0; u < 4; u++ {
			loadB()
			for i := 0; i < mr; i++ {
				for v := 0; v < nv; v++ {
					neonFMLAElem(w, acc(i, v), bBase+v, aBase+i, u)
				}
			}
		}
		for i := 0; i < mr; i++ {
			p("ADD $16, %s, %s", rowPtr(i), rowPtr(i))
		}
		p("SUB $4, R0, R0")
		p("B loop4")
		w.label("tail")
		p("CBZ R0, done")
		for i := 0; i < mr; i++ {
			p("FMOVS (%s), F%d", rowPtr(i), aBase+i)
		}
		loadB()
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				neonFMLAElem(w, acc(i, v), bBase+v, aBase+i, 0)
			}
		}
		for i := 0; i < mr; i++ {
			p("ADD $4, %s, %s", rowPtr(i), rowPtr(i))
		}
		p("SUB $1, R0, R0")
		p("B tail")
	} else {
		w.label("loop")
		p("CBZ R0, done")
		for g := 0; 4*g < mr; g++ {
			r := min(4, mr-4*g)
			switch r {
			case 4:
				p("FMOVQ %d(R1), F%d", 16*g, aBase+g)
			case 3:
				p("FMOVD %d(R1), F%d", 16*g, aBase+g)
				p("MOVWU %d(R1), R15", 16*g+8)
				p("VMOV R15, V%d.S[2]", aBase+g)
			case 2:
				p("FMOVD %d(R1), F%d", 16*g, aBase+g)
			case 1:
				p("FMOVS %d(R1), F%d", 16*g, aBase+g)
			}
		}
		loadB()
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				neonFMLAElem(w, acc(i, v), bBase+v, aBase+i/4, i%4)
			}
		}
		p("ADD R3, R1, R1")
		p("SUB $1, R0, R0")
		p("B loop")
	}
	w.label("done")
	p("MOVD c+40(FP), R13")
	p("MOVD ldc+48(FP), R14")
	p("MOVD acc+64(FP), R0")
	p("CBZ R0, store")
	for i := 0; i < mr; i++ {
		p("VLD1 (R13), %s", vlist(bBase, nv))
		for v := 0; v < nv; v++ {
			neonW(w, "FADD", acc(i, v), acc(i, v), bBase+v)
		}
		p("VST1 %s, (R13)", vlist(acc(i, 0), nv))
		if i+1 < mr {
			p("ADD R14, R13, R13")
		}
	}
	p("RET")
	w.label("store")
	for i := 0; i < mr; i++ {
		p("VST1 %s, (R13)", vlist(acc(i, 0), nv))
		if i+1 < mr {
			p("ADD R14, R13, R13")
		}
	}
	p("RET")
}
