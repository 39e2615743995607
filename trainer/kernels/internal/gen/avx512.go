package main

import "fmt"

// AVX-512 SGEMM micro-kernels. Each computes an MR x (16*NV) tile of C from
// a kc-long strip of A and a packed B panel ([k][16*NV] floats,
// zero-padded). Two A layouts:
//
//	N: A(i,p) = a + i*rs + 4*p   (A read in place, row-major, rs = lda*4)
//	T: A(i,p) = a + 4*i + p*cs   (op(A) = A^T read in place, cs = lda*4)
//
// The k loop is unrolled 4x; accumulators live in zmm registers (Z15 is
// never touched), A elements are broadcast from memory (VBROADCASTSS, or an
// embedded-broadcast VFMADD231PS for NV=1). The epilogue stores the tile, or
// adds it to C, under the column masks in the low 16*NV bits of mask.

var avx512MaxMR = []int{0, 16, 14, 9, 6}

func genAVX512(out map[string][]byte) {
	var s asmBuf
	s.WriteString(header + "//go:build amd64\n\n#include \"textflag.h\"\n")
	for _, lay := range []string{"N", "T"} {
		for nv := 1; nv < len(avx512MaxMR); nv++ {
			for mr := 1; mr <= avx512MaxMR[nv]; mr++ {
				avx512Kernel(&s, fmt.Sprintf("avx512%s%dx%d", lay, nv, mr), lay, nv, mr)
			}
		}
	}
	out["gemm_avx512_amd64.s"] = s.Bytes()
	out["gemm_avx512_amd64.go"] = gemmDecls("amd64", "avx512", "AVX-512 (16 floats per vector)", avx512MaxMR)
}

// amd64Rows returns the address of A(i, u) (u k steps ahead) in the N layout
// with row bases bases[i/3] = a + 3*(i/3)*rs and CX = rs.
func amd64RowAddr(bases []string, i, off int) string {
	base := bases[i/3]
	switch i % 3 {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(CX*1)", off, base)
	default:
		return fmt.Sprintf("%d(%s)(CX*2)", off, base)
	}
}

// amd64ColAddr returns the address of A(i, u) in the T layout: SI = a at the
// current k, CX = cs, DX = 3*cs.
func amd64ColAddr(i, u int) string {
	switch u {
	case 0:
		return fmt.Sprintf("%d(SI)", 4*i)
	case 1:
		return fmt.Sprintf("%d(SI)(CX*1)", 4*i)
	case 2:
		return fmt.Sprintf("%d(SI)(CX*2)", 4*i)
	default:
		return fmt.Sprintf("%d(SI)(DX*1)", 4*i)
	}
}

func avx512Kernel(w *asmBuf, name, lay string, nv, mr int) {
	p := w.op
	bcast := fmt.Sprintf("Z%d", nv)
	var acc []string
	for r := 0; r < 32 && len(acc) < nv*mr; r++ {
		if r < nv || r == 15 || (nv > 1 && r == nv) {
			continue
		}
		acc = append(acc, fmt.Sprintf("Z%d", r))
	}
	if len(acc) != nv*mr {
		panic("too many accumulators")
	}
	A := func(i, v int) string { return acc[i*nv+v] }
	bases := []string{"SI", "DI", "R8", "R9", "R10", "R11"}
	addr := func(i, u int) string {
		if lay == "N" {
			return amd64RowAddr(bases, i, 4*u)
		}
		return amd64ColAddr(i, u)
	}
	nb := (mr + 2) / 3
	step := func(u int) {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %d(BX), Z%d", (u*nv+v)*64, v)
		}
		for i := 0; i < mr; i++ {
			if nv == 1 {
				p("VFMADD231PS.BCST %s, Z0, %s", addr(i, u), A(i, 0))
				continue
			}
			p("VBROADCASTSS %s, %s", addr(i, u), bcast)
			for v := 0; v < nv; v++ {
				p("VFMADD231PS Z%d, %s, %s", v, bcast, A(i, v))
			}
		}
	}
	advance := func(n int) {
		p("ADDQ $%d, BX", n*nv*64)
		if lay == "N" {
			for j := 0; j < nb; j++ {
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
		for j := 1; j < nb; j++ {
			p("LEAQ (%s)(DX*1), %s", bases[j-1], bases[j])
		}
	} else {
		p("MOVQ cs+24(FP), CX")
		p("LEAQ (CX)(CX*2), DX")
	}
	for _, r := range acc {
		p("VPXORD %s, %s, %s", r, r, r)
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
	step(0)
	advance(1)
	p("DECQ AX")
	p("JNE loop1")
	w.label("done")
	p("MOVQ mask+56(FP), DX")
	for v := 0; v < nv; v++ {
		p("KMOVW DX, K%d", v+1)
		if v+1 < nv {
			p("SHRQ $16, DX")
		}
	}
	p("MOVQ c+40(FP), R12")
	p("MOVQ ldc+48(FP), R13")
	p("MOVQ acc+64(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ store")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VMOVUPS.Z %d(R12), K%d, Z%d", 64*v, v+1, v)
			p("VADDPS Z%d, %s, %s", v, A(i, v), A(i, v))
			p("VMOVUPS %s, K%d, %d(R12)", A(i, v), v+1, 64*v)
		}
		if i+1 < mr {
			p("ADDQ R13, R12")
		}
	}
	p("VZEROUPPER")
	p("RET")
	w.label("store")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %s, K%d, %d(R12)", A(i, v), v+1, 64*v)
		}
		if i+1 < mr {
			p("ADDQ R13, R12")
		}
	}
	p("VZEROUPPER")
	p("RET")
}
