package searchspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	if a, err := Load("efficientnetv2-b0"); err != nil || a.Name != "efficientnetv2-b0" {
		t.Fatalf("built-in: %v %v", a.Name, err)
	}
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "efficientnetv2-b0") {
		t.Fatalf("empty: %v", err)
	}
	if _, err := Load("no-such-net"); err == nil {
		t.Fatal("unknown name accepted")
	}
	if _, err := Load("missing.json"); err == nil || !strings.HasPrefix(err.Error(), "missing.json: ") {
		t.Fatalf("missing file: %v", err)
	}
	b0, _ := Reference("efficientnetv2-b0")
	b0.Name = "mine"
	doc, err := EncodeArch(b0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain, export := filepath.Join(dir, "a.json"), filepath.Join(dir, "trial.json")
	os.WriteFile(plain, doc, 0o644)
	os.WriteFile(export, []byte(`{"trial": 3, "arch": `+string(doc)+`}`), 0o644)
	for _, p := range []string{plain, export} {
		if a, err := Load(p); err != nil || a.Name != "mine" || a.NumBlocks() != b0.NumBlocks() {
			t.Fatalf("%s: %v %v", p, a.Name, err)
		}
	}
	os.WriteFile(plain, []byte(`{"format": "effnas/arch", "version": 99}`), 0o644)
	if _, err := Load(plain); err == nil || !strings.HasPrefix(err.Error(), plain+": ") {
		t.Fatalf("bad document: %v", err)
	}
}
