package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// EnvDir is the environment variable naming a data directory, consulted after
// an explicit --data path.
const EnvDir = "EFFNAS_DATA"

// SystemFashionMNISTDir is where Debian's dataset-fashion-mnist package
// installs the Fashion-MNIST IDX files.
const SystemFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// systemFashionDir is SystemFashionMNISTDir; tests point it elsewhere.
var systemFashionDir = SystemFashionMNISTDir

// FashionMNISTClasses are the Fashion-MNIST class names in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// Options carries what the loaders may need besides the name and split.
type Options struct {
	// Dir is an explicit data directory (the program's --data flag); empty
	// when not given.
	Dir string
	// Size and Channels apply to folder datasets (see LoadFolder).
	Size, Channels int
	// Synthetic configures the "synthetic" dataset.
	Synthetic SyntheticConfig
}

// LoaderFunc loads one split of a registered dataset. arg is the text after
// the first ':' of the requested name ("folder:/x" gives arg "/x"), or "".
type LoaderFunc func(arg, split string, opts Options) (*Dataset, error)

var (
	regMu    sync.RWMutex
	registry = map[string]LoaderFunc{}
)

// Register adds (or replaces) a named dataset loader.
func Register(name string, fn LoaderFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = fn
}

// Names lists the registered dataset names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Load loads split ("train" or "test") of the named dataset: "fashion-mnist",
// "mnist", "cifar10", "folder:PATH", "synthetic", or any name added with
// Register. The part of name after the first ':' is passed to the loader.
func Load(name, split string, opts Options) (*Dataset, error) {
	if split != Train && split != Test {
		return nil, fmt.Errorf("data: %s: unknown split %q (want %q or %q)", name, split, Train, Test)
	}
	base, arg, _ := strings.Cut(name, ":")
	regMu.RLock()
	fn, ok := registry[base]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("data: unknown dataset %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	d, err := fn(arg, split, opts)
	if err != nil {
		return nil, err
	}
	d.Split = split
	return d, nil
}

func init() {
	Register("fashion-mnist", func(_, split string, o Options) (*Dataset, error) {
		dir, err := FindDir("fashion-mnist", o.Dir)
		if err != nil {
			return nil, err
		}
		d, err := LoadIDXDir(dir, split, 10, FashionMNISTClasses)
		if err != nil {
			return nil, err
		}
		d.Name = "fashion-mnist"
		return d, nil
	})
	Register("mnist", func(_, split string, o Options) (*Dataset, error) {
		dir, err := FindDir("mnist", o.Dir)
		if err != nil {
			return nil, err
		}
		d, err := LoadIDXDir(dir, split, 10, nil)
		if err != nil {
			return nil, err
		}
		d.Name = "mnist"
		return d, nil
	})
	Register("cifar10", func(_, split string, o Options) (*Dataset, error) {
		dir, err := FindDir("cifar10", o.Dir)
		if err != nil {
			return nil, err
		}
		return LoadCIFAR10(dir, split)
	})
	Register("folder", func(arg, split string, o Options) (*Dataset, error) {
		if arg == "" {
			return nil, fmt.Errorf("data: folder dataset needs a path: folder:PATH")
		}
		dir := arg
		if sub := filepath.Join(arg, split); isDir(sub) {
			dir = sub
		} else if split == Test {
			return nil, fmt.Errorf("data: folder %s has no %s/ sub-folder (the whole folder is the train split)", arg, Test)
		}
		return LoadFolder(dir, o.Size, o.Channels)
	})
	Register("synthetic", func(_, split string, o Options) (*Dataset, error) {
		return Synthetic(o.Synthetic, split)
	})
}

// probes says how to recognise each built-in dataset's files in a directory.
var probes = map[string]func(dir string) bool{
	"fashion-mnist": hasIDX,
	"mnist":         hasIDX,
	"cifar10": func(dir string) bool {
		return isFile(filepath.Join(dir, "test_batch.bin")) || isFile(filepath.Join(dir, "data_batch_1.bin")) ||
			isFile(filepath.Join(dir, "cifar-10-batches-bin", "data_batch_1.bin"))
	},
}

func hasIDX(dir string) bool {
	_, _, e1 := findIDXFiles(dir, Train)
	_, _, e2 := findIDXFiles(dir, Test)
	return e1 == nil || e2 == nil
}

// SearchDirs lists the directories FindDir tries for a dataset, in order.
// An explicit directory (--data) is the only place looked at when given:
// its sub-folder named after the dataset (e.g. DIR/fashion-mnist), then the
// folder itself. Otherwise $EFFNAS_DATA is tried the same way, then (for
// Fashion-MNIST only) SystemFashionMNISTDir.
func SearchDirs(name, explicit string) []string {
	if explicit != "" {
		return []string{filepath.Join(explicit, name), explicit}
	}
	var dirs []string
	if env := os.Getenv(EnvDir); env != "" {
		dirs = append(dirs, filepath.Join(env, name), env)
	}
	if name == "fashion-mnist" {
		dirs = append(dirs, systemFashionDir)
	}
	return dirs
}

// FindDir returns the first of SearchDirs(name, explicit) that holds the
// files of the named built-in dataset ("fashion-mnist", "mnist", "cifar10").
// The error lists the places tried and how to install the data; with an
// explicit directory it names that directory: a path given on purpose that
// lacks the data is never replaced silently by another copy.
func FindDir(name, explicit string) (string, error) {
	probe, ok := probes[name]
	if !ok {
		return "", fmt.Errorf("data: no file lookup for dataset %q", name)
	}
	dirs := SearchDirs(name, explicit)
	for _, d := range dirs {
		if probe(d) {
			return d, nil
		}
	}
	var how string
	switch name {
	case "fashion-mnist":
		how = "install it with `apt-get install dataset-fashion-mnist` (files go to " + SystemFashionMNISTDir +
			"), or point --data or " + EnvDir + " at a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or not)"
	case "mnist":
		how = "point --data or " + EnvDir + " at a folder (or a folder with an mnist/ sub-folder) holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzipped or not)"
	case "cifar10":
		how = "point --data or " + EnvDir + " at a folder (or a folder with a cifar10/ sub-folder) holding the CIFAR-10 binary version: data_batch_1.bin ... data_batch_5.bin and test_batch.bin"
	}
	if explicit != "" {
		what := "no such directory"
		if isDir(explicit) {
			what = fmt.Sprintf("it holds no %s files (nor does %s)", name, filepath.Join(explicit, name))
		}
		return "", fmt.Errorf("data: --data %s: %s; %s", explicit, what, how)
	}
	tried := "nowhere (no --data, " + EnvDir + " unset)"
	if len(dirs) > 0 {
		tried = strings.Join(dirs, ", ")
	}
	return "", fmt.Errorf("data: %s not found (looked in %s); %s", name, tried, how)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
