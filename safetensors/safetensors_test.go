package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustAdd(t *testing.T, f *File, name string, x Tensor) {
	t.Helper()
	if err := f.Add(name, x); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	f := &File{Metadata: map[string]string{"arch": `{"format":"effnas/arch"}`, "code_version": "abc"}}
	w := []float32{1.5, -2, float32(math.Inf(1)), 3.25e-9, 0, -0.0, 7, 8, 9, 10, 11, 12}
	mustAdd(t, f, "stem.conv.weight", FromFloat32([]int{1, 2, 3, 2}, w))
	mustAdd(t, f, "stem.bn.running_var", FromFloat64([]int{3}, []float64{1, 0.1, math.Pi}))
	mustAdd(t, f, "opt.step", FromInt64(nil, []int64{-42}))
	mustAdd(t, f, "empty", FromFloat32([]int{0, 4}, nil))
	raw, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if hl := binary.LittleEndian.Uint64(raw); (8+hl)%8 != 0 {
		t.Errorf("data starts at %d, not a multiple of 8", 8+hl)
	}
	g, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Names(), f.Names()) {
		t.Errorf("names %v, want %v", g.Names(), f.Names())
	}
	if g.Metadata["arch"] != f.Metadata["arch"] || g.Metadata["code_version"] != "abc" || len(g.Metadata) != 2 {
		t.Errorf("metadata %v", g.Metadata)
	}
	x, _ := g.Tensor("stem.conv.weight")
	got, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range w {
		if math.Float32bits(got[i]) != math.Float32bits(w[i]) {
			t.Errorf("element %d: %v, want %v", i, got[i], w[i])
		}
	}
	if !slices.Equal(x.Shape, []int{1, 2, 3, 2}) {
		t.Errorf("shape %v", x.Shape)
	}
	v, _ := g.Tensor("stem.bn.running_var")
	if d, _ := v.Float64s(); !slices.Equal(d, []float64{1, 0.1, math.Pi}) {
		t.Errorf("F64 values %v", d)
	}
	s, _ := g.Tensor("opt.step")
	if d, _ := s.Int64s(); len(s.Shape) != 0 || !slices.Equal(d, []int64{-42}) {
		t.Errorf("scalar %v %v", s.Shape, d)
	}
	e, _ := g.Tensor("empty")
	if e.Elements() != 0 || len(e.Data) != 0 || !slices.Equal(e.Shape, []int{0, 4}) {
		t.Errorf("empty tensor %v", e)
	}
	again, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, raw) {
		t.Error("re-encoding a decoded file changed its bytes")
	}
	if _, err := x.Float64s(); err != nil {
		t.Errorf("F32 widening: %v", err)
	}
	if _, err := v.Float32s(); err == nil || !strings.Contains(err.Error(), "F64") {
		t.Errorf("Float32s of an F64 tensor: %v", err)
	}
}

// TestHeaderLayout pins the bytes of a small file built by hand from the
// format's description.
func TestHeaderLayout(t *testing.T) {
	f := &File{Metadata: map[string]string{"z": "last", "a": "first"}}
	mustAdd(t, f, "w", FromFloat32([]int{2}, []float32{1, -2}))
	mustAdd(t, f, "n", FromInt64([]int{}, []int64{7}))
	got, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	json := `{"__metadata__":{"a":"first","z":"last"},` +
		`"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`
	// 8 + header must be a multiple of 8: pad the JSON with spaces
	hdr := json + strings.Repeat(" ", (8-len(json)%8)%8)
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(hdr)))
	want = append(want, hdr...)
	want = append(want, 0, 0, 0x80, 0x3f) // 1.0f
	want = append(want, 0, 0, 0, 0xc0)    // -2.0f
	want = append(want, 7, 0, 0, 0, 0, 0, 0, 0)
	if !bytes.Equal(got, want) {
		t.Errorf("encoded\n%q\nwant\n%q", got, want)
	}
}

// TestReferenceOrder reads a file laid out as the reference writer lays it
// out (tensors sorted by alignment, then name, so the header's key order
// differs from the data order; no metadata).
func TestReferenceOrder(t *testing.T) {
	json := `{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`
	raw := binary.LittleEndian.AppendUint64(nil, uint64(len(json)))
	raw = append(raw, json...)
	raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(2.5))
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(-1))
	f, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), []string{"a", "b"}) || f.Metadata != nil {
		t.Errorf("names %v (want data order a, b), metadata %v", f.Names(), f.Metadata)
	}
	a, _ := f.Tensor("a")
	b, _ := f.Tensor("b")
	av, _ := a.Float64s()
	bv, _ := b.Float32s()
	if av[0] != 2.5 || bv[0] != -1 {
		t.Errorf("values %v %v", av, bv)
	}
}

func file(header string, data int) []byte {
	raw := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	raw = append(raw, header...)
	return append(raw, make([]byte, data)...)
}

func TestDecodeErrors(t *testing.T) {
	good, _ := (&File{}).Encode()
	ok := &File{}
	mustAdd(t, ok, "w", FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4}))
	okRaw, _ := ok.Encode()
	huge := binary.LittleEndian.AppendUint64(nil, MaxHeader+1)
	ent := func(s string) string { return `{"w":` + s + `}` }
	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "0 bytes, shorter than the 8-byte header length"},
		{"short", good[:5], "5 bytes"},
		{"truncated header", okRaw[:20], "runs past the end of the file"},
		{"huge header", huge, "exceeds the format's limit"},
		{"not an object", file(`["w"]`, 0), "want '{'"},
		{"bad json", file(`{"w":{"dtype":"F32",}}`, 0), `value of "w"`},
		{"unclosed", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}`, 4), "header"},
		{"trailing", file(`{} x`, 0), "after the JSON object"},
		{"unknown dtype", file(ent(`{"dtype":"F12","shape":[1],"data_offsets":[0,4]}`), 4), `"F12" unknown`},
		{"size mismatch", file(ent(`{"dtype":"F32","shape":[3],"data_offsets":[0,8]}`), 8), "F32 [3] needs 12 bytes, the data has 8"},
		{"gap", file(ent(`{"dtype":"F32","shape":[1],"data_offsets":[4,8]}`), 8), "gap after byte 0"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `"b"`},
		{"past end", file(ent(`{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`), 4), "run past the end of the data (4 bytes)"},
		{"reversed", file(ent(`{"dtype":"F32","shape":[0],"data_offsets":[4,0]}`), 4), "end before they begin"},
		{"extra data", file(ent(`{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`), 12), "8 bytes of data after the last tensor"},
		{"duplicate", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `"w" appears twice`},
		{"metadata not strings", file(`{"__metadata__":{"epochs":3}}`, 0), "object of string values"},
		{"offsets count", file(ent(`{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}`), 4), "has 3 numbers, want 2"},
		{"missing shape", file(ent(`{"dtype":"F32","data_offsets":[0,4]}`), 4), `no "shape"`},
		{"null shape", file(ent(`{"dtype":"F32","shape":null,"data_offsets":[0,4]}`), 4), "shape is null"},
		{"unknown field", file(ent(`{"dtype":"F32","shape":[1],"data_offsets":[0,4],"strides":[1]}`), 4), "strides"},
		{"negative dim", file(ent(`{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}`), 0), "negative dimension"},
	} {
		_, err := Decode(c.raw)
		if err == nil {
			t.Errorf("%s: decoded without error", c.name)
			continue
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v does not wrap ErrFormat", c.name, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
		}
	}
}

func TestAddErrors(t *testing.T) {
	f := &File{}
	mustAdd(t, f, "a", FromFloat32([]int{1}, []float32{1}))
	for _, c := range []struct {
		name string
		x    Tensor
		want string
	}{
		{"a", FromFloat32([]int{1}, []float32{1}), "added twice"},
		{"", FromFloat32([]int{1}, []float32{1}), "empty tensor name"},
		{"__metadata__", FromFloat32([]int{1}, []float32{1}), "reserved"},
		{"b", FromFloat32([]int{2, 2}, []float32{1}), "F32 [2 2] needs 16 bytes, the data has 4"},
		{"c", Tensor{Dtype: "Q4", Shape: []int{1}, Data: []byte{0}}, `"Q4" unknown`},
	} {
		if err := f.Add(c.name, c.x); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%q): %v, want an error saying %q", c.name, err, c.want)
		}
	}
	if f.Len() != 1 {
		t.Errorf("%d tensors after failed adds, want 1", f.Len())
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	f := &File{Metadata: map[string]string{"k": "v"}}
	mustAdd(t, f, "x", FromFloat64([]int{2}, []float64{1, 2}))
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if x, err := g.Get("x"); err != nil || x.Elements() != 2 {
		t.Errorf("read back %v %v", x, err)
	}
	if _, err := g.Get("y"); err == nil || !strings.Contains(err.Error(), `"y"`) {
		t.Errorf("Get of a missing tensor: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the written one", len(entries))
	}
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:len(raw)-3], 0o644)
	if _, err := ReadFile(path); err == nil || !strings.HasPrefix(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: %v", err)
	}
}
