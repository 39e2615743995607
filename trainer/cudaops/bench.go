package cudaops

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/effnas/effnas/trainer/cuda"
)

// BenchResult is the device time of one op (forward and backward) at one
// shape, with this package's kernels and, where cuDNN can run the same op,
// with cuDNN.
type BenchResult struct {
	Op    string
	Shape string
	Ours  time.Duration // median per call of forward + backward
	CuDNN time.Duration // 0 when not measured
	// CuDNNErr is why cuDNN could not run the op (it does not stop the
	// benchmark).
	CuDNNErr error
	// Bytes is a lower bound of the memory traffic of Ours (each input
	// read and each output written once), for the achieved bandwidth.
	Bytes int64
}

// BenchOptions size the benchmark.
type BenchOptions struct {
	Reps int // timed repetitions (median); 0 means 20
	// Shapes replaces the default shapes (bench-dw at batch 64 and 256,
	// efficientnetv2-b0 at 224 with batch 64).
	Depthwise []DWGeom
	BN        [][2]int // rows, channels
}

// DefaultDepthwise are the depthwise layers of bench-dw (batch 64 and
// 256, 28x28 input) and of efficientnetv2-b0 at 224 (batch 64).
var DefaultDepthwise = []DWGeom{
	{N: 64, H: 14, W: 14, C: 128, KH: 3, KW: 3, Stride: 2},
	{N: 64, H: 7, W: 7, C: 288, KH: 3, KW: 3, Stride: 1},
	{N: 256, H: 14, W: 14, C: 128, KH: 3, KW: 3, Stride: 2},
	{N: 256, H: 7, W: 7, C: 288, KH: 3, KW: 3, Stride: 1},
	{N: 64, H: 28, W: 28, C: 192, KH: 3, KW: 3, Stride: 2},
	{N: 64, H: 14, W: 14, C: 576, KH: 3, KW: 3, Stride: 1},
	{N: 64, H: 14, W: 14, C: 672, KH: 3, KW: 3, Stride: 2},
	{N: 64, H: 7, W: 7, C: 1152, KH: 3, KW: 3, Stride: 1},
}

// DefaultBN are BatchNorm+SiLU layers (rows = batch*H*W, channels) of the
// same networks.
var DefaultBN = [][2]int{{64 * 28 * 28, 16}, {256 * 28 * 28, 16}, {64 * 7 * 7, 288}, {64 * 112 * 112, 32}, {64 * 14 * 14, 576}}

// Bench times the depthwise convolutions (ours against cuDNN's grouped
// convolution) and the fused BatchNorm+SiLU passes on the device.
func Bench(c *cuda.Ctx, k *Kernels, opt BenchOptions) ([]BenchResult, error) {
	reps := opt.Reps
	if reps <= 0 {
		reps = 20
	}
	dws := opt.Depthwise
	if dws == nil {
		dws = DefaultDepthwise
	}
	bns := opt.BN
	if bns == nil {
		bns = DefaultBN
	}
	var out []BenchResult
	var bufs []cuda.Buffer
	defer func() {
		for _, b := range bufs {
			c.Free(b)
		}
	}()
	alloc := func(n int) (cuda.Buffer, error) {
		b, err := c.Alloc(n)
		if err == nil {
			bufs = append(bufs, b)
			err = c.Fill(b, 0.5)
		}
		return b, err
	}
	for _, g := range dws {
		nx, nw, ny, err := g.sizes("Bench")
		if err != nil {
			return out, err
		}
		x, err := alloc(nx)
		if err != nil {
			return out, err
		}
		w, _ := alloc(nw)
		y, _ := alloc(ny)
		dx, _ := alloc(nx)
		dw, err := alloc(nw)
		if err != nil {
			return out, err
		}
		r := BenchResult{Op: fmt.Sprintf("depthwise k%d s%d fwd+dx+dw", g.KH, g.Stride), Shape: shapeStr(g.N, g.H, g.W, g.C),
			Bytes: 4 * int64(2*nx+3*ny+2*nw+nx+ny)}
		r.Ours, err = median(c, reps, func() error {
			if err := k.DepthwiseForward(c, y, x, w, g); err != nil {
				return err
			}
			if err := k.DepthwiseGradX(c, dx, w, y, g); err != nil {
				return err
			}
			return k.DepthwiseGradW(c, dw, x, y, g)
		})
		if err != nil {
			return out, err
		}
		cv, err := k.NewConv(c, ConvShape{N: g.N, H: g.H, W: g.W, Cin: g.C, KH: g.KH, KW: g.KW, Stride: g.Stride, Depthwise: true})
		if err == nil {
			r.CuDNN, err = median(c, reps, func() error {
				if err := k.ConvForward(c, cv, y, x, w); err != nil {
					return err
				}
				if err := k.ConvGradX(c, cv, dx, w, y); err != nil {
					return err
				}
				return k.ConvGradW(c, cv, dw, x, y)
			})
			cv.Free(c)
		}
		if err != nil {
			r.CuDNN, r.CuDNNErr = 0, err
		}
		out = append(out, r)
		for _, b := range bufs {
			c.Free(b)
		}
		bufs = nil
	}
	for _, rc := range bns {
		rows, ch := rc[0], rc[1]
		n := rows * ch
		x, err := alloc(n)
		if err != nil {
			return out, err
		}
		y, _ := alloc(n)
		dx, _ := alloc(n)
		gz, _ := alloc(n)
		gamma, _ := alloc(ch)
		beta, _ := alloc(ch)
		dg, _ := alloc(ch)
		db, err := alloc(ch)
		if err != nil {
			return out, err
		}
		bn, err := k.NewBatchNorm(c, ch, 0.9, 1e-3)
		if err != nil {
			return out, err
		}
		r := BenchResult{Op: "BatchNorm+SiLU train fwd+bwd", Shape: shapeStr(rows, ch), Bytes: 4 * int64(n) * 8}
		r.Ours, err = median(c, reps, func() error {
			if err := k.BNForward(c, bn, BNTrain, true, y, x, gamma, beta, rows); err != nil {
				return err
			}
			return k.BNBackward(c, bn, true, dx, dg, db, y, x, gamma, gz, rows)
		})
		bn.Free(c)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		for _, b := range bufs {
			c.Free(b)
		}
		bufs = nil
	}
	return out, nil
}

// median times fn reps times (after one untimed call) with events.
func median(c *cuda.Ctx, reps int, fn func() error) (time.Duration, error) {
	if err := fn(); err != nil {
		return 0, err
	}
	ts := make([]time.Duration, reps)
	for i := range ts {
		d, err := c.Time(fn)
		if err != nil {
			return 0, err
		}
		ts[i] = d
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts[reps/2], nil
}

// PrintBench writes the benchmark as a table.
func PrintBench(w io.Writer, rs []BenchResult) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tshape\tours ms\tGB/s (lower bound)\tcuDNN ms\tours/cuDNN")
	for _, r := range rs {
		gbs := float64(r.Bytes) / r.Ours.Seconds() / 1e9
		cud, ratio := "-", "-"
		if r.CuDNN > 0 {
			cud = fmt.Sprintf("%.3f", r.CuDNN.Seconds()*1e3)
			ratio = fmt.Sprintf("%.2f", r.Ours.Seconds()/r.CuDNN.Seconds())
		}
		if r.CuDNNErr != nil {
			cud = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.0f\t%s\t%s\n", r.Op, r.Shape, r.Ours.Seconds()*1e3, gbs, cud, ratio)
	}
	tw.Flush()
	for _, r := range rs {
		if r.CuDNNErr != nil {
			fmt.Fprintf(w, "cuDNN %s %s: %v\n", r.Op, r.Shape, r.CuDNNErr)
		}
	}
}
