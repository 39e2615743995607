package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// gemmCase is one float32 GEMM problem with padded strides.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	alpha, beta    float32
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g",
		g.transA, g.transB, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.alpha, g.beta)
}

// newCase fills in strides, padding each by pad elements.
func newCase(transA, transB bool, m, n, k, pad int, alpha, beta float32) gemmCase {
	g := gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	g.lda, g.ldb, g.ldc = k+pad, n+pad, n+pad
	if transA {
		g.lda = m + pad
	}
	if transB {
		g.ldb = k + pad
	}
	return g
}

func matLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

type gemmData struct {
	a, b, c0  []float32
	want, tol []float64
}

// prepare builds random operands and the float64 reference result with a
// per-element error bound: 1e-5*sqrt(k) times the magnitude of the terms.
func prepare(g gemmCase, rng *rand.Rand) gemmData {
	ra, ca := g.m, g.k
	if g.transA {
		ra, ca = ca, ra
	}
	rb, cb := g.k, g.n
	if g.transB {
		rb, cb = cb, rb
	}
	var d gemmData
	d.a = randSlice(rng, matLen(ra, ca, g.lda))
	d.b = randSlice(rng, matLen(rb, cb, g.ldb))
	d.c0 = randSlice(rng, matLen(g.m, g.n, g.ldc))
	a64, b64, c64 := to64(d.a), to64(d.b), to64(d.c0)
	gemmRef(g.transA, g.transB, g.m, g.n, g.k, float64(g.alpha), a64, g.lda, b64, g.ldb, float64(g.beta), c64, g.ldc)
	d.want = c64
	for _, s := range [][]float64{a64, b64} {
		for i := range s {
			s[i] = math.Abs(s[i])
		}
	}
	mag := to64(d.c0)
	for i := range mag {
		mag[i] = math.Abs(mag[i])
	}
	gemmRef(g.transA, g.transB, g.m, g.n, g.k, math.Abs(float64(g.alpha)), a64, g.lda, b64, g.ldb, math.Abs(float64(g.beta)), mag, g.ldc)
	eps := 1e-5 * math.Sqrt(float64(g.k)+1)
	for i := range mag {
		mag[i] = eps*mag[i] + 1e-30
	}
	d.tol = mag
	return d
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

func to64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// check runs Gemm on the active backend and compares with the reference.
// With beta == 0, C starts as NaN to prove it is not read. Elements between
// rows (the ldc padding) must stay untouched.
func check(t *testing.T, g gemmCase, d gemmData) {
	t.Helper()
	c := make([]float32, len(d.c0))
	copy(c, d.c0)
	if g.beta == 0 {
		for i := 0; i < g.m; i++ {
			for j := 0; j < g.n; j++ {
				c[i*g.ldc+j] = float32(math.NaN())
			}
		}
	}
	Gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, d.a, g.lda, d.b, g.ldb, g.beta, c, g.ldc)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.ldc && i*g.ldc+j < len(c); j++ {
			x := i*g.ldc + j
			if j >= g.n {
				if c[x] != d.c0[x] {
					t.Fatalf("%s [%s]: padding C[%d,%d] changed", Backend(), g, i, j)
				}
				continue
			}
			if diff := math.Abs(float64(c[x]) - d.want[x]); !(diff <= d.tol[x]) {
				t.Fatalf("%s [%s]: C[%d,%d] = %g, want %g (tol %g)", Backend(), g, i, j, c[x], d.want[x], d.tol[x])
			}
		}
	}
}

// testBackends is Backends(), or those of them named in the comma-separated
// EFFNAS_TEST_BACKENDS (CI's emulated arm64 run tests only neon: the
// portable backends are tested natively).
func testBackends() []string {
	only := os.Getenv("EFFNAS_TEST_BACKENDS")
	if only == "" {
		return Backends()
	}
	var out []string
	for _, be := range Backends() {
		if strings.Contains(","+only+",", ","+be+",") {
			out = append(out, be)
		}
	}
	return out
}

// forBackends runs f once per float32 backend this machine supports (see
// testBackends), with GOMAXPROCS 2 so the threaded paths run.
func forBackends(t *testing.T, f func(t *testing.T)) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	defer SetBackend("")
	for _, be := range testBackends() {
		if err := SetBackend(be); err != nil {
			t.Fatal(err)
		}
		t.Run(be, f)
	}
}

var edgeSizes = []int{1, 2, 3, 15, 16, 17, 31, 33, 64, 100, 257}

// TestGemmSizes covers every m, n, k in edgeSizes; the transpose pair, beta,
// alpha and padding rotate through the cases.
func TestGemmSizes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var cases []gemmCase
	var data []gemmData
	betas := []float32{0, 1, 0.5}
	i := 0
	for _, m := range edgeSizes {
		for _, n := range edgeSizes {
			for _, k := range edgeSizes {
				g := newCase(i&1 != 0, i&2 != 0, m, n, k, (i/4)%3*5, []float32{1, -0.75, 2.5}[i%3], betas[(i/3)%3])
				cases = append(cases, g)
				data = append(data, prepare(g, rng))
				i++
			}
		}
	}
	forBackends(t, func(t *testing.T) {
		for x, g := range cases {
			check(t, g, data[x])
		}
	})
}

// TestGemmAllCombos runs all transpose pairs and betas on shapes with tails
// in every dimension, including lda/ldb/ldc larger than the row length.
func TestGemmAllCombos(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	shapes := [][3]int{{17, 33, 31}, {100, 16, 64}, {3, 257, 15}, {31, 48, 100}, {64, 64, 1}, {29, 70, 257}}
	var cases []gemmCase
	var data []gemmData
	for _, s := range shapes {
		for tr := 0; tr < 4; tr++ {
			for _, beta := range []float32{0, 1, 0.5} {
				for _, pad := range []int{0, 7} {
					g := newCase(tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], pad, 1.5, beta)
					cases = append(cases, g)
					data = append(data, prepare(g, rng))
				}
			}
		}
	}
	forBackends(t, func(t *testing.T) {
		for x, g := range cases {
			check(t, g, data[x])
		}
	})
}

// TestGemmThreaded covers the parallel paths: M-split, split-K for the long
// A^T*B reductions of weight gradients, and B read in place (n = tile width).
func TestGemmThreaded(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cases := []gemmCase{
		newCase(false, false, 1000, 70, 100, 0, 1, 0),
		newCase(false, false, 777, 16, 150, 0, 1, 0),   // B direct on avx512
		newCase(false, false, 600, 32, 300, 3, 1, 1),   // padded: B packed
		newCase(true, false, 40, 48, 5000, 0, 1, 0),    // split-K
		newCase(true, false, 144, 16, 9000, 0, 1, 0.5), // split-K, B direct
		newCase(true, false, 100, 130, 3001, 5, -2, 1),
		newCase(false, true, 300, 300, 300, 1, 0.5, 0),
		newCase(true, true, 70, 90, 4100, 0, 1, 0),
		newCase(false, false, 20, 300, 2100, 0, 1, 0), // few rows: split-K
	}
	var data []gemmData
	for _, g := range cases {
		data = append(data, prepare(g, rng))
	}
	forBackends(t, func(t *testing.T) {
		for x, g := range cases {
			check(t, g, data[x])
		}
	})
}

// TestGemmIdleCaller leaves all chunks to the helper goroutines, so the
// caller's share (and, for split-K, C's own partial sum) is empty.
func TestGemmIdleCaller(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	cases := []gemmCase{
		newCase(false, false, 500, 40, 100, 0, 1, 0.5),
		newCase(true, false, 40, 48, 5000, 0, 1, 0),
		newCase(true, false, 40, 48, 5000, 2, 1, -0.5),
	}
	var data []gemmData
	for _, g := range cases {
		data = append(data, prepare(g, rng))
	}
	testIdleCaller = true
	defer func() { testIdleCaller = false }()
	forBackends(t, func(t *testing.T) {
		for x, g := range cases {
			check(t, g, data[x])
		}
	})
}

// TestGemmDeterministic checks that results are bit-identical across
// repeated calls and GOMAXPROCS 1, 2 and 4: split-K chunks are fixed by the
// shape and summed in chunk order, and row splits do not change any sum.
func TestGemmDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	cases := []gemmCase{
		newCase(true, false, 40, 48, 5000, 0, 1, 0),    // split-K
		newCase(true, false, 144, 16, 9000, 0, 1, 0.5), // split-K, B direct
		newCase(false, false, 20, 300, 2100, 0, 1, 0),  // few rows: split-K
		newCase(false, false, 1000, 70, 300, 0, 1, 0),  // M-split
		newCase(true, false, 100, 130, 3001, 5, -2, 1), // split-K, strided
		newCase(true, true, 70, 90, 4100, 0, 1, 0),
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	forBackends(t, func(t *testing.T) {
		for _, g := range cases {
			d := prepare(g, rng)
			var first []float32
			for _, procs := range []int{1, 2, 4} {
				runtime.GOMAXPROCS(procs)
				for rep := 0; rep < 2; rep++ {
					c := append([]float32(nil), d.c0...)
					Gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, d.a, g.lda, d.b, g.ldb, g.beta, c, g.ldc)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%v: GOMAXPROCS %d, call %d: c[%d] = %v, first call %v", g, procs, rep, i, c[i], first[i])
						}
					}
				}
			}
		}
	})
}

// TestGemmRandom is a randomized test with a fixed seed: random shapes,
// transposes, strides, alpha and beta.
func TestGemmRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	var cases []gemmCase
	var data []gemmData
	n := 150
	if testing.Short() {
		n = 40
	}
	for i := 0; i < n; i++ {
		dim := func() int {
			if rng.Intn(4) == 0 {
				return 1 + rng.Intn(400)
			}
			return 1 + rng.Intn(70)
		}
		g := newCase(rng.Intn(2) == 0, rng.Intn(2) == 0, dim(), dim(), dim(), rng.Intn(4)*rng.Intn(20),
			float32(rng.Intn(5)-2)/2+0.25, []float32{0, 1, 0.5, -1.5}[rng.Intn(4)])
		cases = append(cases, g)
		data = append(data, prepare(g, rng))
	}
	forBackends(t, func(t *testing.T) {
		for x, g := range cases {
			check(t, g, data[x])
		}
	})
}

func TestGemmDegenerate(t *testing.T) {
	forBackends(t, func(t *testing.T) {
		// k == 0: C = beta*C; beta == 0 clears NaN.
		c := []float32{1, 2, float32(math.NaN()), 4}
		Gemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0, c, 2)
		for _, v := range c {
			if v != 0 {
				t.Fatalf("k=0 beta=0: got %v", c)
			}
		}
		c = []float32{1, 2, 3, 4}
		Gemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0.5, c, 2)
		if c[3] != 2 {
			t.Fatalf("k=0 beta=0.5: got %v", c)
		}
		// m == 0 or n == 0: nothing happens.
		Gemm[float32](false, false, 0, 5, 5, 1, nil, 5, make([]float32, 25), 5, 0, nil, 5)
		Gemm[float32](false, false, 5, 0, 5, 1, make([]float32, 25), 5, nil, 0, 0, nil, 0)
	})
}

func TestGemmShortSlicePanics(t *testing.T) {
	forBackends(t, func(t *testing.T) {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("no panic for short A")
			}
		}()
		Gemm(false, false, 4, 4, 4, float32(1), make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
	})
}

// myFloat checks that named float32 types reach the float32 backends.
type myFloat float32

func TestGemmNamedType(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	g := newCase(false, true, 33, 40, 50, 0, 1, 0)
	d := prepare(g, rng)
	forBackends(t, func(t *testing.T) {
		a, b := make([]myFloat, len(d.a)), make([]myFloat, len(d.b))
		c := make([]myFloat, g.m*g.ldc)
		for i, v := range d.a {
			a[i] = myFloat(v)
		}
		for i, v := range d.b {
			b[i] = myFloat(v)
		}
		Gemm(g.transA, g.transB, g.m, g.n, g.k, 1, a, g.lda, b, g.ldb, 0, c, g.ldc)
		for i, v := range c {
			if math.Abs(float64(v)-d.want[i]) > d.tol[i] {
				t.Fatalf("C[%d] = %g, want %g", i, v, d.want[i])
			}
		}
	})
}

func TestGemmFloat64(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	a, b := to64(randSlice(rng, 17*19)), to64(randSlice(rng, 19*23))
	c, want := make([]float64, 17*23), make([]float64, 17*23)
	Gemm(false, false, 17, 23, 19, 1.5, a, 19, b, 23, 0, c, 23)
	gemmRef(false, false, 17, 23, 19, 1.5, a, 19, b, 23, 0, want, 23)
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("float64 C[%d] = %g, want %g", i, c[i], want[i])
		}
	}
}

func TestBackendSelection(t *testing.T) {
	defer SetBackend("")
	if err := SetBackend("nonsense"); err == nil {
		t.Fatal("SetBackend accepted an unknown name")
	}
	for _, be := range Backends() {
		if err := SetBackend(be); err != nil || Backend() != be {
			t.Fatalf("SetBackend(%q): err %v, Backend() = %q", be, err, Backend())
		}
	}
	SetBackend("auto")
	if want := Backends()[len(Backends())-1]; Backend() != want {
		t.Fatalf("auto picked %q, want %q", Backend(), want)
	}
	// The assembly backends are offered wherever the CPU has them (under
	// qemu-aarch64 too: it reports Advanced SIMD).
	have := map[string]bool{}
	for _, be := range Backends() {
		have[be] = true
	}
	want := map[string]bool{"avx512": avx512CPU(), "avx2": avx2CPU(), "neon": runtime.GOARCH == "arm64"}
	for be, w := range want {
		if have[be] != w {
			t.Errorf("backend %s offered: %v, CPU has it: %v", be, have[be], w)
		}
		if !w {
			t.Logf("%s not available: its kernels are not tested on this machine", be)
		}
	}
}

// TestGemmNoAlloc checks that steady-state calls, threaded ones included, do
// not allocate.
func TestGemmNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	shapes := []gemmCase{
		newCase(false, false, 400, 64, 144, 0, 1, 0),
		newCase(true, false, 100, 64, 3000, 0, 1, 0),
		newCase(false, false, 20, 20, 20, 0, 1, 0),
	}
	forBackends(t, func(t *testing.T) {
		if Backend() == "ref" {
			t.Skip("reference loops")
		}
		for _, g := range shapes {
			d := prepare(g, rng)
			c := make([]float32, len(d.c0))
			call := func() {
				Gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, d.a, g.lda, d.b, g.ldb, g.beta, c, g.ldc)
			}
			call()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const calls = 50
			for i := 0; i < calls; i++ {
				call()
			}
			runtime.ReadMemStats(&after)
			// The runtime itself may allocate a few objects meanwhile; a
			// per-call allocation would show up as >= calls.
			if n := after.Mallocs - before.Mallocs; n >= calls/5 {
				t.Errorf("%s: %d allocations in %d calls", g, n, calls)
			}
		}
	})
}

// TestEnvBackend runs the test binary again with EFFNAS_KERNELS set and
// checks that start-up picked that backend.
func TestEnvBackend(t *testing.T) {
	if want := os.Getenv("EFFNAS_KERNELS_WANT"); want != "" {
		if Backend() != want {
			t.Fatalf("EFFNAS_KERNELS=%s: Backend() = %q", os.Getenv(EnvBackend), Backend())
		}
		return
	}
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	for _, be := range Backends() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvBackend$")
		cmd.Env = append(os.Environ(), EnvBackend+"="+be, "EFFNAS_KERNELS_WANT="+be)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("EFFNAS_KERNELS=%s: %v\n%s", be, err, out)
		}
	}
}

// TestTileScratchFits: every unmasked tile a call can get fits the scratch
// tile the driver sends column tails through.
func TestTileScratchFits(t *testing.T) {
	for n := 1; n <= 200; n++ {
		tiles := []tile{pickGoTile(n)}
		for _, be := range archBackends() {
			tiles = append(tiles, archTile(be, 100, n, 100, false), archTile(be, 100, n, 100, true))
		}
		for _, tl := range tiles {
			if !tl.masked && tl.mr*tl.nr > maxTile {
				t.Fatalf("n=%d: %dx%d tile exceeds the %d-float scratch", n, tl.mr, tl.nr, maxTile)
			}
			if len(tl.kern) != tl.mr+1 {
				t.Fatalf("n=%d: %dx%d tile has %d kernels", n, tl.mr, tl.nr, len(tl.kern))
			}
		}
	}
}
