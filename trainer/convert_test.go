package trainer

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"gorgonia.org/tensor"
)

func TestConvertModel(t *testing.T) {
	a, _ := searchspace.Reference("bench-dw")
	net, err := NewNet(a, tensor.Float32, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "out.safetensors")
	if err := SaveModel(in, Model{Net: net}); err != nil {
		t.Fatal(err)
	}
	line, err := ConvertModel(in, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s: bench-dw, %d parameters, %d BatchNorm layers; wrote %s", in, net.NumParams(), len(net.BNs), out); line != want {
		t.Errorf("%q\nwant %q", line, want)
	}
	m, err := LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range net.Params {
		if !reflect.DeepEqual(m.Net.Params[i].Value.Data(), p.Value.Data()) {
			t.Fatalf("parameter %d differs after conversion", i)
		}
	}
	if _, err := ConvertModel(filepath.Join(dir, "none"), filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("missing input: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Error("a failed conversion wrote its output")
	}
}
