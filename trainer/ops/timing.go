package ops

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorgonia.org/tensor"
)

// Per-op timing (off by default): when on, every op of this package records
// the wall time of its kernel, by op type and output shape. It costs two
// clock reads and a map update per op execution; gorgonia's own ops (Add,
// Mul, HadamardProd, ...) are not seen.

var (
	timingOn atomic.Bool
	timingMu sync.Mutex
	timings  = map[opKey]*OpTime{}
)

type opKey struct{ op, shape string }

// OpTime is the time spent in one op type at one output shape.
type OpTime struct {
	Op    string        `json:"op"` // type name, e.g. "Conv2DGradW"
	Shape string        `json:"shape"`
	Calls int           `json:"calls"`
	Total time.Duration `json:"total"`
	// MACs is the number of multiply-adds done in Total (convolutions
	// only; 0 for the other ops), so 2*MACs/Total is the achieved FLOP rate.
	MACs int64 `json:"macs"`
}

// GFLOPS is the achieved rate of a convolution op (0 for other ops).
func (t OpTime) GFLOPS() float64 {
	if t.MACs == 0 || t.Total <= 0 {
		return 0
	}
	return 2 * float64(t.MACs) / t.Total.Seconds() / 1e9
}

// SetTiming switches per-op timing on or off.
func SetTiming(on bool) { timingOn.Store(on) }

// ResetTimings forgets the recorded times.
func ResetTimings() {
	timingMu.Lock()
	timings = map[opKey]*OpTime{}
	timingMu.Unlock()
}

// Timings returns the recorded times, largest total first.
func Timings() []OpTime {
	timingMu.Lock()
	out := make([]OpTime, 0, len(timings))
	for _, t := range timings {
		out = append(out, *t)
	}
	timingMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Op+out[i].Shape < out[j].Op+out[j].Shape
	})
	return out
}

// opName is the op's String() up to its attributes.
func opName(s string) string {
	if i := strings.IndexAny(s, "{("); i > 0 {
		return s[:i]
	}
	return s
}

func record(op kernel, out *tensor.Dense, in []*tensor.Dense, d time.Duration) {
	shape := out.Shape()
	k := opKey{opName(op.String()), shapeString(shape)}
	var macs int64
	if m, ok := op.(macCounter); ok {
		macs = m.macs(out, in)
	}
	timingMu.Lock()
	t := timings[k]
	if t == nil {
		t = &OpTime{Op: k.op, Shape: k.shape}
		timings[k] = t
	}
	t.Calls++
	t.Total += d
	t.MACs += macs
	timingMu.Unlock()
}

func shapeString(s []int) string {
	var b strings.Builder
	for i, v := range s {
		if i > 0 {
			b.WriteByte('x')
		}
		b.WriteString(itoa(v))
	}
	return b.String()
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return string(buf[i:])
}

// macCounter is implemented by the ops whose work is multiply-adds
// (convolutions), so that timings can report an achieved rate.
type macCounter interface {
	macs(out *tensor.Dense, in []*tensor.Dense) int64
}
