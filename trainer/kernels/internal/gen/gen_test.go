package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesCurrent fails when a committed generated file in
// trainer/kernels differs from what the generator writes now (run
// `go generate` in trainer/kernels).
func TestGeneratedFilesCurrent(t *testing.T) {
	for name, want := range generate() {
		got, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Errorf("%s: %v (run go generate in trainer/kernels)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what internal/gen writes (run go generate in trainer/kernels)", name)
		}
	}
}
