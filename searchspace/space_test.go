package searchspace

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDefaultSpaceShape(t *testing.T) {
	sp := DefaultSpace()
	if err := sp.Validate(); err != nil {
		t.Fatal(err)
	}
	card := sp.Cardinalities()
	// 6 stages x {block 2, kernel 2, expand 3, repeats}; stage 1 has base 1,
	// so repeats {1, 2}; the others {r-1, r, r+1}.
	want := []int{2, 2, 3, 2, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3}
	if !slices.Equal(card, want) {
		t.Fatalf("cardinalities %v, want %v", card, want)
	}
	if got := sp.Size().String(); got != "1451188224" { // 2*2*3*2 * (2*2*3*3)^5
		size := int64(1)
		for _, c := range want {
			size *= int64(c)
		}
		t.Fatalf("size %s, product of cardinalities %d", got, size)
	}
	ds := sp.Decisions()
	if ds[0].Stage != 1 || ds[0].Field != "block" || ds[3].Field != "repeats" || ds[3].Options[1] != "2" {
		t.Fatalf("decisions %+v", ds[:4])
	}
	withSE := NewSpace(sp.Backbone, true)
	if n := len(withSE.Cardinalities()); n != len(want)+6 {
		t.Fatalf("with SE: %d decisions", n)
	}
}

func TestDecodeBackboneDecisions(t *testing.T) {
	// The backbone itself is in the space and decodes back to itself.
	sp := DefaultSpace()
	d, err := sp.Encode(sp.Backbone)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sp.Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	b := sp.Backbone.Clone()
	b.Name = ""
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("decode(encode(backbone)) differs:\n%v\n%v", a.BlockStrings(), b.BlockStrings())
	}
}

func TestDecodeEncodeProperty(t *testing.T) {
	for _, se := range []bool{false, true} {
		sp := NewSpace(DefaultSpace().Backbone, se)
		r := rand.New(rand.NewPCG(7, uint64(len(sp.Stages))))
		for i := 0; i < 300; i++ {
			d := sp.Sample(r)
			a, err := sp.Decode(d)
			if err != nil {
				t.Fatal(err)
			}
			for j, st := range a.Stages {
				if !se && (st.Block == FusedMBConv) != (st.SE == 0) {
					t.Fatalf("stage %d: SE %v on %v", j+1, st.SE, st.Block)
				}
			}
			back, err := sp.Encode(a)
			if err != nil || !slices.Equal(back, d) {
				t.Fatalf("encode(decode(%v)) = %v, %v", d, back, err)
			}
			m := sp.Mutate(d, r)
			diff := 0
			for k := range d {
				if d[k] != m[k] {
					diff++
				}
			}
			if diff != 1 {
				t.Fatalf("mutation changed %d decisions", diff)
			}
			if _, err := sp.Decode(m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSampleSeeded(t *testing.T) {
	sp := DefaultSpace()
	a := sp.Sample(rand.New(rand.NewPCG(3, 4)))
	b := sp.Sample(rand.New(rand.NewPCG(3, 4)))
	c := sp.Sample(rand.New(rand.NewPCG(5, 4)))
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatalf("seeding: %v %v %v", a, b, c)
	}
}

func TestDecodeErrors(t *testing.T) {
	sp := DefaultSpace()
	if _, err := sp.Decode([]int{0}); err == nil || !strings.Contains(err.Error(), "got 1 decisions, the space has 24") {
		t.Fatalf("got %v", err)
	}
	d := make([]int, 24)
	d[2] = 3
	if _, err := sp.Decode(d); err == nil || !strings.Contains(err.Error(), "decision 3 = 3, want an option in [0, 2]") {
		t.Fatalf("got %v", err)
	}
	other, _ := Reference("efficientnetv2-s")
	if _, err := sp.Encode(other); err == nil || !strings.Contains(err.Error(), "stage 1") {
		t.Fatalf("got %v", err)
	}
}

func TestSpaceJSON(t *testing.T) {
	sp := NewSpace(DefaultSpace().Backbone, true)
	data, err := EncodeSpace(sp)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSpace(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sp, back) {
		t.Fatalf("round trip differs")
	}
	bad := strings.Replace(string(data), `"kernels": [
        3,
        5
      ]`, `"kernels": [3, 4]`, 1)
	if _, err := DecodeSpace([]byte(bad)); err == nil || !strings.Contains(err.Error(), "stage 1: kernels = 4") {
		t.Fatalf("got %v", err)
	}
	if _, err := DecodeSpace([]byte(`{"format":"effnas/space","version":1,"stages":[]}`)); err == nil || !strings.Contains(err.Error(), "backbone") {
		t.Fatalf("got %v", err)
	}
}
