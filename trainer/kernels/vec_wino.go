package kernels

// Winograd F(2x2, 3x3) transforms, as row kernels: each applies one 1-D
// transform to n lanes of four (three, two) input rows, writing four
// (three, two) output rows. The convolutions of package ops apply them
// along tile rows, then along tile columns. Their arithmetic is adds,
// subtractions and halvings in a fixed order, so every backend computes
// the same values. Outputs must not overlap inputs other than lane for
// lane (an output may be the input row of the same index).
//
//	WinoIn:      B^T  = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   (input tiles)
//	WinoOut:     A^T  = [1 1 1 0; 0 1 -1 -1]                      (output tiles)
//	WinoFilter:  G    = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (weights)
//	WinoFilter2: G'   = [1 0; 1/2 1/2; 1/2 -1/2; 0 -1]            (output-gradient tiles, weight gradient)
//	WinoOut3:    A'^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]              (weight gradient)
//
// G' and A'^T are F(3, 2)'s (the weight gradient correlates 4x4 input
// tiles with 2x2 output-gradient tiles), G' with its last row negated:
// F(3, 2)'s input transform is B^T with its last row negated, which the
// weight gradient folds into G' so that both passes share WinoIn.

// WinoIn sets v_i = (B^T x)_i lane by lane; n = len(v0).
func WinoIn(v0, v1, v2, v3, x0, x1, x2, x3 []float32) {
	if n := len(v0); n > 0 {
		vec().winoIn(p32(v0), p32(v1[:n]), p32(v2[:n]), p32(v3[:n]), p32(x0[:n]), p32(x1[:n]), p32(x2[:n]), p32(x3[:n]), n)
	}
}

// WinoOut sets y_i = (A^T m)_i; n = len(y0).
func WinoOut(y0, y1, m0, m1, m2, m3 []float32) {
	if n := len(y0); n > 0 {
		vec().winoOut(p32(y0), p32(y1[:n]), p32(m0[:n]), p32(m1[:n]), p32(m2[:n]), p32(m3[:n]), n)
	}
}

// WinoFilter sets u_i = (G g)_i; n = len(u0).
func WinoFilter(u0, u1, u2, u3, g0, g1, g2 []float32) {
	if n := len(u0); n > 0 {
		vec().winoFilter(p32(u0), p32(u1[:n]), p32(u2[:n]), p32(u3[:n]), p32(g0[:n]), p32(g1[:n]), p32(g2[:n]), n)
	}
}

// WinoFilter2 sets u_i = (G' g)_i; n = len(u0).
func WinoFilter2(u0, u1, u2, u3, g0, g1 []float32) {
	if n := len(u0); n > 0 {
		vec().winoFilter2(p32(u0), p32(u1[:n]), p32(u2[:n]), p32(u3[:n]), p32(g0[:n]), p32(g1[:n]), n)
	}
}

// WinoOut3 sets y_i = (A'^T m)_i; n = len(y0).
func WinoOut3(y0, y1, y2, m0, m1, m2, m3 []float32) {
	if n := len(y0); n > 0 {
		vec().winoOut3(p32(y0), p32(y1[:n]), p32(y2[:n]), p32(m0[:n]), p32(m1[:n]), p32(m2[:n]), p32(m3[:n]), n)
	}
}

// The portable Winograd transforms (ref and go backends), in the order the
// generated kernels compute.

func winoInGo(v0, v1, v2, v3, x0, x1, x2, x3 *float32, n int) {
	a, b, c, d := sl(x0, n), sl(x1, n), sl(x2, n), sl(x3, n)
	o0, o1, o2, o3 := sl(v0, n), sl(v1, n), sl(v2, n), sl(v3, n)
	for i := range o0 {
		x0, x1, x2, x3 := a[i], b[i], c[i], d[i]
		o0[i], o1[i], o2[i], o3[i] = x0-x2, x1+x2, x2-x1, x1-x3
	}
}

func winoOutGo(y0, y1, m0, m1, m2, m3 *float32, n int) {
	a, b, c, d := sl(m0, n), sl(m1, n), sl(m2, n), sl(m3, n)
	o0, o1 := sl(y0, n), sl(y1, n)
	for i := range o0 {
		m0, m1, m2, m3 := a[i], b[i], c[i], d[i]
		o0[i], o1[i] = (m0+m1)+m2, (m1-m2)-m3
	}
}

func winoFilterGo(u0, u1, u2, u3, g0, g1, g2 *float32, n int) {
	a, b, c := sl(g0, n), sl(g1, n), sl(g2, n)
	o0, o1, o2, o3 := sl(u0, n), sl(u1, n), sl(u2, n), sl(u3, n)
	for i := range o0 {
		g0, g1, g2 := a[i], b[i], c[i]
		o0[i], o1[i], o2[i], o3[i] = g0, ((g0+g1)+g2)*0.5, ((g0-g1)+g2)*0.5, g2
	}
}

func winoFilter2Go(u0, u1, u2, u3, g0, g1 *float32, n int) {
	a, b := sl(g0, n), sl(g1, n)
	o0, o1, o2, o3 := sl(u0, n), sl(u1, n), sl(u2, n), sl(u3, n)
	for i := range o0 {
		g0, g1 := a[i], b[i]
		o0[i], o1[i], o2[i], o3[i] = g0, (g0+g1)*0.5, (g0-g1)*0.5, -g1
	}
}

func winoOut3Go(y0, y1, y2, m0, m1, m2, m3 *float32, n int) {
	a, b, c, d := sl(m0, n), sl(m1, n), sl(m2, n), sl(m3, n)
	o0, o1, o2 := sl(y0, n), sl(y1, n), sl(y2, n)
	for i := range o0 {
		m0, m1, m2, m3 := a[i], b[i], c[i], d[i]
		o0[i], o1[i], o2[i] = (m0+m1)+m2, m1-m2, (m1+m2)+m3
	}
}

func init() {
	for _, t := range []*vecOps{&refVec, &goVec} {
		t.winoIn, t.winoOut, t.winoFilter, t.winoFilter2, t.winoOut3 = winoInGo, winoOutGo, winoFilterGo, winoFilter2Go, winoOut3Go
	}
}
