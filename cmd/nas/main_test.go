package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/version"
)

// nas runs the program in-process and returns stdout, stderr and the exit code.
func nas(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestDescribeJSONParams(t *testing.T) {
	out, errs, code := nas(t, "describe", "efficientnetv2-s", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var v struct {
		Params, ParamsTotal, MACs int64
		Arch                      json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	if raw["params"].(float64) != 21458488 || raw["params_total"].(float64) != 21612360 {
		t.Fatalf("params %v / %v", raw["params"], raw["params_total"])
	}
	if _, ok := raw["macs"]; !ok || len(v.Arch) == 0 {
		t.Fatalf("missing macs or arch: %s", out)
	}
}

func TestDescribeTableAndSizes(t *testing.T) {
	out, _, code := nas(t, "describe", "--image-size", "28", "--classes", "10", "bench-dw")
	if code != 0 || !strings.Contains(out, "225,034 trainable") || !strings.Contains(out, "r2_k3_s1_e6_i48_o64_se0.25") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestMalformedArchFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.json")
	os.WriteFile(p, []byte(`{"format":"effnas/arch","version":1,"stem":`), 0o644)
	out, errs, code := nas(t, "describe", p)
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "bad.json: invalid JSON: truncated") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	p2 := filepath.Join(dir, "stride.json")
	sample, _, _ := nas(t, "sample", "--seed", "4")
	os.WriteFile(p2, []byte(strings.Replace(sample, `"stride": 2`, `"stride": 3`, 1)), 0o644)
	_, errs, code = nas(t, "describe", p2)
	if code != 1 || !strings.Contains(errs, "stride = 3") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestSampleRoundTripsThroughDescribe(t *testing.T) {
	a, _, _ := nas(t, "sample", "--seed", "9")
	b, _, _ := nas(t, "sample", "--seed", "9")
	if a != b || a == "" {
		t.Fatal("same seed gave different samples")
	}
	p := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(p, []byte(a), 0o644)
	if _, errs, code := nas(t, "describe", p); code != 0 {
		t.Fatalf("describe sample: %s", errs)
	}
}

func TestSpaceAndHelp(t *testing.T) {
	out, _, code := nas(t, "space", "--evaluator", "synthetic")
	if code != 0 || !strings.Contains(out, "24 decisions, 1451188224 architectures") ||
		!strings.HasPrefix(out, `the space "nas search --evaluator synthetic" searches:`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	js, _, _ := nas(t, "space", "--json", "--evaluator", "synthetic")
	p := filepath.Join(t.TempDir(), "space.json")
	os.WriteFile(p, []byte(js), 0o644)
	out, _, code = nas(t, "space", p)
	if code != 0 || !strings.Contains(out, "1451188224") {
		t.Fatalf("space from file: exit %d\n%s", code, out)
	}
	if _, errs, code := nas(t, "space", p, "--search-se"); code != 2 || !strings.Contains(errs, "only --json") {
		t.Fatalf("file with proxy flags: exit %d %s", code, errs)
	}
	// The default is the space of "nas search" (the train evaluator's proxy).
	if _, err := data.FindDir("fashion-mnist", ""); err == nil {
		out, _, code = nas(t, "space")
		if code != 0 || !strings.Contains(out, `searches on fashion-mnist at width 0.5, depth 0.5:`) ||
			!strings.Contains(out, `"efficientnetv2-b0 (width 0.5, depth 0.5, 28x28x1, 10 classes)"`) || !strings.Contains(out, "24 decisions, 644972544 architectures") {
			t.Fatalf("default space: exit %d\n%s", code, out)
		}
	}
	for _, c := range []string{"describe", "space", "sample"} {
		if out, _, code := nas(t, c, "--help"); code != 0 || !strings.HasPrefix(out, "usage: nas "+c) {
			t.Errorf("%s --help: exit %d %q", c, code, out)
		}
	}
	if _, errs, code := nas(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	if _, errs, code := nas(t, "describe", "--bogus"); code != 2 || !strings.Contains(errs, "bogus") {
		t.Errorf("bad flag: %d %q", code, errs)
	}
}

// Every command's help ends with two or three examples, and their flags
// are the command's: each example parses.
func TestHelpEndsWithExamples(t *testing.T) {
	for name, c := range commands {
		out, _, code := nas(t, "help", name)
		if code != 0 || (name == "eval" && c.help == "") {
			t.Errorf("%s: exit %d, description %q", name, code, c.help)
		}
		i := strings.LastIndex(out, "\nexamples:\n")
		if i < 0 {
			t.Errorf("%s: help has no examples:\n%s", name, out)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out[i:]), "\n")[1:]
		if len(lines) < 2 || len(lines) > 3 {
			t.Errorf("%s: %d examples", name, len(lines))
		}
		for _, l := range lines {
			cmdline, _, _ := strings.Cut(l, "#")
			words := strings.Fields(cmdline)
			if len(words) < 2 || words[0] != "nas" || words[1] != name {
				t.Errorf("%s: example %q", name, l)
				continue
			}
			var args []string
			for _, w := range words[2:] {
				if w == ">" || w == "2>" {
					break
				}
				args = append(args, w)
			}
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c.flags(fs)
			if _, err := cli.ParseInterspersed(fs, args); err != nil {
				t.Errorf("%s: example %q: %v", name, l, err)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := nas(t, "version")
	c := version.Get()
	if code != 0 || !strings.HasPrefix(out, "effnas "+version.Module+" ") || (c.Commit != "" && !strings.Contains(out, "commit "+c.Commit)) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	js, _, _ := nas(t, "version", "--json")
	var back version.Code
	if err := json.Unmarshal([]byte(js), &back); err != nil || back.Commit != c.Commit || back.Module != version.Module {
		t.Fatalf("--json: %v\n%s", err, js)
	}
}
