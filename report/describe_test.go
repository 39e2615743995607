package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/effnas/effnas/searchspace"
)

func TestDescribeArch(t *testing.T) {
	a, err := searchspace.Reference("efficientnetv2-b0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := DescribeArch(a, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// the official figures (README): 7,139,704 trainable, 7,200,312 with BN statistics
	if d.Params != 7139704 || d.ParamsTotal != 7200312 || d.ImageSize != a.ImageSize || d.NumClasses != 1000 {
		t.Fatalf("%+v", d.Count)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "image_size", "num_classes", "parts", "total", "params", "params_total", "macs", "arch"} {
		if _, ok := top[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b)
		}
	}
	if string(top["name"]) != `"efficientnetv2-b0"` || string(top["params"]) != "7139704" {
		t.Errorf("name %s, params %s", top["name"], top["params"])
	}
	var text bytes.Buffer
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text.String(), "efficientnetv2-b0: 224x224x3 input, 1000 classes\n") || !strings.Contains(text.String(), "params 7,139,704 trainable, 7,200,312 with BatchNorm statistics") {
		t.Errorf("text:\n%s", text.String())
	}

	small, err := DescribeArch(a, 64, 10)
	if err != nil || small.ImageSize != 64 || small.NumClasses != 10 || small.Params >= d.Params || small.MACs >= d.MACs {
		t.Errorf("at 64 px, 10 classes: %v %+v", err, small.Count)
	}
	bad := a
	bad.Stages = nil
	if _, err := DescribeArch(bad, 0, 0); err == nil {
		t.Error("an architecture without stages: no error")
	}
}
