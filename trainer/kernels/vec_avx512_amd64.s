//go:build amd64

#include "textflag.h"

// AVX-512 row kernels of package kernels (see vec.go), hand-written. Each
// handles any n: whole 16-float vectors, then a masked tail.

DATA vconst<>+0(SB)/4, $1.0
DATA vconst<>+4(SB)/4, $1.44269504088896341
DATA vconst<>+8(SB)/4, $0.693359375
DATA vconst<>+12(SB)/4, $-2.12194440e-4
DATA vconst<>+16(SB)/4, $1.9875691500e-4
DATA vconst<>+20(SB)/4, $1.3981999507e-3
DATA vconst<>+24(SB)/4, $8.3334519073e-3
DATA vconst<>+28(SB)/4, $4.1665795894e-2
DATA vconst<>+32(SB)/4, $1.6666665459e-1
DATA vconst<>+36(SB)/4, $5.0000001201e-1
DATA vconst<>+40(SB)/4, $-88.0
DATA vconst<>+44(SB)/4, $100.0
GLOBL vconst<>(SB), RODATA|NOPTR, $48

// SIGCONST loads the exponential's constants into Z16-Z28.
#define SIGCONST \
	VPXORD Z16, Z16, Z16; \
	VBROADCASTSS vconst<>+0(SB), Z17; \
	VBROADCASTSS vconst<>+4(SB), Z18; \
	VBROADCASTSS vconst<>+8(SB), Z19; \
	VBROADCASTSS vconst<>+12(SB), Z20; \
	VBROADCASTSS vconst<>+16(SB), Z21; \
	VBROADCASTSS vconst<>+20(SB), Z22; \
	VBROADCASTSS vconst<>+24(SB), Z23; \
	VBROADCASTSS vconst<>+28(SB), Z24; \
	VBROADCASTSS vconst<>+32(SB), Z25; \
	VBROADCASTSS vconst<>+36(SB), Z26; \
	VBROADCASTSS vconst<>+40(SB), Z27; \
	VBROADCASTSS vconst<>+44(SB), Z28

// SIGMOID sets S = 1/(1+exp(-X)); clobbers Z2-Z5. exp(t), t = -X clamped to
// [-88, 100] (above 88 exp overflows to +Inf, so sigmoid is 0): n = round(t*log2(e)), r = t - n*ln2 (two parts), Cephes
// polynomial, scaled by 2^n with VSCALEFPS.
#define SIGMOID(X, S) \
	VSUBPS X, Z16, Z2; \
	VMAXPS Z27, Z2, Z2; \
	VMINPS Z28, Z2, Z2; \
	VMULPS Z18, Z2, Z3; \
	VRNDSCALEPS $0, Z3, Z3; \
	VFNMADD231PS Z19, Z3, Z2; \
	VFNMADD231PS Z20, Z3, Z2; \
	VMOVAPS Z21, Z4; \
	VFMADD213PS Z22, Z2, Z4; \
	VFMADD213PS Z23, Z2, Z4; \
	VFMADD213PS Z24, Z2, Z4; \
	VFMADD213PS Z25, Z2, Z4; \
	VFMADD213PS Z26, Z2, Z4; \
	VMULPS Z2, Z2, Z5; \
	VFMADD213PS Z2, Z5, Z4; \
	VADDPS Z17, Z4, Z4; \
	VSCALEFPS Z3, Z4, Z4; \
	VADDPS Z17, Z4, Z4; \
	VDIVPS Z4, Z17, S

// TAILMASK sets K1 to the low CX bits (CX in 1..15); clobbers AX.
#define TAILMASK \
	MOVQ $1, AX; \
	SHLQ CX, AX; \
	DECQ AX; \
	KMOVW AX, K1

// func avx512SiLU(dst, x *float32, n int)
TEXT ·avx512SiLU(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SIGCONST
siluloop:
	CMPQ CX, $16
	JLT silutail
	VMOVUPS (SI), Z0
	SIGMOID(Z0, Z1)
	VMULPS Z1, Z0, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP siluloop
silutail:
	TESTQ CX, CX
	JEQ silures
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	SIGMOID(Z0, Z1)
	VMULPS Z1, Z0, Z1
	VMOVUPS Z1, K1, (DI)
silures:
	VZEROUPPER
	RET

// func avx512Sigmoid(dst, x *float32, n int)
TEXT ·avx512Sigmoid(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SIGCONST
sigloop:
	CMPQ CX, $16
	JLT sigtail
	VMOVUPS (SI), Z0
	SIGMOID(Z0, Z1)
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP sigloop
sigtail:
	TESTQ CX, CX
	JEQ sigdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	SIGMOID(Z0, Z1)
	VMOVUPS Z1, K1, (DI)
sigdone:
	VZEROUPPER
	RET

// SILUGRAD sets Z1 = G * s * (1 + X*(1-s)), s = sigmoid(X); clobbers Z2-Z6.
#define SILUGRAD(X, G) \
	SIGMOID(X, Z1); \
	VSUBPS Z1, Z17, Z6; \
	VFMADD213PS Z17, X, Z6; \
	VMULPS G, Z1, Z1; \
	VMULPS Z6, Z1, Z1

// func avx512SiLUGrad(dst, x, gy *float32, n int)
TEXT ·avx512SiLUGrad(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gy+16(FP), DX
	MOVQ n+24(FP), CX
	SIGCONST
sgloop:
	CMPQ CX, $16
	JLT sgtail
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z7
	SILUGRAD(Z0, Z7)
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP sgloop
sgtail:
	TESTQ CX, CX
	JEQ sgdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z7
	SILUGRAD(Z0, Z7)
	VMOVUPS Z1, K1, (DI)
sgdone:
	VZEROUPPER
	RET

// func avx512AffineSiLU(dst, x, s, t *float32, n int): dst = silu(x*s+t)
TEXT ·avx512AffineSiLU(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ t+24(FP), BX
	MOVQ n+32(FP), CX
	SIGCONST
asloop:
	CMPQ CX, $16
	JLT astail
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z7
	VFMADD231PS (DX), Z0, Z7
	SIGMOID(Z7, Z1)
	VMULPS Z1, Z7, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP asloop
astail:
	TESTQ CX, CX
	JEQ asdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z8
	VMOVUPS.Z (BX), K1, Z7
	VFMADD231PS Z8, Z0, Z7
	SIGMOID(Z7, Z1)
	VMULPS Z1, Z7, Z1
	VMOVUPS Z1, K1, (DI)
asdone:
	VZEROUPPER
	RET

// func avx512AffineSiLUGrad(dst, x, gy, s, t *float32, n int):
// dst = gy * silu'(x*s+t)
TEXT ·avx512AffineSiLUGrad(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gy+16(FP), R8
	MOVQ s+24(FP), DX
	MOVQ t+32(FP), BX
	MOVQ n+40(FP), CX
	SIGCONST
agloop:
	CMPQ CX, $16
	JLT agtail
	VMOVUPS (SI), Z8
	VMOVUPS (BX), Z0
	VFMADD231PS (DX), Z8, Z0
	VMOVUPS (R8), Z7
	SILUGRAD(Z0, Z7)
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP agloop
agtail:
	TESTQ CX, CX
	JEQ agdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z8
	VMOVUPS.Z (DX), K1, Z9
	VMOVUPS.Z (BX), K1, Z0
	VFMADD231PS Z9, Z8, Z0
	VMOVUPS.Z (R8), K1, Z7
	SILUGRAD(Z0, Z7)
	VMOVUPS Z1, K1, (DI)
agdone:
	VZEROUPPER
	RET

// func avx512FMA(dst, a, b *float32, n int): dst += a*b
TEXT ·avx512FMA(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
fmaloop:
	CMPQ CX, $16
	JLT fmatail
	VMOVUPS (DI), Z0
	VMOVUPS (SI), Z1
	VFMADD231PS (DX), Z1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP fmaloop
fmatail:
	TESTQ CX, CX
	JEQ fmadone
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DX), K1, Z2
	VFMADD231PS Z2, Z1, Z0
	VMOVUPS Z0, K1, (DI)
fmadone:
	VZEROUPPER
	RET

// func avx512Affine(dst, x, s, t *float32, n int): dst = x*s + t
TEXT ·avx512Affine(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ t+24(FP), BX
	MOVQ n+32(FP), CX
afloop:
	CMPQ CX, $16
	JLT aftail
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z1
	VFMADD231PS (DX), Z0, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP afloop
aftail:
	TESTQ CX, CX
	JEQ afdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z (BX), K1, Z1
	VFMADD231PS Z2, Z0, Z1
	VMOVUPS Z1, K1, (DI)
afdone:
	VZEROUPPER
	RET

// func avx512Affine2(dst, x, s, y, u, t *float32, n int): dst = x*s + y*u + t
TEXT ·avx512Affine2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ y+24(FP), R8
	MOVQ u+32(FP), R9
	MOVQ t+40(FP), BX
	MOVQ n+48(FP), CX
a2loop:
	CMPQ CX, $16
	JLT a2tail
	VMOVUPS (SI), Z0
	VMOVUPS (R8), Z2
	VMOVUPS (BX), Z1
	VFMADD231PS (DX), Z0, Z1
	VFMADD231PS (R9), Z2, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP a2loop
a2tail:
	TESTQ CX, CX
	JEQ a2done
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z3
	VMOVUPS.Z (R8), K1, Z2
	VMOVUPS.Z (R9), K1, Z4
	VMOVUPS.Z (BX), K1, Z1
	VFMADD231PS Z3, Z0, Z1
	VFMADD231PS Z4, Z2, Z1
	VMOVUPS Z1, K1, (DI)
a2done:
	VZEROUPPER
	RET

// func avx512Add(dst, x *float32, n int): dst += x
TEXT ·avx512Add(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
addloop:
	CMPQ CX, $16
	JLT addtail
	VMOVUPS (DI), Z0
	VADDPS (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP addloop
addtail:
	TESTQ CX, CX
	JEQ adddone
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
adddone:
	VZEROUPPER
	RET

// func avx512Mul(dst, x, s *float32, n int): dst = x*s
TEXT ·avx512Mul(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ n+24(FP), CX
mulloop:
	CMPQ CX, $16
	JLT multail
	VMOVUPS (SI), Z0
	VMULPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP mulloop
multail:
	TESTQ CX, CX
	JEQ muldone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
muldone:
	VZEROUPPER
	RET

// func avx512SqDev(dst, x, m *float32, n int): dst += (x-m)^2
TEXT ·avx512SqDev(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ n+24(FP), CX
sqloop:
	CMPQ CX, $16
	JLT sqtail
	VMOVUPS (SI), Z1
	VSUBPS (DX), Z1, Z1
	VMOVUPS (DI), Z0
	VFMADD231PS Z1, Z1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP sqloop
sqtail:
	TESTQ CX, CX
	JEQ sqdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DX), K1, Z2
	VSUBPS Z2, Z1, Z1
	VMOVUPS.Z (DI), K1, Z0
	VFMADD231PS Z1, Z1, Z0
	VMOVUPS Z0, K1, (DI)
sqdone:
	VZEROUPPER
	RET

// func avx512GradSums(s1, s2, gv, x, m *float32, n int): s1 += g; s2 += g*(x-m)
TEXT ·avx512GradSums(SB), NOSPLIT, $0-48
	MOVQ s1+0(FP), DI
	MOVQ s2+8(FP), R8
	MOVQ gv+16(FP), SI
	MOVQ x+24(FP), BX
	MOVQ m+32(FP), DX
	MOVQ n+40(FP), CX
gsloop:
	CMPQ CX, $16
	JLT gstail
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z1
	VSUBPS (DX), Z1, Z1
	VADDPS (DI), Z0, Z2
	VMOVUPS Z2, (DI)
	VMOVUPS (R8), Z3
	VFMADD231PS Z1, Z0, Z3
	VMOVUPS Z3, (R8)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DX
	ADDQ $64, DI
	ADDQ $64, R8
	SUBQ $16, CX
	JMP gsloop
gstail:
	TESTQ CX, CX
	JEQ gsdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (BX), K1, Z1
	VMOVUPS.Z (DX), K1, Z4
	VSUBPS Z4, Z1, Z1
	VMOVUPS.Z (DI), K1, Z2
	VADDPS Z0, Z2, Z2
	VMOVUPS Z2, K1, (DI)
	VMOVUPS.Z (R8), K1, Z3
	VFMADD231PS Z1, Z0, Z3
	VMOVUPS Z3, K1, (R8)
gsdone:
	VZEROUPPER
	RET

// func avx512Copy(dst, x *float32, n int): dst = x
TEXT ·avx512Copy(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
cploop:
	CMPQ CX, $16
	JLT cptail
	VMOVUPS (SI), Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP cploop
cptail:
	TESTQ CX, CX
	JEQ cpdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS Z0, K1, (DI)
cpdone:
	VZEROUPPER
	RET

// func avx512Copy2D(dst *float32, ds int, x *float32, xs int, n, count int):
// for i < count: dst[i*ds : i*ds+n] = x[i*xs : i*xs+n] (strides in floats)
TEXT ·avx512Copy2D(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ xs+24(FP), R9
	MOVQ n+32(FP), R10
	MOVQ count+40(FP), R11
	SHLQ $2, R8
	SHLQ $2, R9
	// tail mask for n%16 into K2 (all ones when n%16 == 0 is not used)
	MOVQ R10, CX
	ANDQ $15, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K2
c2row:
	TESTQ R11, R11
	JEQ c2done
	MOVQ DI, R12
	MOVQ SI, R13
	MOVQ R10, CX
c2loop:
	CMPQ CX, $16
	JLT c2tail
	VMOVUPS (R13), Z0
	VMOVUPS Z0, (R12)
	ADDQ $64, R12
	ADDQ $64, R13
	SUBQ $16, CX
	JMP c2loop
c2tail:
	TESTQ CX, CX
	JEQ c2next
	VMOVUPS.Z (R13), K2, Z0
	VMOVUPS Z0, K2, (R12)
c2next:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JMP c2row
c2done:
	VZEROUPPER
	RET

// func avx512Add2D(dst *float32, ds int, x *float32, xs int, n, count int):
// for i < count, in order: dst[i*ds : i*ds+n] += x[i*xs : i*xs+n]
TEXT ·avx512Add2D(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ xs+24(FP), R9
	MOVQ n+32(FP), R10
	MOVQ count+40(FP), R11
	SHLQ $2, R8
	SHLQ $2, R9
	MOVQ R10, CX
	ANDQ $15, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K2
a2row:
	TESTQ R11, R11
	JEQ a2dn
	MOVQ DI, R12
	MOVQ SI, R13
	MOVQ R10, CX
a2lp:
	CMPQ CX, $16
	JLT a2tl
	VMOVUPS (R12), Z0
	VADDPS (R13), Z0, Z0
	VMOVUPS Z0, (R12)
	ADDQ $64, R12
	ADDQ $64, R13
	SUBQ $16, CX
	JMP a2lp
a2tl:
	TESTQ CX, CX
	JEQ a2nx
	VMOVUPS.Z (R12), K2, Z0
	VMOVUPS.Z (R13), K2, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K2, (R12)
a2nx:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JMP a2row
a2dn:
	VZEROUPPER
	RET

// func avx512ShiftSq(s1, s2, x, k *float32, n int): d = x-k; s1 += d; s2 += d*d
TEXT ·avx512ShiftSq(SB), NOSPLIT, $0-40
	MOVQ s1+0(FP), DI
	MOVQ s2+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ k+24(FP), DX
	MOVQ n+32(FP), CX
ssloop:
	CMPQ CX, $16
	JLT sstail
	VMOVUPS (SI), Z1
	VSUBPS (DX), Z1, Z1
	VADDPS (DI), Z1, Z2
	VMOVUPS Z2, (DI)
	VMOVUPS (R8), Z3
	VFMADD231PS Z1, Z1, Z3
	VMOVUPS Z3, (R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	ADDQ $64, R8
	SUBQ $16, CX
	JMP ssloop
sstail:
	TESTQ CX, CX
	JEQ ssdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DX), K1, Z4
	VSUBPS Z4, Z1, Z1
	VMOVUPS.Z (DI), K1, Z2
	VADDPS Z1, Z2, Z2
	VMOVUPS Z2, K1, (DI)
	VMOVUPS.Z (R8), K1, Z3
	VFMADD231PS Z1, Z1, Z3
	VMOVUPS Z3, K1, (R8)
ssdone:
	VZEROUPPER
	RET

// func avx512DWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int):
// dst[i] = sum over t < ntaps of x[xoff[t]+i]*w[woff[t]+i], i < c (offsets
// in floats); the taps are summed in order, 64 channels at a time in
// registers, then 16 (masked for the last).
TEXT ·avx512DWPixel(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ xoff+24(FP), R8
	MOVQ woff+32(FP), R9
	MOVQ ntaps+40(FP), R10
	MOVQ c+48(FP), CX
	XORQ R11, R11
dw4:
	CMPQ CX, $64
	JLT dw1
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ R12, R12
dw4tap:
	CMPQ R12, R10
	JGE dw4st
	MOVQ (R8)(R12*8), R13
	LEAQ (SI)(R13*4), R13
	ADDQ R11, R13
	MOVQ (R9)(R12*8), R14
	LEAQ (DX)(R14*4), R14
	ADDQ R11, R14
	VMOVUPS (R13), Z4
	VMOVUPS 64(R13), Z5
	VMOVUPS 128(R13), Z6
	VMOVUPS 192(R13), Z7
	VFMADD231PS (R14), Z4, Z0
	VFMADD231PS 64(R14), Z5, Z1
	VFMADD231PS 128(R14), Z6, Z2
	VFMADD231PS 192(R14), Z7, Z3
	INCQ R12
	JMP dw4tap
dw4st:
	VMOVUPS Z0, (DI)(R11*1)
	VMOVUPS Z1, 64(DI)(R11*1)
	VMOVUPS Z2, 128(DI)(R11*1)
	VMOVUPS Z3, 192(DI)(R11*1)
	ADDQ $256, R11
	SUBQ $64, CX
	JMP dw4
dw1:
	TESTQ CX, CX
	JLE dwdone
	MOVQ $0xffff, AX
	CMPQ CX, $16
	JGE dw1mask
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
dw1mask:
	KMOVW AX, K2
	VPXORD Z0, Z0, Z0
	XORQ R12, R12
dw1tap:
	CMPQ R12, R10
	JGE dw1st
	MOVQ (R8)(R12*8), R13
	LEAQ (SI)(R13*4), R13
	ADDQ R11, R13
	MOVQ (R9)(R12*8), R14
	LEAQ (DX)(R14*4), R14
	ADDQ R11, R14
	VMOVUPS.Z (R13), K2, Z4
	VMOVUPS.Z (R14), K2, Z5
	VFMADD231PS Z5, Z4, Z0
	INCQ R12
	JMP dw1tap
dw1st:
	VMOVUPS Z0, K2, (DI)(R11*1)
	ADDQ $64, R11
	SUBQ $16, CX
	JMP dw1
dwdone:
	VZEROUPPER
	RET
