package ops

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float is the set of element types every kernel of this package is written
// for: float32 to train, float64 for gradient checks.
type Float interface{ float32 | float64 }

// tt is the gorgonia type of a tensor with the given number of dimensions and
// the shared element type variable 'a'.
func tt(dims int) hm.Type { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// scalarT is the type of a scalar with the shared element type 'a'.
func scalarT() hm.Type { return hm.TypeVariable('a') }

// sl returns the backing slice of a dense tensor whose dtype is known to be T.
func sl[T Float](d *tensor.Dense) []T { return d.Data().([]T) }

func isF32(d *tensor.Dense) bool { return d.Dtype() == tensor.Float32 }
