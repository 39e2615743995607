package controller

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// State format: every state starts with a common header
//
//	magic "EFNC" | version byte | strategy name | cardinalities | config
//
// followed by a strategy-specific body. All integers are little-endian
// uint64 (or uvarint lengths), floats are their IEEE-754 bits, so that a
// round trip is exact. The config block holds the effective options that
// the state depends on; Restore rejects a state whose header does not match
// the receiving controller.
const (
	stateMagic   = "EFNC"
	stateVersion = 1
)

type encoder struct{ b []byte }

func (e *encoder) u8(v byte)      { e.b = append(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) int(v int)      { e.u64(uint64(int64(v))) }
func (e *encoder) f64(v float64)  { e.u64(math.Float64bits(v)) }
func (e *encoder) length(n int)   { e.b = binary.AppendUvarint(e.b, uint64(n)) }
func (e *encoder) bytes(v []byte) { e.length(len(v)); e.b = append(e.b, v...) }
func (e *encoder) str(v string)   { e.bytes([]byte(v)) }
func (e *encoder) ints(v []int) {
	e.length(len(v))
	for _, x := range v {
		e.int(x)
	}
}
func (e *encoder) f64s(v []float64) {
	e.length(len(v))
	for _, x := range v {
		e.f64(x)
	}
}
func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// decoder reads what encoder wrote. The first error sticks; every read
// after it returns zero values, so callers check err once at the end (or
// before using a length).
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadState}, args...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated (need %d bytes, %d left)", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	v := d.take(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) u64() uint64 {
	v := d.take(8)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

func (d *decoder) int() int     { return int(int64(d.u64())) }
func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// length reads a count of items that take at least itemSize bytes each, and
// rejects counts that cannot fit in the remaining input.
func (d *decoder) length(itemSize int) int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail("bad length")
		return 0
	}
	d.b = d.b[k:]
	if n > uint64(len(d.b)/max(itemSize, 1)) {
		d.fail("length %d exceeds the remaining %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.length(1)
	return append([]byte(nil), d.take(n)...)
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) ints() []int {
	n := d.length(8)
	v := make([]int, n)
	for i := range v {
		v[i] = d.int()
	}
	return v
}

func (d *decoder) f64s() []float64 {
	n := d.length(8)
	v := make([]float64, n)
	for i := range v {
		v[i] = d.f64()
	}
	return v
}

func (d *decoder) boolean() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// header writes the common state header.
func writeHeader(e *encoder, name string, cards []int, config []float64) {
	e.b = append(e.b, stateMagic...)
	e.u8(stateVersion)
	e.str(name)
	e.ints(cards)
	e.f64s(config)
}

// readHeader reads and checks the common state header.
func readHeader(d *decoder, name string, cards []int, config []float64) {
	if m := d.take(len(stateMagic)); d.err == nil && string(m) != stateMagic {
		d.fail("bad magic %q", m)
	}
	if v := d.u8(); d.err == nil && v != stateVersion {
		d.fail("unsupported version %d (want %d)", v, stateVersion)
	}
	if n := d.str(); d.err == nil && n != name {
		d.fail("state of strategy %q, controller is %q", n, name)
	}
	if c := d.ints(); d.err == nil && !equalInts(c, cards) {
		d.fail("state for cardinalities %v, controller has %v", c, cards)
	}
	if c := d.f64s(); d.err == nil && !equalFloats(c, config) {
		d.fail("state for options %v, controller has %v", c, config)
	}
}

func writeRNG(e *encoder, src *rand.PCG) error {
	b, err := src.MarshalBinary()
	if err != nil {
		return err
	}
	e.bytes(b)
	return nil
}

// readRNG decodes a PCG state into a fresh source (the caller installs it
// only when the whole state decoded).
func readRNG(d *decoder) *rand.PCG {
	b := d.bytes()
	if d.err != nil {
		return nil
	}
	src := new(rand.PCG)
	if err := src.UnmarshalBinary(b); err != nil {
		d.fail("rng: %v", err)
		return nil
	}
	return src
}

// readDecisions reads a decision list and checks it against cards.
func readDecisions(d *decoder, cards []int) []int {
	v := d.ints()
	if d.err == nil {
		if err := checkDecisions(cards, v); err != nil {
			d.fail("decision list: %v", err)
		}
	}
	return v
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
