package data

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLookupOrder(t *testing.T) {
	explicit, env := t.TempDir(), t.TempDir()
	writeIDXSplit(t, filepath.Join(env, "fashion-mnist"), Train, 3, 2, 2, true)
	writeIDXSplit(t, explicit, Train, 5, 2, 2, false)
	t.Setenv(EnvDir, env)

	if got, err := FindDir("fashion-mnist", explicit); err != nil || got != explicit {
		t.Fatalf("explicit: %q %v", got, err)
	}
	if got, err := FindDir("fashion-mnist", ""); err != nil || got != filepath.Join(env, "fashion-mnist") {
		t.Fatalf("env: %q %v", got, err)
	}
	d, err := Load("fashion-mnist", Train, Options{Dir: explicit})
	if err != nil || d.N != 5 || d.ClassNames[9] != "Ankle boot" || d.Name != "fashion-mnist" || d.Split != Train {
		t.Fatalf("load explicit: %+v %v", d, err)
	}
	d, err = Load("fashion-mnist", Train, Options{})
	if err != nil || d.N != 3 {
		t.Fatalf("load env: %v", err)
	}
	// An explicit directory without the files is an error naming it, not
	// a silent fall back to another copy ($EFFNAS_DATA or the system's).
	empty := t.TempDir()
	if got, err := FindDir("fashion-mnist", empty); err == nil || !strings.Contains(err.Error(), "--data "+empty+": it holds no fashion-mnist files") {
		t.Fatalf("explicit without the files: %q %v", got, err)
	}
	if _, err := Load("fashion-mnist", Test, Options{Dir: filepath.Join(empty, "nope")}); err == nil ||
		!strings.Contains(err.Error(), "--data "+filepath.Join(empty, "nope")+": no such directory") {
		t.Fatalf("missing explicit directory: %v", err)
	}
	if dirs := SearchDirs("fashion-mnist", "/x"); !slices.Equal(dirs, []string{"/x/fashion-mnist", "/x"}) {
		t.Fatalf("search dirs with --data %v", dirs)
	}
	if dirs := SearchDirs("fashion-mnist", ""); !slices.Equal(dirs, []string{filepath.Join(env, "fashion-mnist"), env, systemFashionDir}) {
		t.Fatalf("search dirs %v", dirs)
	}
}

func TestMissingDataError(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	_, err := FindDir("mnist", "")
	if err == nil || !strings.Contains(err.Error(), "--data") || !strings.Contains(err.Error(), EnvDir) {
		t.Fatalf("mnist: %v", err)
	}
	old := systemFashionDir
	systemFashionDir = t.TempDir()
	defer func() { systemFashionDir = old }()
	_, err = Load("fashion-mnist", Train, Options{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") || !strings.Contains(err.Error(), "--data") {
		t.Fatalf("fashion-mnist: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	for _, n := range []string{"fashion-mnist", "mnist", "cifar10", "folder", "synthetic"} {
		if !slices.Contains(Names(), n) {
			t.Fatalf("%s not registered: %v", n, Names())
		}
	}
	if _, err := Load("nope", Train, Options{}); err == nil || !strings.Contains(err.Error(), "synthetic") {
		t.Fatalf("unknown dataset: %v", err)
	}
	if _, err := Load("synthetic", "val", Options{}); err == nil {
		t.Fatal("bad split accepted")
	}
	d, err := Load("synthetic", Test, Options{Synthetic: SyntheticConfig{Size: 5, Channels: 3, Classes: 4, Count: 40}})
	if err != nil || d.N != 8 || d.H != 5 || d.C != 3 || d.NumClasses != 4 {
		t.Fatalf("synthetic: %+v %v", d, err)
	}
}

// TestRealFashionMNIST loads the installed dataset (skipped when absent).
func TestRealFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	t.Setenv(EnvDir, "")
	if _, err := FindDir("fashion-mnist", ""); err != nil {
		t.Skip("Fashion-MNIST not installed:", err)
	}
	for split, n := range map[string]int{Train: 60000, Test: 10000} {
		d, err := Load("fashion-mnist", split, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.N != n || d.H != 28 || d.W != 28 || d.C != 1 || d.NumClasses != 10 || len(d.ClassNames) != 10 {
			t.Fatalf("%s: N=%d %dx%dx%d K=%d", split, d.N, d.H, d.W, d.C, d.NumClasses)
		}
		for k, c := range d.ClassCounts(d.All()) {
			if c != n/10 {
				t.Fatalf("%s: class %d has %d samples", split, k, c)
			}
		}
		if mx := slices.Max(d.Images); mx != 1 {
			t.Fatalf("%s: max pixel %v", split, mx)
		}
	}
}
