package store

import (
	"testing"

	"github.com/effnas/effnas/measure"
)

func BenchmarkUpdate(b *testing.B) {
	s, err := Open(b.TempDir()+"/bench.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutSearch(Search{Name: "a"}) }); err != nil {
		b.Fatal(err)
	}
	id := 0
	for b.Loop() {
		id++
		if err := s.Update(func(tx *Tx) error { return tx.PutTrial("a", Trial{ID: id, Status: StatusDone}) }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkViewTrials(b *testing.B) {
	s, err := Open(b.TempDir()+"/bench.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "a"}); err != nil {
			return err
		}
		for id := 1; id <= 1000; id++ {
			if err := tx.PutTrial("a", Trial{ID: id, Status: StatusDone, Metrics: &measure.Metrics{Accuracy: 0.5}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.View(func(tx *Tx) error { _, err := tx.Trials("a"); return err }); err != nil {
			b.Fatal(err)
		}
	}
}
