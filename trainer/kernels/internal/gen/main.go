// Command gen writes the generated assembly of package kernels and its Go
// declarations:
//
//	cd trainer/kernels && go generate   (runs: go run ./internal/gen)
//
// Files (all in trainer/kernels):
//
//	gemm_avx512_amd64.{s,go}  AVX-512 GEMM micro-kernels (avx512.go)
//	gemm_avx2_amd64.{s,go}    AVX2+FMA GEMM micro-kernels (avx2.go)
//	gemm_neon_arm64.{s,go}    NEON GEMM micro-kernels (neon.go)
//	vec_avx2_amd64.s          AVX2 row kernels (vec.go, from one description
//	vec_neon_arm64.s          NEON row kernels  shared by both)
//	vec_decl_amd64.go, vec_decl_arm64.go   their Go declarations
//
// TestGeneratedFilesCurrent (gen_test.go) fails when a committed file
// differs from what this program writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	dir := flag.String("dir", ".", "directory of package kernels")
	flag.Parse()
	files := generate()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(*dir, n), files[n], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// generate returns every generated file by name.
func generate() map[string][]byte {
	out := map[string][]byte{}
	genAVX512(out)
	genAVX2(out)
	genNEON(out)
	genVec(out)
	genGoKernels(out)
	return out
}
