//go:build unix

package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/effnas/effnas/trainer"
)

// TestTrainSignalSaves interrupts "nas train -o" with SIGINT (Ctrl-C) and
// SIGTERM during its training steps: it exits with status 130, the steps
// trained saved to its checkpoint, and the command that resumes them,
// which does.
func TestTrainSignalSaves(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	// While the test listens too, a signal that comes before the command
	// listens is ignored instead of ending the test.
	heard := make(chan os.Signal, 4)
	signal.Notify(heard, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(heard)
	saved := regexp.MustCompile(`^nas train: stopped at step (\d+) of (\d+), saved in (\S+); resume with: nas train --resume (\S+)\n$`)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ck := filepath.Join(dir, sig.String()+".safetensors")
		done := false
		for _, delay := range []time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second} {
			timer := time.AfterFunc(delay, func() { syscall.Kill(os.Getpid(), sig) })
			_, errs, code := nas(t, "train", arch, "--dataset", "synthetic", "--epochs", "30", "--batch", "32", "-o", ck)
			timer.Stop()
			for len(heard) > 0 {
				<-heard
			}
			m := saved.FindStringSubmatch(errs)
			if code == 0 || (code == 130 && m == nil && strings.Contains(errs, "nothing saved")) {
				continue // the signal came before the command listened, before the first step or after the last
			}
			if code != 130 || m == nil || m[3] != ck || m[4] != ck {
				t.Fatalf("%v: exit %d, %q", sig, code, errs)
			}
			step, _ := strconv.Atoi(m[1])
			ckpt, err := trainer.LoadModel(ck)
			if err != nil {
				t.Fatal(err)
			}
			if ckpt.State.Steps() != step || ckpt.Meta["step"] != float64(step) || m[2] != "930" {
				t.Fatalf("%v: saved at step %d (meta %v), the message says %s of %s", sig, ckpt.State.Steps(), ckpt.Meta["step"], m[1], m[2])
			}
			out, errs, code := nas(t, "train", "--resume", ck, "--stop-at", strconv.Itoa(step+1))
			if code != 0 || !strings.Contains(out, "resumed at step "+m[1]+" of 930") || !strings.Contains(out, "stopped at step "+strconv.Itoa(step+1)) {
				t.Fatalf("%v: resume: exit %d\n%s%s", sig, code, out, errs)
			}
			done = true
			break
		}
		if !done {
			t.Errorf("%v never came during the training steps", sig)
		}
	}
}
