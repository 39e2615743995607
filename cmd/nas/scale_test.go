package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
)

func TestScaleGivesOfficialB2(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b2.json")
	if _, errs, code := nas(t, "scale", "efficientnetv2-b0", "--width", "1.1", "--depth", "1.2", "-o", p); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	out, errs, code := nas(t, "describe", p, "--json")
	if code != 0 {
		t.Fatalf("describe: exit %d: %s", code, errs)
	}
	var v struct {
		Params      int64 `json:"params"`
		ParamsTotal int64 `json:"params_total"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Params != 10096086 || v.ParamsTotal != 10178374 {
		t.Fatalf("params %d / %d, want the official B2's 10,096,086 / 10,178,374", v.Params, v.ParamsTotal)
	}
	// To standard output, with the official B2 sizes from --image-size.
	out, _, code = nas(t, "scale", "efficientnetv2-b0", "--width", "1.1", "--depth", "1.2", "--image-size", "260")
	a, err := searchspace.DecodeArch([]byte(out))
	if code != 0 || err != nil || a.ImageSize != 260 || a.TrainSize() != 208 {
		t.Fatalf("exit %d, %v, sizes %d/%d", code, err, a.ImageSize, a.TrainSize())
	}
}

func TestFamilyWritesMembers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fam.json")
	out, errs, code := nas(t, "family", "efficientnetv2-b0", "--members", "4", "-o", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "efficientnetv2-b0-phi3") || !strings.Contains(out, "10,096,086") {
		t.Fatalf("table:\n%s", out)
	}
	raw, _ := os.ReadFile(p)
	var ms []scaling.Member
	if err := json.Unmarshal(raw, &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d members", len(ms))
	}
	for i, m := range ms {
		if m.Phi != i || m.Arch.Name != m.Name || m.Params <= 0 || m.ParamsTotal <= m.Params || m.MACs <= 0 || m.TrainImageSize > m.ImageSize {
			t.Errorf("member %d: %+v", i, m)
		}
		if i > 0 && (m.Params <= ms[i-1].Params || m.MACs <= ms[i-1].MACs || m.ImageSize < ms[i-1].ImageSize) {
			t.Errorf("member %d does not grow: %d params after %d", i, m.Params, ms[i-1].Params)
		}
	}
	// A small-image architecture is capped at twice its native size.
	small := filepath.Join(t.TempDir(), "small.json")
	writeTiny(t, small)
	js, _, code := nas(t, "family", small, "--members", "5", "--gamma", "1.3", "--alpha", "1.1", "--beta", "1.05", "--tolerance", "1", "--json")
	var sm []scaling.Member
	if err := json.Unmarshal([]byte(js), &sm); err != nil || code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	if last := sm[len(sm)-1]; last.ImageSize != 32 || !last.Capped || last.TrainImageSize != 32 {
		t.Fatalf("small-image cap: %+v", last)
	}
}

func TestScaleAndFamilyFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scale", "efficientnetv2-b0", "--width", "-1"}, "--width = -1: want a finite number in [0, 100]"},
		{[]string{"scale", "efficientnetv2-b0", "--depth", "101"}, "--depth = 101: want a finite number in [0, 100]"},
		{[]string{"scale", "efficientnetv2-b0", "--image-size", "9000"}, "--image-size = 9000: want an integer in [0, 8192]"},
		{[]string{"scale", "efficientnetv2-b0", "--trial", "-2"}, "--trial = -2"},
		{[]string{"scale"}, "want exactly one ARCH"},
		{[]string{"family", "efficientnetv2-b0", "--members", "40"}, "--members = 40: want an integer in [1, 32]"},
		{[]string{"family", "efficientnetv2-b0", "--alpha", "2"}, "--alpha, --beta, --gamma: alpha*beta^2*gamma^2 = 3.2"},
		{[]string{"family", "efficientnetv2-b0", "--alpha", "0.5"}, "--alpha = 0.5: want a finite number in [1, 4]"},
		{[]string{"family", "efficientnetv2-b0", "--max-image-size", "-4"}, "--max-image-size = -4: want an integer in [0, 8192]"},
		{[]string{"family", "efficientnetv2-b0", "--train-ratio", "2"}, "--train-ratio = 2: want a finite number in [0.1, 1]"},
		{[]string{"family", "efficientnetv2-b0", "--epochs", "3"}, "--epochs needs --train"},
		{[]string{"family", "efficientnetv2-b0", "--train", "--stages", "3"}, "--stages needs --progressive"},
		{[]string{"family", "efficientnetv2-b0", "--train", "--dataset", "synthetic", "--progressive", "--profile", "xl"}, `--profile = "xl": want s, m, l or auto`},
		{[]string{"train", "efficientnetv2-b0", "--stages", "3"}, "--stages needs --progressive"},
		{[]string{"train", "efficientnetv2-b0", "--progressive", "--profile", "auto"}, `--profile = "auto": want s, m or l (Table 6)`},
		{[]string{"family", "efficientnetv2-b0", "--train", "--progressive", "--min-dropout", "0.1"}, "flag provided but not defined: -min-dropout"},
		{[]string{"family", "efficientnetv2-b0", "--optimizer", "adam"}, "--optimizer needs --train"},
		{[]string{"family", "efficientnetv2-b0", "--train", "--epochs", "0"}, "--epochs = 0: want a positive number"},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--min-dropout", "1.5"}, "--min-dropout = 1.5: want a rate in [0, 1)"},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--max-randaug", "40"}, "--max-randaug = 40: want a magnitude in [0, 30]"},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--min-mixup", "0.5", "--max-mixup", "0.1"}, "--min-mixup = 0.5: want at most max_mixup 0.1"},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--stages", "0"}, "--stages = 0: want an integer in [1, 64]"},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--stages", "65"}, "--stages = 65: want an integer in [1, 64]"},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--rule", "fast"}, `--rule = "fast": want paper or official`},
		{[]string{"train", "efficientnetv2-b0", "--dataset", "synthetic", "--progressive", "--min-image-size", "20"}, "--min-image-size = 20: want at most max_image_size 16"},
		{[]string{"train", "efficientnetv2-b0", "--progressive", "--image-size", "24", "--max-image-size", "32"}, "--image-size 24 and --max-image-size 32 differ"},
	} {
		_, errs, code := nas(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
}

// writeTiny writes a small 16x16 grey architecture (stem stride 1).
func writeTiny(t *testing.T, path string) {
	t.Helper()
	stages, err := searchspace.ParseBlockStrings([]string{"r1_k3_s1_e1_i8_o8_c1", "r1_k3_s2_e4_i8_o16_c1", "r1_k3_s2_e4_i16_o24_se0.25"})
	if err != nil {
		t.Fatal(err)
	}
	a := searchspace.Arch{Name: "tiny", InputChannels: 1, ImageSize: 16, NumClasses: 10,
		Stem: searchspace.Stem{Channels: 8, Kernel: 3, Stride: 1}, Stages: stages, HeadChannels: 32, Dropout: 0.1, SurvivalProb: 1}
	b, err := searchspace.EncodeArch(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainProgressiveCommand(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	out, errs, code := nas(t, "train", arch, "--dataset", "synthetic", "--epochs", "1", "--batch", "32", "--progressive",
		"--stages", "3", "--min-image-size", "8", "--max-image-size", "16", "--min-randaug", "1", "--max-randaug", "4", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Stages []struct {
			Stage     int     `json:"stage"`
			ImageSize int     `json:"image_size"`
			Steps     int     `json:"steps"`
			Dropout   float64 `json:"dropout"`
			TrainLoss float64 `json:"train_loss"`
		} `json:"stages"`
		Final struct {
			TestAccuracy float64 `json:"test_accuracy"`
			Steps        int     `json:"steps"`
		} `json:"final"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Stages) != 3 || r.Stages[0].ImageSize != 8 || r.Stages[1].ImageSize != 12 || r.Stages[2].ImageSize != 16 ||
		r.Final.Steps != 31 || r.Stages[0].Dropout != 0.1 || r.Stages[2].Dropout != 0.3 {
		t.Fatalf("result %s", out)
	}
	if r.Final.TestAccuracy <= 0.1 {
		t.Fatalf("test accuracy %v (chance 0.1)", r.Final.TestAccuracy)
	}
}

func TestFamilyTrain(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	res := filepath.Join(dir, "res.json")
	out, errs, code := nas(t, "family", arch, "--members", "2", "--train", "--dataset", "synthetic", "--epochs", "0.5",
		"--batch", "32", "--progressive", "--stages", "2", "-o", res)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "tiny-phi1") || !strings.Contains(out, "test acc") {
		t.Fatalf("table:\n%s", out)
	}
	raw, _ := os.ReadFile(res)
	var rows []map[string]any
	if err := json.Unmarshal(raw, &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%v: %s", err, raw)
	}
	for _, k := range []string{"name", "params", "macs", "step_time_ms", "accuracy", "image_size", "train_image_size", "width", "depth", "phi"} {
		if _, ok := rows[1][k]; !ok {
			t.Errorf("no %q in %v", k, rows[1])
		}
	}
	if rows[1]["image_size"].(float64) != 20 || rows[1]["params"].(float64) <= rows[0]["params"].(float64) || !(rows[1]["step_time_ms"].(float64) > 0) {
		t.Errorf("rows %v", rows)
	}
}

func TestBenchAgainst(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "tiny.json")
	writeTiny(t, arch)
	out, errs, code := nas(t, "bench", arch, "--against", "bench-dw", "--image-size", "16", "--batch", "4", "--steps", "1", "--warmup", "1",
		"--pairs", "2", "--burst", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Against     string  `json:"against"`
		Relative    float64 `json:"relative_step_time"`
		Interleaved struct {
			Pairs    int       `json:"pairs"`
			Ratios   []float64 `json:"ratios"`
			Baseline struct {
				Count int `json:"count"`
			} `json:"baseline"`
		} `json:"interleaved"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Against != "bench-dw" || !(r.Relative > 0) || r.Interleaved.Pairs != 2 || len(r.Interleaved.Ratios) != 2 || r.Interleaved.Baseline.Count < 2 {
		t.Fatalf("%s", out)
	}
	if _, errs, code := nas(t, "bench", arch, "--pairs", "3"); code != 2 || !strings.Contains(errs, "--pairs needs --against") {
		t.Fatalf("--pairs alone: exit %d, %s", code, errs)
	}
}
