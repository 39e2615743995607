package search

import (
	"strings"
	"testing"
)

func TestWriteComparisons(t *testing.T) {
	var b strings.Builder
	err := WriteComparisons(&b, []Comparison{
		{Controller: "random", Best: []float64{0.5, 0.7}, LastMean: []float64{0.4, 0.4}, Tail: 20},
		{Controller: "rl", Best: []float64{0.9}, LastMean: []float64{0.8}, Tail: 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "| controller | best reward | mean reward, last 20 trials | best per seed |\n| --- | --- | --- | --- |\n" +
		"| random | 0.6000 ± 0.1414 | 0.4000 ± 0.0000 | 0.5000 0.7000 |\n" +
		"| rl | 0.9000 ± 0.0000 | 0.8000 ± 0.0000 | 0.9000 |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
