// Package safetensors reads and writes the safetensors format, the open
// tensor file format of Hugging Face's safetensors library, which PyTorch,
// JAX, TensorFlow and many other tools read.
//
// # Layout
//
// A file is, in order:
//
//	n       8 bytes, unsigned little-endian: the length of the header
//	header  n bytes of UTF-8 JSON, an object: for every tensor its name ->
//	        {"dtype": "F32", "shape": [3, 3, 16, 32], "data_offsets": [b, e]},
//	        and optionally "__metadata__" -> an object of string values;
//	        the writer pads it with spaces so the data starts at a multiple
//	        of 8 bytes
//	data    the tensors' raw little-endian values, row-major (C order);
//	        tensor t occupies bytes [b, e) of this buffer
//
// The data buffer holds the tensors back to back: sorted by offset, the
// first starts at 0, each starts where the previous ends, the last ends at
// the end of the file, and e-b equals the element count times the dtype's
// size. This package writes tensors in the order they were added (the
// reference writer sorts them by alignment and name; readers accept any
// order), the metadata first with its keys sorted, so equal files encode
// to equal bytes. Reading enforces every rule above and names what is
// wrong.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// ErrFormat marks data that is not a valid safetensors file; errors wrap it
// with what is wrong.
var ErrFormat = errors.New("invalid safetensors file")

// MaxHeader is the largest header accepted, as in the reference
// implementation (100 MB).
const MaxHeader = 100_000_000

// metadataKey is the header entry that holds the free-form metadata.
const metadataKey = "__metadata__"

// Dtype is an element type, spelled as in the format.
type Dtype string

// The element types of the format.
const (
	Bool   Dtype = "BOOL"
	U8     Dtype = "U8"
	I8     Dtype = "I8"
	F8E5M2 Dtype = "F8_E5M2"
	F8E4M3 Dtype = "F8_E4M3"
	I16    Dtype = "I16"
	U16    Dtype = "U16"
	F16    Dtype = "F16"
	BF16   Dtype = "BF16"
	I32    Dtype = "I32"
	U32    Dtype = "U32"
	F32    Dtype = "F32"
	F64    Dtype = "F64"
	I64    Dtype = "I64"
	U64    Dtype = "U64"
)

var dtypeSizes = map[Dtype]int{Bool: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8}

// Size is the number of bytes of one element, 0 for an unknown dtype.
func (d Dtype) Size() int { return dtypeSizes[d] }

func dtypeList() string {
	names := make([]string, 0, len(dtypeSizes))
	for d := range dtypeSizes {
		names = append(names, string(d))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Tensor is one tensor: its element type, shape and raw little-endian
// values in row-major order. A shape of length 0 is a scalar (one element).
type Tensor struct {
	Dtype Dtype
	Shape []int
	Data  []byte
}

// Elements is the number of elements the shape holds.
func (t Tensor) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// check reports a tensor whose dtype, shape or data length is wrong.
func (t Tensor) check() error {
	size := t.Dtype.Size()
	if size == 0 {
		return fmt.Errorf("dtype %q unknown (allowed: %s)", t.Dtype, dtypeList())
	}
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("shape %v has a negative dimension", t.Shape)
		}
		if d > 0 && n > math.MaxInt/size/d {
			return fmt.Errorf("shape %v is too large", t.Shape)
		}
		n *= d
	}
	if len(t.Data) != n*size {
		return fmt.Errorf("%s %v needs %d bytes, the data has %d", t.Dtype, t.Shape, n*size, len(t.Data))
	}
	return nil
}

// FromFloat32 makes an F32 tensor of the given shape from v (copied).
func FromFloat32(shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Dtype: F32, Shape: slices.Clone(shape), Data: b}
}

// FromFloat64 makes an F64 tensor of the given shape from v (copied).
func FromFloat64(shape []int, v []float64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return Tensor{Dtype: F64, Shape: slices.Clone(shape), Data: b}
}

// FromInt64 makes an I64 tensor of the given shape from v (copied).
func FromInt64(shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Dtype: I64, Shape: slices.Clone(shape), Data: b}
}

// Float32s returns the values of an F32 tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if t.Dtype != F32 {
		return nil, fmt.Errorf("dtype %s, want F32", t.Dtype)
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Float64s returns the values of an F64 tensor, or of an F32 tensor widened
// (exactly) to float64.
func (t Tensor) Float64s() ([]float64, error) {
	switch t.Dtype {
	case F64:
		v := make([]float64, len(t.Data)/8)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return v, nil
	case F32:
		f, _ := t.Float32s()
		v := make([]float64, len(f))
		for i, x := range f {
			v[i] = float64(x)
		}
		return v, nil
	}
	return nil, fmt.Errorf("dtype %s, want F64 or F32", t.Dtype)
}

// Int64s returns the values of an I64 tensor.
func (t Tensor) Int64s() ([]int64, error) {
	if t.Dtype != I64 {
		return nil, fmt.Errorf("dtype %s, want I64", t.Dtype)
	}
	v := make([]int64, len(t.Data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// File is a set of named tensors and string metadata. The zero value is an
// empty file ready to use.
type File struct {
	// Metadata is the "__metadata__" object of the header (nil: none).
	Metadata map[string]string

	names   []string
	tensors map[string]Tensor
}

// Add appends a tensor. Names must be unique, non-empty and not
// "__metadata__"; the dtype must be known and the data length must match
// the shape. The data is not copied.
func (f *File) Add(name string, t Tensor) error {
	switch {
	case name == "":
		return fmt.Errorf("safetensors: empty tensor name")
	case name == metadataKey:
		return fmt.Errorf("safetensors: %q is reserved for the metadata", name)
	}
	if _, dup := f.tensors[name]; dup {
		return fmt.Errorf("safetensors: tensor %q added twice", name)
	}
	if err := t.check(); err != nil {
		return fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	if f.tensors == nil {
		f.tensors = map[string]Tensor{}
	}
	f.names = append(f.names, name)
	f.tensors[name] = t
	return nil
}

// Names lists the tensors in the order of their data.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Len is the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Get returns the named tensor or an error that names it.
func (f *File) Get(name string) (Tensor, error) {
	t, ok := f.tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: no tensor %q", name)
	}
	return t, nil
}

type entry struct {
	Dtype       Dtype    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// header returns the padded header: metadata first (sorted keys), then the
// tensors in data order.
func (f *File) header() ([]byte, error) {
	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			h.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		h.Write(kb)
		h.WriteByte(':')
	}
	if len(f.Metadata) > 0 {
		key(metadataKey)
		mb, err := json.Marshal(f.Metadata) // encoding/json sorts map keys
		if err != nil {
			return nil, err
		}
		h.Write(mb)
	}
	var off uint64
	for _, n := range f.names {
		t := f.tensors[n]
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		e := entry{Dtype: t.Dtype, Shape: shape, DataOffsets: []uint64{off, off + uint64(len(t.Data))}}
		off += uint64(len(t.Data))
		eb, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		key(n)
		h.Write(eb)
	}
	h.WriteByte('}')
	for (8+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeader {
		return nil, fmt.Errorf("safetensors: header of %d bytes exceeds the format's limit of %d", h.Len(), MaxHeader)
	}
	return h.Bytes(), nil
}

// WriteTo encodes the file to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	h, err := f.header()
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(h)))
	bw.Write(n[:])
	bw.Write(h)
	total := int64(8 + len(h))
	for _, name := range f.names {
		d := f.tensors[name].Data
		bw.Write(d)
		total += int64(len(d))
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return total, nil
}

// Encode returns the file's bytes.
func (f *File) Encode() ([]byte, error) {
	var b bytes.Buffer
	if _, err := f.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes the file to path atomically (mode 0644): to a temporary
// file in the same directory, synced, then renamed into place, so a crash
// never leaves a half-written file under path.
func WriteFile(path string, f *File) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := f.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadFile reads and checks a file; errors start with the path.
func ReadFile(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decode parses a whole file. The tensors' Data slices alias raw.
func Decode(raw []byte) (*File, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	if len(raw) < 8 {
		return nil, bad("%d bytes, shorter than the 8-byte header length", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw)
	switch {
	case n > MaxHeader:
		return nil, bad("header length %d exceeds the format's limit of %d bytes", n, MaxHeader)
	case n > uint64(len(raw)-8):
		return nil, bad("header length %d runs past the end of the file (%d bytes after the length): truncated?", n, len(raw)-8)
	case n < 2:
		return nil, bad("header length %d: too short for a JSON object", n)
	}
	hdr, data := raw[8:8+n], raw[8+n:]
	if hdr[0] != '{' {
		return nil, bad("header starts with %q, want '{' (a JSON object)", hdr[0])
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, bad("header: %v", err)
	}
	f := &File{}
	seen := map[string]bool{}
	type located struct {
		name string
		e    entry
	}
	var all []located
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("header: %v", err)
		}
		name := tok.(string) // object keys are strings
		if seen[name] {
			return nil, bad("header: %q appears twice", name)
		}
		seen[name] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, bad("header: value of %q: %v", name, err)
		}
		if name == metadataKey {
			if err := json.Unmarshal(val, &f.Metadata); err != nil {
				return nil, bad("header: __metadata__ must be an object of string values: %v", err)
			}
			continue
		}
		var e entry
		vd := json.NewDecoder(bytes.NewReader(val))
		vd.DisallowUnknownFields()
		if err := vd.Decode(&e); err != nil {
			return nil, bad("tensor %q: want {\"dtype\", \"shape\", \"data_offsets\"}: %v", name, err)
		}
		var fields map[string]json.RawMessage
		json.Unmarshal(val, &fields)
		for _, k := range []string{"dtype", "shape", "data_offsets"} {
			if _, ok := fields[k]; !ok {
				return nil, bad("tensor %q: no %q", name, k)
			}
		}
		if e.Shape == nil {
			return nil, bad("tensor %q: shape is null, want a list of dimensions", name)
		}
		if len(e.DataOffsets) != 2 {
			return nil, bad("tensor %q: data_offsets has %d numbers, want 2 (begin, end)", name, len(e.DataOffsets))
		}
		all = append(all, located{name, e})
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("header: %v", err)
	}
	if rest := bytes.TrimLeft(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, bad("header: unexpected %q after the JSON object", rest[:min(len(rest), 16)])
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].e.DataOffsets[0] < all[j].e.DataOffsets[0] })
	var pos uint64
	for _, l := range all {
		b, e := l.e.DataOffsets[0], l.e.DataOffsets[1]
		switch {
		case e < b:
			return nil, bad("tensor %q: data_offsets [%d, %d] end before they begin", l.name, b, e)
		case b != pos:
			if b < pos {
				return nil, bad("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", l.name, b, e, pos)
			}
			return nil, bad("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", l.name, b, e, pos)
		case e > uint64(len(data)):
			return nil, bad("tensor %q: data_offsets [%d, %d] run past the end of the data (%d bytes): truncated?", l.name, b, e, len(data))
		}
		pos = e
		t := Tensor{Dtype: l.e.Dtype, Shape: l.e.Shape, Data: data[b:e:e]}
		if err := t.check(); err != nil {
			return nil, bad("tensor %q: %v", l.name, err)
		}
		f.names = append(f.names, l.name)
		if f.tensors == nil {
			f.tensors = map[string]Tensor{}
		}
		f.tensors[l.name] = t
	}
	if pos != uint64(len(data)) {
		return nil, bad("%d bytes of data after the last tensor (it ends at %d of %d)", uint64(len(data))-pos, pos, len(data))
	}
	return f, nil
}
