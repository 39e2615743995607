package report

import (
	"strings"
	"testing"

	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
)

func TestTextTables(t *testing.T) {
	a, err := searchspace.Reference("bench-dw")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := a.Count(28, 10)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteAccounting(&b, a, acc); err != nil || !strings.Contains(b.String(), "225,034 trainable") || !strings.Contains(b.String(), "conv3x3 s1") {
		t.Fatalf("accounting %v:\n%s", err, b.String())
	}
	b.Reset()
	sp := searchspace.DefaultSpace()
	if err := WriteSpace(&b, sp); err != nil || !strings.Contains(b.String(), "efficientnetv2-b0") ||
		!strings.Contains(b.String(), "decisions, "+sp.Size().String()+" architectures") {
		t.Fatalf("space %v:\n%s", err, b.String())
	}
	b.Reset()
	o := scaling.FamilyOptions{Members: 3, Alpha: 1.2, Beta: 1.1, Gamma: 1.15, MaxImageSize: 32}
	ms, err := scaling.Family(a, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFamily(&b, a, o, ms); err != nil || !strings.Contains(b.String(), "cap 32") || !strings.Contains(b.String(), "32*") ||
		!strings.Contains(b.String(), "bench-dw-phi2") {
		t.Fatalf("family %v:\n%s", err, b.String())
	}
}
