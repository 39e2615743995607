package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// committedDB is a database written by an earlier version of the program
// (a search of results/fmnist-search, 20 trials, made before the step time
// relative to the backbone), compacted and compressed.
const committedDB = "testdata/search-v1.db.gz"

// copyFile copies a gzip-compressed file into a temporary directory,
// uncompressed, and returns its path.
func copyFile(t *testing.T, from string) string {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(from), ".gz"))
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return to
}

// The records of an existing database read with today's types, with the
// figures its log printed, and encode back to the very bytes stored: no
// field was renamed or lost.
func TestReadsCommittedDatabase(t *testing.T) {
	path := copyFile(t, committedDB)
	st, err := OpenReadOnly(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rec Search
	var trials []Trial
	mustView(t, st, func(tx *Tx) error {
		var err error
		if rec, err = tx.Search("default"); err != nil {
			return err
		}
		trials, err = tx.Trials("default")
		return err
	})
	if rec.Controller != "rl" || rec.Seed != 1 || rec.Trials != 20 || rec.Status != SearchFinished || len(trials) != 20 {
		t.Fatalf("search %+v with %d trials", rec, len(trials))
	}
	// The fingerprint the report of this search printed.
	if fp := rec.Host.Fingerprint(); fp != "af457c611e2c" {
		t.Errorf("host fingerprint %s, want af457c611e2c", fp)
	}
	if b := rec.Baseline; b == nil || math.Abs(b.StepTime.Median-0.1244) > 5e-5 || b.Params < 765_000 || b.Params > 775_000 {
		t.Errorf("baseline %+v", b)
	}
	// The reward settings, kept as given (the default kind, unresolved).
	var rw struct {
		Kind string `json:"kind"`
		Time struct {
			Ref float64 `json:"ref"`
		} `json:"time"`
	}
	if err := json.Unmarshal(rec.Reward, &rw); err != nil || rw.Kind != "" || rw.Time.Ref != rec.Baseline.StepTime.Median {
		t.Errorf("reward settings %s: %v", rec.Reward, err)
	}
	// Trial 1 as the log printed it.
	t1 := trials[0]
	m := t1.Metrics
	if t1.ID != 1 || t1.Status != StatusDone || math.Abs(t1.Reward-0.7711) > 5e-5 || m == nil ||
		math.Abs(m.Accuracy-0.7665) > 5e-5 || math.Abs(m.StepTime.Median-0.1079) > 5e-5 || m.Params != 833_582 ||
		m.MACs != 9_889_696 || m.Steps != 125 || m.Batch != 64 || m.ImageSize != 28 || m.Host.Fingerprint() != "af457c611e2c" {
		t.Fatalf("trial 1: %+v, metrics %+v", t1, m)
	}
	for _, tr := range trials {
		if !tr.Done() || tr.Metrics == nil || tr.Metrics.StepTime.Count == 0 || len(tr.Arch.Stages) == 0 {
			t.Errorf("trial %d: %+v", tr.ID, tr)
		}
	}

	// Encoding the decoded records gives back the stored bytes.
	db, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearches).Bucket([]byte("default"))
		if got, _ := json.Marshal(rec); !bytes.Equal(got, b.Get(keyRecord)) {
			t.Errorf("search record re-encodes differently:\n got %s\nwant %s", got, b.Get(keyRecord))
		}
		return b.Bucket(bucketTrials).ForEach(func(k, v []byte) error {
			id := int(k[7])
			if got, _ := json.Marshal(trials[id-1]); !bytes.Equal(got, v) {
				t.Errorf("trial %d re-encodes differently:\n got %s\nwant %s", id, got, v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
