package main

import "fmt"

// AVX2+FMA SGEMM micro-kernels: an MR x (8*NV) tile of C in ymm registers,
// the same two A layouts and packed B panels as the AVX-512 kernels (see
// avx512.go), measured designs from go-avx2-gemm.md: A elements broadcast
// from memory (VBROADCASTSS m32 runs in a load port, not an FMA pipe), k
// unrolled 4x, and in the N layout one PREFETCHT0 per row and 4 k steps of
// the next tile's A rows (the driver calls the row tiles of a panel in
// order). The 6x16 tile (12 accumulators, 2 B vectors, 1 broadcast) is the
// main one; 12x8 and 4x24 cover narrow and 24-wide panels.
//
// No masks: the kernels always write whole tiles (8*NV columns); the driver
// sends column tails through a scratch tile.

var avx2MaxMR = []int{0, 12, 6, 4}

const avx2Prefetch = true

func genAVX2(out map[string][]byte) {
	var s asmBuf
	s.WriteString(header + "//go:build amd64\n\n#include \"textflag.h\"\n")
	for _, lay := range []string{"N", "T"} {
		for nv := 1; nv < len(avx2MaxMR); nv++ {
			for mr := 1; mr <= avx2MaxMR[nv]; mr++ {
				avx2Kernel(&s, fmt.Sprintf("avx2%s%dx%d", lay, nv, mr), lay, nv, mr)
			}
		}
	}
	out["gemm_avx2_amd64.s"] = s.Bytes()
	out["gemm_avx2_amd64.go"] = gemmDecls("amd64", "avx2", "AVX2 (8 floats per vector)", avx2MaxMR)
}

func avx2Kernel(w *asmBuf, name, lay string, nv, mr int) {
	p := w.op
	acc := make([]string, nv*mr)
	for r := range acc {
		acc[r] = fmt.Sprintf("Y%d", r)
	}
	bv := func(v int) string { return fmt.Sprintf("Y%d", nv*mr+v) }
	bcast := fmt.Sprintf("Y%d", nv*mr+nv)
	if nv*mr+nv >= 16 {
		panic("too many registers")
	}
	A := func(i, v int) string { return acc[i*nv+v] }
	nb := (mr + 2) / 3
	bases := []string{"SI", "DI", "R8", "R9", "R10", "R11", "R12", "R13"}
	pf := lay == "N" && avx2Prefetch && 2*nb <= len(bases)
	nbases := nb
	if pf {
		nbases = 2 * nb
	}
	addr := func(i, u int) string {
		if lay == "N" {
			return amd64RowAddr(bases, i, 4*u)
		}
		return amd64ColAddr(i, u)
	}
	step := func(u int) {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %d(BX), %s", (u*nv+v)*32, bv(v))
		}
		for i := 0; i < mr; i++ {
			if pf && u == 0 {
				// Row i of the next tile: bases nb.. start at a + mr*rs.
				p("PREFETCHT0 %s", amd64RowAddr(bases[nb:], i, 0))
			}
			p("VBROADCASTSS %s, %s", addr(i, u), bcast)
			for v := 0; v < nv; v++ {
				p("VFMADD231PS %s, %s, %s", bv(v), bcast, A(i, v))
			}
		}
	}
	advance := func(n int) {
		p("ADDQ $%d, BX", n*nv*32)
		if lay == "N" {
			for j := 0; j < nbases; j++ {
				p("ADDQ $%d, %s", 4*n, bases[j])
			}
		} else if n == 4 {
			p("LEAQ (SI)(CX*4), SI")
		} else {
			p("ADDQ CX, SI")
		}
	}

	w.line("\n// func %s%s", name, kernelSig)
	w.line("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("MOVQ k+0(FP), AX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ b+32(FP), BX")
	if lay == "N" {
		p("MOVQ rs+16(FP), CX")
		p("LEAQ (CX)(CX*2), DX")
		for j := 1; j < nbases; j++ {
			if pf && j == nb {
				// Next tile: a + mr*rs.
				p("MOVQ CX, %s", bases[j])
				p("IMULQ $%d, %s", mr, bases[j])
				p("ADDQ SI, %s", bases[j])
				continue
			}
			p("LEAQ (%s)(DX*1), %s", bases[j-1], bases[j])
		}
	} else {
		p("MOVQ cs+24(FP), CX")
		p("LEAQ (CX)(CX*2), DX")
	}
	for _, r := range acc {
		p("VXORPS %s, %s, %s", r, r, r)
	}
	p("CMPQ AX, $4")
	p("JLT tail")
	w.label("loop4")
	for u := 0; u < 4; u++ {
		step(u)
	}
	advance(4)
	p("SUBQ $4, AX")
	p("CMPQ AX, $4")
	p("JGE loop4")
	w.label("tail")
	p("TESTQ AX, AX")
	p("JEQ done")
	w.label("loop1")
	pfSave := pf
	pf = false
	step(0)
	pf = pfSave
	advance(1)
	p("DECQ AX")
	p("JNE loop1")
	w.label("done")
	p("MOVQ c+40(FP), DX")
	p("MOVQ ldc+48(FP), CX")
	p("MOVQ acc+64(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ store")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VADDPS %d(DX), %s, %s", 32*v, A(i, v), A(i, v))
			p("VMOVUPS %s, %d(DX)", A(i, v), 32*v)
		}
		if i+1 < mr {
			p("ADDQ CX, DX")
		}
	}
	p("VZEROUPPER")
	p("RET")
	w.label("store")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %s, %d(DX)", A(i, v), 32*v)
		}
		if i+1 < mr {
			p("ADDQ CX, DX")
		}
	}
	p("VZEROUPPER")
	p("RET")
}
