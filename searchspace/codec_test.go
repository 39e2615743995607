package searchspace

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
)

func TestBlockStringRoundTripOfficial(t *testing.T) {
	for _, name := range ReferenceNames() {
		def := references[name]
		for _, s := range def.blocks {
			st, err := ParseBlockString(s)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if got := EncodeBlockString(st); got != s {
				t.Errorf("round trip %q -> %q", s, got)
			}
		}
	}
}

func TestParseBlockStringFields(t *testing.T) {
	st, err := ParseBlockString("r6_k3_s2_e4_i64_o128_se0.25")
	if err != nil {
		t.Fatal(err)
	}
	want := Stage{Block: MBConv, Kernel: 3, Stride: 2, Expand: 4, In: 64, Out: 128, Repeats: 6, SE: 0.25}
	if st != want {
		t.Fatalf("got %+v, want %+v", st, want)
	}
	st, _ = ParseBlockString("r2_k3_s1_e1_i24_o24_c1")
	if st.Block != FusedMBConv || st.SE != 0 || st.Repeats != 2 {
		t.Fatalf("fused: got %+v", st)
	}
	// MnasNet's two-digit stride.
	st, err = ParseBlockString("r2_k3_s22_e6_i16_o24")
	if err != nil || st.Stride != 2 {
		t.Fatalf("s22: %+v %v", st, err)
	}
}

func TestParseBlockStringErrors(t *testing.T) {
	cases := map[string]string{
		"":                           "empty",
		"r2_k3_s1_e1_i24":            `missing key "o"`,
		"r2_k3_s1_e1_i24_o24_x3":     `unknown key "x"`,
		"r2_k3_s1_e1_i24_o24_c7":     "conv type",
		"r2_k3_s12_e1_i24_o24":       "one-digit stride",
		"r2_k3_s1_e1_i24_o24_se1.5":  "ratio",
		"r2_k3_s1_e1_i24_o24_r3":     "twice",
		"r2_k3__s1_e1_i24_o24":       "key followed by a value",
		"r-1_k3_s1_e1_i24_o24":       "non-negative integer",
		"r2_k3_s1_e1_i24_o24_noskip": "key followed by a value",
	}
	for in, want := range cases {
		_, err := ParseBlockString(in)
		if err == nil || !errors.Is(err, ErrBlockString) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want error containing %q", in, err, want)
		}
	}
}

func TestArchJSONRoundTrip(t *testing.T) {
	for _, name := range ReferenceNames() {
		a, _ := Reference(name)
		data, err := EncodeArch(a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeArch(data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: round trip differs:\n%+v\n%+v", name, a, b)
		}
		if !strings.Contains(string(data), `"format": "effnas/arch"`) || !strings.Contains(string(data), EncodeBlockString(a.Stages[0])) {
			t.Errorf("%s: document lacks format or block strings:\n%s", name, data)
		}
	}
}

func TestArchJSONFromBlocksOnly(t *testing.T) {
	doc := `{"format":"effnas/arch","version":1,"input_channels":1,"image_size":28,"num_classes":10,
	"stem":{"channels":16,"kernel":3,"stride":1},"blocks":["r1_k3_s1_e1_i16_o16_c1","r2_k3_s2_e4_i16_o32_se0.25"],
	"head_channels":64,"dropout":0.1,"survival_prob":1}`
	a, err := DecodeArch([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Stages) != 2 || a.Stages[1].SE != 0.25 || a.Stages[0].Block != FusedMBConv {
		t.Fatalf("got %+v", a.Stages)
	}
}

func TestArchJSONErrors(t *testing.T) {
	good, _ := Reference("bench-dw")
	data, _ := EncodeArch(good)
	doc := string(data)
	cases := map[string]string{
		doc[:len(doc)/2]: "truncated",
		"{\"format\": ":  "truncated",
		"{,}":            "invalid JSON at byte",
		strings.Replace(doc, `"dropout"`, `"dropuot"`, 1):                               `unknown field "dropuot"`,
		strings.Replace(doc, `"effnas/arch"`, `"other"`, 1):                             `format = "other"`,
		strings.Replace(doc, `"version": 1`, `"version": 9`, 1):                         "version = 9",
		encodeWith(good, func(a *Arch) { a.Stages[1].Stride = 3 }):                      "stage 2: stride = 3: want 1 or 2",
		encodeWith(good, func(a *Arch) { a.Stages[2].Repeats = 0 }):                     "stage 3: repeats = 0",
		strings.Replace(doc, `"block": "mbconv"`, `"block": "resnet"`, 1):               `unknown block type "resnet"`,
		strings.Replace(doc, `"r2_k3_s2_e4_i16_o32_c1"`, `"r2_k3"`, 1):                  "stage 2: malformed block string",
		strings.Replace(doc, `"r2_k3_s2_e4_i16_o32_c1"`, `"r3_k3_s2_e4_i16_o32_c1"`, 1): "disagree",
		doc + "{}": "after the document",
		`{"format":"effnas/arch","version":1,"input_channels":1,"image_size":28,"num_classes":10,"stem":{"channels":16,"kernel":3,"stride":1},"blocks":["r1_k3_s1_e1_i8_o16_c1"],"head_channels":64,"dropout":0.1,"survival_prob":1}`: "stage 1: in = 8: channels do not chain: want 16",
		`{"format":"effnas/arch","version":1,"input_channels":"x"}`: `field "input_channels"`,
	}
	for in, want := range cases {
		_, err := DecodeArch([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want error containing %q\ninput: %.200s", err, want, in)
		}
	}
}

func TestValidateNamesProblem(t *testing.T) {
	a, _ := Reference("efficientnetv2-s")
	a.Stages[3].Stride = 3
	err := a.Validate()
	var fe *fielderr.Error
	if !errors.As(err, &fe) || fe.Scope != "stage 4" || fe.Field != "stride" || fe.Value != 3 || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %#v", err)
	}
	a, _ = Reference("efficientnetv2-s")
	a.Stages[2].In = 50
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "stage 3: in = 50: channels do not chain: want 48") {
		t.Fatalf("got %v", err)
	}
}

func TestBlocksExpansion(t *testing.T) {
	a, _ := Reference("efficientnetv2-b0")
	bs := a.Blocks()
	if len(bs) != 21 {
		t.Fatalf("%d blocks, want 21", len(bs))
	}
	// Second block of stage 2: stride 1, in = out.
	b := bs[2]
	if b.Stage != 1 || b.Index != 1 || b.Stride != 1 || b.In != 32 || b.Out != 32 || !b.Residual() {
		t.Fatalf("got %+v", b)
	}
	if bs[0].SurvivalProb != 1 || bs[20].SurvivalProb != 1-0.2*20.0/21 {
		t.Fatalf("survival %v %v", bs[0].SurvivalProb, bs[20].SurvivalProb)
	}
	if se := bs[3].SEChannels(); se != 0 {
		t.Fatalf("fused SE %d", se)
	}
	if se := bs[5].SEChannels(); se != 12 { // int(48*0.25)
		t.Fatalf("stage 4 first block SE %d, want 12", se)
	}
}

func TestSmallImageVariant(t *testing.T) {
	a, _ := Reference("efficientnetv2-b0")
	s := a.WithInput(32, 3, 10, true)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	acc, _ := s.Count(0, 0)
	if acc.Parts[0].OutSize != 32 || acc.Parts[len(acc.Parts)-2].OutSize != 2 {
		t.Fatalf("out sizes %+v", acc.Parts)
	}
	data, _ := EncodeArch(s)
	back, err := DecodeArch(data)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip: %v", err)
	}
}

func FuzzDecodeArch(f *testing.F) {
	a, _ := Reference("bench-dw")
	data, _ := EncodeArch(a)
	f.Add(data)
	f.Add([]byte(`{"format":"effnas/arch","version":1,"blocks":["r1"]}`))
	f.Add([]byte(`{"format":"effnas/arch","version":1,"stages":[{"repeats":1000000000,"in":1,"out":65536}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := DecodeArch(in) // must not panic
		if err == nil {
			if _, err := a.Count(0, 0); err != nil {
				t.Fatalf("valid arch cannot be counted: %v", err)
			}
		}
	})
}

func FuzzParseBlockString(f *testing.F) {
	for _, s := range references["efficientnetv2-s"].blocks {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseBlockString(s)
		if err != nil {
			return
		}
		back, err := ParseBlockString(EncodeBlockString(st))
		if err != nil || back != st {
			t.Fatalf("%q: re-encoding gives %+v, %v", s, back, err)
		}
	})
}

func TestRandomArchRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sp := DefaultSpace()
	for i := 0; i < 500; i++ {
		a, err := sp.Decode(sp.Sample(r))
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseBlockStrings(a.BlockStrings())
		if err != nil || !reflect.DeepEqual(st, a.Stages) {
			t.Fatalf("block strings round trip: %v", err)
		}
		data, _ := EncodeArch(a)
		b, err := DecodeArch(data)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("JSON round trip: %v", err)
		}
	}
}

func encodeWith(a Arch, edit func(*Arch)) string {
	b := a.Clone()
	edit(&b)
	data, err := EncodeArch(b)
	if err != nil {
		panic(err)
	}
	return string(data)
}
