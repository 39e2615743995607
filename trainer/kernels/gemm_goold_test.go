package kernels

import (
	"math/bits"
	"unsafe"
)

// goTileOld is the go backend's earlier micro-kernel: a 4x4 tile in scalar
// Go, whose 16 accumulators spill on amd64 (15 usable X registers). Kept for
// BenchmarkGemmGoOld, the same-run comparison with the current one.
var goTileOld = tile{mr: 4, nr: 4, kern: []microKernel{nil, goKern1, goKern2, goKern3, goKern4}, masked: true}

func goKern1(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, mask uint64, acc int) {
	goKernRows(1, k, a, rs, cs, b, c, ldc, mask, acc)
}
func goKern2(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, mask uint64, acc int) {
	goKernRows(2, k, a, rs, cs, b, c, ldc, mask, acc)
}
func goKern3(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, mask uint64, acc int) {
	goKernRows(3, k, a, rs, cs, b, c, ldc, mask, acc)
}

// goKernRows handles a tile of fewer than 4 rows, one row at a time.
func goKernRows(rows, k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, mask uint64, acc int) {
	bs := unsafe.Slice((*float32)(b), 4*k)
	for i := 0; i < rows; i++ {
		var c0, c1, c2, c3 float32
		ai := unsafe.Add(a, uintptr(i)*rs)
		for p := 0; p < k; p++ {
			av := *(*float32)(unsafe.Add(ai, uintptr(p)*cs))
			bb := bs[4*p : 4*p+4 : 4*p+4]
			c0 += av * bb[0]
			c1 += av * bb[1]
			c2 += av * bb[2]
			c3 += av * bb[3]
		}
		storeRow(unsafe.Add(c, uintptr(i)*ldc), [4]float32{c0, c1, c2, c3}, mask, acc)
	}
}

func storeRow(c unsafe.Pointer, v [4]float32, mask uint64, acc int) {
	w := bits.OnesCount64(mask)
	row := unsafe.Slice((*float32)(c), w)
	if acc != 0 {
		for x := range row {
			row[x] += v[x]
		}
	} else {
		copy(row, v[:w])
	}
}

func goKern4(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, mask uint64, acc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	bs := unsafe.Slice((*float32)(b), 4*k)
	for p := 0; p < k; p++ {
		a0 := unsafe.Add(a, uintptr(p)*cs)
		bb := bs[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		x := *(*float32)(a0)
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		x = *(*float32)(unsafe.Add(a0, rs))
		c10 += x * b0
		c11 += x * b1
		c12 += x * b2
		c13 += x * b3
		x = *(*float32)(unsafe.Add(a0, 2*rs))
		c20 += x * b0
		c21 += x * b1
		c22 += x * b2
		c23 += x * b3
		x = *(*float32)(unsafe.Add(a0, 3*rs))
		c30 += x * b0
		c31 += x * b1
		c32 += x * b2
		c33 += x * b3
	}
	storeRow(c, [4]float32{c00, c01, c02, c03}, mask, acc)
	storeRow(unsafe.Add(c, ldc), [4]float32{c10, c11, c12, c13}, mask, acc)
	storeRow(unsafe.Add(c, 2*ldc), [4]float32{c20, c21, c22, c23}, mask, acc)
	storeRow(unsafe.Add(c, 3*ldc), [4]float32{c30, c31, c32, c33}, mask, acc)
}
