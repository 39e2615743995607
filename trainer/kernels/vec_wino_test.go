package kernels

import (
	"math"
	"math/rand"
	"testing"
)

// winoKernel runs one Winograd transform: outputs out, inputs in.
type winoKernel struct {
	name      string
	nout, nin int
	run       func(out, in [][]float32)
	// ref computes lane i's outputs from its inputs in float64 (the
	// transforms' matrices), for a tolerance check independent of the Go
	// version.
	ref func(x []float64) []float64
}

var winoKernels = []winoKernel{
	{"WinoIn", 4, 4, func(o, x [][]float32) { WinoIn(o[0], o[1], o[2], o[3], x[0], x[1], x[2], x[3]) },
		func(x []float64) []float64 { return []float64{x[0] - x[2], x[1] + x[2], x[2] - x[1], x[1] - x[3]} }},
	{"WinoOut", 2, 4, func(o, x [][]float32) { WinoOut(o[0], o[1], x[0], x[1], x[2], x[3]) },
		func(x []float64) []float64 { return []float64{x[0] + x[1] + x[2], x[1] - x[2] - x[3]} }},
	{"WinoFilter", 4, 3, func(o, x [][]float32) { WinoFilter(o[0], o[1], o[2], o[3], x[0], x[1], x[2]) },
		func(x []float64) []float64 {
			return []float64{x[0], (x[0] + x[1] + x[2]) / 2, (x[0] - x[1] + x[2]) / 2, x[2]}
		}},
	{"WinoFilter2", 4, 2, func(o, x [][]float32) { WinoFilter2(o[0], o[1], o[2], o[3], x[0], x[1]) },
		func(x []float64) []float64 { return []float64{x[0], (x[0] + x[1]) / 2, (x[0] - x[1]) / 2, -x[1]} }},
	{"WinoOut3", 3, 4, func(o, x [][]float32) { WinoOut3(o[0], o[1], o[2], x[0], x[1], x[2], x[3]) },
		func(x []float64) []float64 { return []float64{x[0] + x[1] + x[2], x[1] - x[2], x[1] + x[2] + x[3]} }},
}

// TestWinoKernelsExact checks the Winograd transforms on every backend of
// this machine: bit for bit the ref loops (adds, subtractions and halvings
// in one order), within float32 rounding of the float64 transform, for
// every length 0..67 and unaligned operands; and in place (output i over
// input i).
func TestWinoKernelsExact(t *testing.T) {
	defer SetBackend(Backend())
	rng := rand.New(rand.NewSource(4))
	for _, be := range testBackends() {
		t.Run(be, func(t *testing.T) {
			for _, k := range winoKernels {
				for n := 0; n <= 67; n++ {
					off := n % 4
					in := make([][]float32, k.nin)
					for i := range in {
						in[i] = randSlice(rng, off+n+5)[off:]
					}
					run := func(backend string, inPlace bool) [][]float32 {
						must(t, SetBackend(backend))
						x := cloneAll(in)
						out := make([][]float32, k.nout)
						for i := range out {
							out[i] = make([]float32, n+1)[1:]
							if inPlace && i < k.nin {
								out[i] = x[i][:n]
							}
						}
						k.run(out, x)
						return out
					}
					want := run("ref", false)
					for _, inPlace := range []bool{false, true} {
						got := run(be, inPlace)
						for o := range got {
							for i := 0; i < n; i++ {
								if math.Float32bits(got[o][i]) != math.Float32bits(want[o][i]) {
									t.Fatalf("%s n=%d in place %v: output %d [%d] = %v, ref %v", k.name, n, inPlace, o, i, got[o][i], want[o][i])
								}
							}
						}
					}
					for i := 0; i < n; i++ {
						x := make([]float64, k.nin)
						for j := range x {
							x[j] = float64(in[j][i])
						}
						for o, w := range k.ref(x) {
							if d := math.Abs(float64(want[o][i]) - w); d > 4e-7*(math.Abs(w)+4) {
								t.Fatalf("%s: lane %d output %d = %v, exact %v", k.name, i, o, want[o][i], w)
							}
						}
					}
				}
			}
		})
	}
}

// TestWinoKernelsPanicOnShortInput: an operand shorter than the first
// output is an error, not a read past its end.
func TestWinoKernelsPanicOnShortInput(t *testing.T) {
	for _, k := range winoKernels {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic for a short input", k.name)
				}
			}()
			out := make([][]float32, k.nout)
			for i := range out {
				out[i] = make([]float32, 30)
			}
			in := make([][]float32, k.nin)
			for i := range in {
				in[i] = make([]float32, 30)
			}
			in[k.nin-1] = make([]float32, 2)
			k.run(out, in)
		}()
	}
}
