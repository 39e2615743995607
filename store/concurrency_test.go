package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeLoop adds trial after trial to search "loop" in one Update each, with
// the search record's Trials field counting them, until stop returns true.
// Each Update also replaces the controller state with the count, so a
// consistent snapshot has len(trials) == record.Trials == state.
func writeLoop(s *Store, stop func() bool) (int, error) {
	if err := s.Update(func(tx *Tx) error {
		if _, err := tx.Search("loop"); errors.Is(err, ErrNotFound) {
			return tx.PutSearch(Search{Name: "loop"})
		}
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	for !stop() {
		err := s.Update(func(tx *Tx) error {
			id, err := tx.NextTrialID("loop")
			if err != nil {
				return err
			}
			if err := tx.PutTrial("loop", Trial{ID: id, Status: StatusDone, Reward: float64(id)}); err != nil {
				return err
			}
			rec, err := tx.Search("loop")
			if err != nil {
				return err
			}
			rec.Trials = id
			if err := tx.PutSearch(rec); err != nil {
				return err
			}
			return tx.PutControllerState("loop", []byte(fmt.Sprint(id)))
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// checkSnapshot reads search "loop" in one View and checks that it is
// consistent; it returns the trial count and the time the View took.
func checkSnapshot(s *Store) (int, time.Duration, error) {
	start := time.Now()
	n := 0
	err := s.View(func(tx *Tx) error {
		rec, err := tx.Search("loop")
		if err != nil {
			return err
		}
		trials, err := tx.Trials("loop")
		if err != nil {
			return err
		}
		state, err := tx.ControllerState("loop")
		if err != nil {
			return err
		}
		if rec.Trials == 0 && len(trials) == 0 {
			return nil
		}
		if len(trials) != rec.Trials || string(state) != fmt.Sprint(rec.Trials) || trials[len(trials)-1].ID != rec.Trials {
			return fmt.Errorf("inconsistent snapshot: %d trials, record says %d, state %q", len(trials), rec.Trials, state)
		}
		n = len(trials)
		return nil
	})
	return n, time.Since(start), err
}

// readWhileWriting reads reads snapshots from a read-only Store and returns
// the longest wait; it fails the test on an inconsistent snapshot or when the
// writer made no progress.
func readWhileWriting(t *testing.T, path string, reads int) time.Duration {
	t.Helper()
	r, err := OpenReadOnly(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	first, last := -1, 0
	for range reads {
		n, d, err := checkSnapshot(r)
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 {
			first = n
		}
		if n < last {
			t.Fatalf("trial count went back from %d to %d", last, n)
		}
		last = n
		worst = max(worst, d)
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("%d reads: trials %d -> %d, longest read %v", reads, first, last, worst)
	if last <= first {
		t.Errorf("the writer made no progress during the reads (%d -> %d)", first, last)
	}
	return worst
}

func TestReaderWhileWriterInProcess(t *testing.T) {
	s, path := tempStore(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var n int
	var werr error
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "loop"}) })
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, werr = writeLoop(s, stop.Load)
	}()
	time.Sleep(20 * time.Millisecond)
	worst := readWhileWriting(t, path, 50)
	stop.Store(true)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("writer: %d updates", n)
	if worst >= time.Second {
		t.Fatalf("a read waited %v for the writer", worst)
	}
}

// The child process of TestReaderWhileWriterProcess: it writes in a loop
// until killed or until the stop file appears.
func TestHelperWriterProcess(t *testing.T) {
	path := os.Getenv("EFFNAS_STORE_TEST_WRITER")
	if path == "" {
		t.Skip("run by TestReaderWhileWriterProcess")
	}
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopFile := path + ".stop"
	deadline := time.Now().Add(30 * time.Second)
	_, err = writeLoop(s, func() bool {
		_, err := os.Stat(stopFile)
		return err == nil || time.Now().After(deadline)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReaderWhileWriterProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "search.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "loop"}) })

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EFFNAS_STORE_TEST_WRITER="+path)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the child's first trials.
		for deadline := time.Now().Add(10 * time.Second); ; {
			n, _, err := checkSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("the writer process wrote nothing in 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return cmd
	}

	// A reader in this process while another process writes.
	cmd := start()
	worst := readWhileWriting(t, path, 50)
	os.WriteFile(path+".stop", nil, 0o644)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer process: %v", err)
	}
	if worst >= time.Second {
		t.Fatalf("a read waited %v for the writer process", worst)
	}

	// SIGKILL in the middle of the loop leaves the last committed state,
	// consistent and writable.
	os.Remove(path + ".stop")
	cmd = start()
	before, _, _ := checkSnapshot(s)
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	n, _, err := checkSnapshot(s)
	if err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	if n < before {
		t.Fatalf("after SIGKILL: %d trials, %d before", n, before)
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutTrial("loop", Trial{ID: n + 1}) })
	t.Logf("after SIGKILL: %d trials, consistent", n)
}

// A writer waits for a reader that holds the lock at most the timeout, and
// then says so.
func TestLockTimeout(t *testing.T) {
	s, path := tempStore(t)
	short, err := Open(path, &Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.View(func(*Tx) error { close(held); <-release; return nil })
	}()
	<-held
	start := time.Now()
	err = short.Update(func(*Tx) error { return nil })
	if !errors.Is(err, ErrLocked) {
		t.Errorf("Update while locked: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("Update gave up after %v, timeout 100ms", d)
	}
	t.Log(err)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := short.Update(func(*Tx) error { return nil }); err != nil {
		t.Fatalf("Update after the reader: %v", err)
	}
}
