package search

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/trainer/data"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProxySpaceFitsTheDataset(t *testing.T) {
	fmnist := &data.Dataset{H: 28, W: 28, C: 1, NumClasses: 10}
	sp, err := ProxySpace(fmnist, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := sp.Backbone
	if b.InputChannels != 1 || b.NumClasses != 10 || b.ImageSize != 28 || b.Stem.Stride != 1 ||
		b.Name != "efficientnetv2-b0 (width 0.5, depth 0.5, 28x28x1, 10 classes)" {
		t.Fatalf("backbone %+v", b)
	}
	// The zero width and depth are the documented 0.5.
	half, err := ProxySpace(fmnist, ProxyOptions{Width: 0.5, Depth: 0.5})
	if err != nil || mustJSON(t, half) != mustJSON(t, sp) {
		t.Fatalf("explicit 0.5: %v", err)
	}
	// Larger images keep the stem's stride 2; the image size option wins
	// over the dataset's; width scales channels.
	big, err := ProxySpace(&data.Dataset{H: 32, C: 3, NumClasses: 100}, ProxyOptions{ImageSize: 96, Width: 1, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if bb := big.Backbone; bb.ImageSize != 96 || bb.InputChannels != 3 || bb.NumClasses != 100 || bb.Stem.Stride != 2 ||
		bb.HeadChannels <= b.HeadChannels || len(bb.Blocks()) <= len(b.Blocks()) {
		t.Fatalf("96 px backbone %+v", bb)
	}
	if edge, _ := ProxySpace(&data.Dataset{H: 64, C: 3, NumClasses: 10}, ProxyOptions{}); edge.Backbone.Stem.Stride != 1 {
		t.Fatal("64 px images are small: stem stride 1")
	}
	se, err := ProxySpace(fmnist, ProxyOptions{SearchSE: true})
	if err != nil || len(se.Cardinalities()) <= len(sp.Cardinalities()) {
		t.Fatalf("squeeze-excite adds no decision: %v", err)
	}
}

// The committed search of results/fmnist-search was made with the default
// proxy on Fashion-MNIST: the same space must come out, or resuming it
// would be refused as another search.
func TestProxySpaceIsTheCommittedOne(t *testing.T) {
	got, err := store.ReadSearch(filepath.Join("..", "results", "fmnist-search", "search.db"), "default")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ProxySpace(&data.Dataset{H: 28, W: 28, C: 1, NumClasses: 10}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, got.Search.Space) != mustJSON(t, sp) {
		t.Fatalf("the proxy space differs from the committed search's:\n%s\n%s", mustJSON(t, got.Search.Space), mustJSON(t, sp))
	}
}

func TestNewProxy(t *testing.T) {
	_, err := NewProxy(ProxyOptions{Evaluator: "bogus"})
	if !errors.Is(err, ErrUnknownEvaluator) || !strings.Contains(err.Error(), `"bogus": want synthetic or train`) {
		t.Fatalf("unknown evaluator: %v", err)
	}
	if !reflect.DeepEqual(EvaluatorNames(), []string{"synthetic", "train"}) {
		t.Fatalf("names %v", EvaluatorNames())
	}

	p, err := NewProxy(ProxyOptions{Evaluator: "synthetic"})
	if err != nil || mustJSON(t, p.Space) != mustJSON(t, searchspace.DefaultSpace()) || !reflect.DeepEqual(p.Record, map[string]any{"name": "synthetic"}) {
		t.Fatalf("synthetic: %+v %v", p, err)
	}
	if _, ok := p.Evaluator.(Synthetic); !ok {
		t.Fatalf("synthetic evaluator %T", p.Evaluator)
	}
	// A space file is searched as it is.
	small, err := ProxySpace(&data.Dataset{H: 16, C: 1, NumClasses: 10}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "space.json")
	if err := os.WriteFile(file, []byte(mustJSON(t, small)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"synthetic", "train"} {
		p, err := NewProxy(ProxyOptions{Evaluator: ev, SpaceFile: file, Dataset: "synthetic"})
		if err != nil || mustJSON(t, p.Space) != mustJSON(t, small) {
			t.Fatalf("%s with a space file: %v", ev, err)
		}
	}
	if _, err := NewProxy(ProxyOptions{Evaluator: "synthetic", SpaceFile: file + ".missing"}); err == nil {
		t.Fatal("missing space file accepted")
	}

	// The default evaluator trains, on a dataset loaded now; the space is
	// fitted to it and the budget's image size is the backbone's.
	p, err = NewProxy(ProxyOptions{Dataset: "synthetic", Epochs: 0.5, Batch: 32, TrainSubset: 300, ValSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	te, ok := p.Evaluator.(*TrainEvaluator)
	if !ok || te.Budget.ImageSize != 16 || te.Budget.Batch != 32 || te.Budget.Epochs != 0.5 || len(te.train) != 300 || len(te.val) != 100 {
		t.Fatalf("train evaluator %+v", p.Evaluator)
	}
	if b := p.Space.Backbone; b.ImageSize != 16 || b.NumClasses != 10 || b.Stem.Stride != 1 {
		t.Fatalf("fitted backbone %+v", b)
	}
	if mustJSON(t, te.Baseline) != mustJSON(t, p.Space.Backbone) {
		t.Fatalf("trials are timed against %s, not the backbone", te.Baseline.Name)
	}
	if rec, ok := p.Record.(map[string]any); !ok || rec["name"] != "train" || rec["image_size"] != 16 || rec["dataset"] != "synthetic" {
		t.Fatalf("record %v", p.Record)
	}
	if _, err := NewProxy(ProxyOptions{Dataset: "no-such-data"}); err == nil || !strings.Contains(err.Error(), "no-such-data") {
		t.Fatalf("unknown dataset: %v", err)
	}
}

// SpaceOf is the space NewProxy searches, for each evaluator, and a space
// file written from it is searched as it is.
func TestSpaceOfIsTheProxySpace(t *testing.T) {
	opts := []ProxyOptions{{Evaluator: "synthetic"}, {Evaluator: "synthetic", SearchSE: true}}
	if _, err := data.FindDir("fashion-mnist", ""); err == nil {
		opts = append(opts, ProxyOptions{}, ProxyOptions{Width: 0.25, Depth: 1, SearchSE: true, TrainSubset: 100, ValSize: 100})
	} else {
		t.Log("Fashion-MNIST not installed: the train evaluator's space is not checked")
	}
	for _, o := range opts {
		sp, err := SpaceOf(o)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewProxy(o)
		if err != nil {
			t.Fatal(err)
		}
		if mustJSON(t, sp) != mustJSON(t, p.Space) {
			t.Fatalf("%+v: SpaceOf differs from the proxy's space", o)
		}
		doc, err := searchspace.EncodeSpace(sp)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "space.json")
		os.WriteFile(path, doc, 0o644)
		o.SpaceFile = path
		if p, err := NewProxy(o); err != nil || mustJSON(t, p.Space) != mustJSON(t, sp) {
			t.Fatalf("%+v: the written space is not searched as it is: %v", o, err)
		}
	}
	if _, err := SpaceOf(ProxyOptions{Evaluator: "bogus"}); !errors.Is(err, ErrUnknownEvaluator) {
		t.Fatalf("unknown evaluator: %v", err)
	}
}
