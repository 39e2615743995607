package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/trainer"
)

// trainRun is the part of "nas train --json" the tests read.
type trainRun struct {
	Step       int    `json:"step"`
	TotalSteps int    `json:"total_steps"`
	ResumedAt  int    `json:"resumed_at"`
	Checkpoint string `json:"checkpoint"`
	Final      struct {
		TestAccuracy float64 `json:"test_accuracy"`
		TestLoss     float64 `json:"test_loss"`
		TrainLoss    float64 `json:"train_loss"`
		Steps        int     `json:"steps"`
	} `json:"final"`
}

func trainJSON(t *testing.T, args ...string) trainRun {
	t.Helper()
	out, errs, code := nas(t, append([]string{"train", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("nas train %v: exit %d: %s", args, code, errs)
	}
	var r trainRun
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

// sameWeights fails unless two checkpoints hold bit-identical parameters.
func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	x, err := safetensors.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := safetensors.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := trainer.LoadModel(a)
	names, _, _ := m.Net.TensorNames()
	for _, n := range names {
		p, _ := x.Tensor(n)
		q, _ := y.Tensor(n)
		if string(p.Data) != string(q.Data) {
			t.Fatalf("%s differs between %s and %s", n, a, b)
		}
	}
}

func TestTrainThenEval(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	ck := filepath.Join(dir, "tiny.safetensors")
	out, errs, code := nas(t, "train", arch, "--dataset", "synthetic", "--epochs", "0.5", "--batch", "32", "-o", ck)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	i := strings.Index(out, "test accuracy ")
	if i < 0 || !strings.Contains(out, "checkpoint written to "+ck) {
		t.Fatalf("output:\n%s", out)
	}
	// "test accuracy 43.75% (loss 1.2345) on N images at 28x28": the same
	// figures from the checkpoint
	trained, _, _ := strings.Cut(out[i+len("test accuracy "):], " at ")
	evalOut, errs, code := nas(t, "eval", ck, "--dataset", "synthetic")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	if want := ck + ": test accuracy " + trained + "\n"; evalOut != want {
		t.Fatalf("eval printed %q, training %q", evalOut, want)
	}
	f, err := safetensors.ReadFile(ck)
	if err != nil || f.Metadata["format"] != "effnas/checkpoint" || !strings.Contains(f.Metadata["settings"], `"optimizer":"rmsprop"`) {
		t.Fatalf("not a safetensors checkpoint with settings: %v %v", err, f.Metadata)
	}
	if _, ok := f.Tensor("opt.head.dense.weight.ms"); !ok {
		t.Error("no optimizer state in the checkpoint")
	}
	for _, k := range []string{"arch", "norm", "settings", "code_version", "optimizer", "mask_rng", "aug_rng", "aug_step", "meta"} {
		if f.Metadata[k] == "" {
			t.Errorf("no metadata %s", k)
		}
	}
	var meta map[string]any
	json.Unmarshal([]byte(f.Metadata["meta"]), &meta)
	for k, want := range map[string]any{"dataset": "synthetic", "train_images": 1000.0, "val_images": 0.0, "batch": 32.0, "epochs": 0.5,
		"total_steps": 16.0, "step": 16.0, "train_image_size": 16.0, "image_size": 16.0, "seed": 1.0} {
		if meta[k] != want {
			t.Errorf("meta %s = %v, want %v", k, meta[k], want)
		}
	}
	if _, ok := meta["test_accuracy"].(float64); !ok {
		t.Errorf("meta has no test accuracy: %v", meta)
	}
	// the exact figures
	var e struct{ Accuracy, Loss float64 }
	js, _, _ := nas(t, "eval", ck, "--dataset", "synthetic", "--json")
	json.Unmarshal([]byte(js), &e)
	r := trainJSON(t, arch, "--dataset", "synthetic", "--epochs", "0.5", "--batch", "32", "-o", ck)
	if r.Final.TestAccuracy != e.Accuracy || r.Final.TestLoss != e.Loss || r.Checkpoint != ck {
		t.Fatalf("trained %v/%v, the checkpoint scores %v/%v", r.Final.TestAccuracy, r.Final.TestLoss, e.Accuracy, e.Loss)
	}
}

func TestNotACheckpoint(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("hello"), 0o644)
	for _, args := range [][]string{{"eval", arch}, {"eval", junk}, {"train", "--resume", arch}, {"convert", junk, "-o", filepath.Join(dir, "x")}} {
		out, errs, code := nas(t, args...)
		if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, ": invalid checkpoint: neither safetensors (") ||
			!strings.Contains(errs, args[len(args)-1-2*b2i(args[0] == "convert")]) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTrainResume stops runs and resumes them from their checkpoints: the
// final checkpoint is bit for bit the one of the run straight through, and
// so are its last step's loss and its test figures. The fixed-size run is
// resumed with --resume alone, twice; the progressive one with its first
// command line plus --resume.
func TestTrainResume(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	for _, progressive := range []bool{false, true} {
		args := []string{arch, "--dataset", "synthetic", "--epochs", "0.45", "--batch", "32", "--schedule", "cosine", "--lr", "0.002"} // 14 steps
		if progressive {
			args = append(args, "--progressive", "--stages", "2", "--min-image-size", "12", "--max-image-size", "16", "--max-randaug", "8")
		}
		whole := filepath.Join(dir, "whole.safetensors")
		ref := trainJSON(t, append(args, "-o", whole)...)
		if ref.TotalSteps != 14 || ref.Step != 14 {
			t.Fatalf("run of %d steps, at %d", ref.TotalSteps, ref.Step)
		}

		ck := filepath.Join(dir, "part.safetensors")
		out, errs, code := nas(t, append([]string{"train"}, append(args, "-o", ck, "--stop-at", "5")...)...)
		if code != 0 || !strings.Contains(out, "stopped at step 5 of 14") || !strings.Contains(out, "checkpoint written to "+ck+"; resume with: nas train --resume "+ck) ||
			strings.Contains(out, "test accuracy") {
			t.Fatalf("stopped: exit %d\n%s%s", code, out, errs)
		}
		var r trainRun
		if progressive {
			r = trainJSON(t, append(args, "-o", ck, "--resume", ck)...)
			m, _ := trainer.LoadModel(ck)
			if pg, _ := m.Meta["progressive"].(map[string]any); pg["max_randaug"] != 8.0 || pg["stages"] != 2.0 {
				t.Errorf("the checkpoint's schedule: %v", m.Meta["progressive"])
			}
		} else {
			if r = trainJSON(t, "--resume", ck, "--stop-at", "9"); r.Step != 9 || r.ResumedAt != 5 {
				t.Fatalf("resumed and stopped again: %+v", r)
			}
			r = trainJSON(t, "--resume", ck)
		}
		if r.ResumedAt != 5 && r.ResumedAt != 9 || r.Step != 14 || r.Final.Steps != 14-r.ResumedAt || r.Checkpoint != ck {
			t.Fatalf("resumed: %+v", r)
		}
		if r.Final.TrainLoss != ref.Final.TrainLoss || r.Final.TestAccuracy != ref.Final.TestAccuracy || r.Final.TestLoss != ref.Final.TestLoss {
			t.Errorf("progressive %v: last step's loss %v, test %v/%v; straight through %v, %v/%v", progressive,
				r.Final.TrainLoss, r.Final.TestAccuracy, r.Final.TestLoss, ref.Final.TrainLoss, ref.Final.TestAccuracy, ref.Final.TestLoss)
		}
		sameWeights(t, whole, ck)
	}
}

func TestTrainResumeRefusals(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	ck := filepath.Join(dir, "c.safetensors")
	if _, errs, code := nas(t, "train", arch, "--dataset", "synthetic", "--epochs", "0.45", "--batch", "32", "-o", ck, "--stop-at", "3"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	before, _ := os.ReadFile(ck)
	v1 := filepath.Join("..", "..", "trainer", "testdata", "v1.ckpt")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--lr", "0.01"}, 2, "--lr = 0.01: want the checkpoint's 0.001"},
		{[]string{"--epochs", "1"}, 2, "--epochs = 1: want the checkpoint's 0.45 (14 steps)"},
		{[]string{"--batch", "16"}, 2, "--batch = 16: want the checkpoint's 32"},
		{[]string{"--seed", "2"}, 2, "--seed = 2: want the checkpoint's 1"},
		{[]string{"--optimizer", "adam"}, 2, `--optimizer = "adam": want the checkpoint's "rmsprop"`},
		{[]string{"--val", "64"}, 2, "val_images = 64: want the checkpoint's 0"},
		{[]string{"--progressive"}, 2, "--progressive = true: want the checkpoint's false"},
		{[]string{"bench-dw"}, 2, "arch = bench-dw: want the checkpoint's tiny"},
		{[]string{"--stop-at", "2"}, 1, "stop at step 2: the checkpoint's run is at step 3 already"},
		{[]string{"--dataset", "mnist", "--data", dir}, 1, "mnist"},
	} {
		_, errs, code := nas(t, append([]string{"train", "--resume", ck}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") > 2 {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
	if after, _ := os.ReadFile(ck); !slices.Equal(before, after) {
		t.Error("a refused resume changed the checkpoint")
	}
	dump := filepath.Join(dir, "dump")
	if _, errs, code := nas(t, "dump", ck, "-o", dump, "--synthetic"); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, errs)
	}
	for _, f := range []string{v1, filepath.Join(dump, "model.safetensors")} {
		if _, errs, code := nas(t, "train", "--resume", f); code != 1 || !strings.Contains(errs, "records no training run") {
			t.Errorf("resuming %s: exit %d, %q", f, code, errs)
		}
	}
	if _, errs, code := nas(t, "train", arch, "--stop-at", "3"); code != 2 || !strings.Contains(errs, "with -o CKPT") {
		t.Errorf("--stop-at without -o: exit %d, %q", code, errs)
	}
	// run to the end: then nothing is left to resume
	if _, errs, code := nas(t, "train", "--resume", ck); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, errs, code := nas(t, "train", "--resume", ck); code != 1 || !strings.Contains(errs, "its run is complete (14 of 14 steps)") {
		t.Errorf("resuming a finished run: exit %d, %q", code, errs)
	}
}

func TestFamilyTrainCheckpoints(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "tiny.json")
	writeTiny(t, arch)
	res, cks := filepath.Join(dir, "res.json"), filepath.Join(dir, "members")
	out, errs, code := nas(t, "family", arch, "--members", "2", "--train", "--dataset", "synthetic", "--epochs", "0.25",
		"--batch", "32", "-o", res, "--checkpoints", cks)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "checkpoints written to "+cks) {
		t.Errorf("output:\n%s", out)
	}
	raw, _ := os.ReadFile(res)
	var rows []struct {
		Name, Checkpoint string
		Accuracy         float64
		ImageSize        int `json:"image_size"`
	}
	if err := json.Unmarshal(raw, &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%v: %s", err, raw)
	}
	for _, r := range rows {
		if r.Checkpoint != filepath.Join(cks, r.Name+".safetensors") {
			t.Errorf("%s: checkpoint %q", r.Name, r.Checkpoint)
		}
		js, errs, code := nas(t, "eval", r.Checkpoint, "--dataset", "synthetic", "--json")
		var e struct {
			Accuracy float64
			Arch     struct {
				ImageSize int `json:"image_size"`
			}
		}
		if err := json.Unmarshal([]byte(js), &e); code != 0 || err != nil {
			t.Fatalf("eval %s: exit %d %v %s", r.Checkpoint, code, err, errs)
		}
		if e.Accuracy != r.Accuracy || e.Arch.ImageSize != r.ImageSize {
			t.Errorf("%s: the checkpoint scores %v at %d, the family row says %v at %d", r.Name, e.Accuracy, e.Arch.ImageSize, r.Accuracy, r.ImageSize)
		}
	}
	if _, errs, code := nas(t, "family", arch, "--checkpoints", cks); code != 2 || !strings.Contains(errs, "--checkpoints needs --train") {
		t.Errorf("--checkpoints without --train: exit %d, %q", code, errs)
	}
}
