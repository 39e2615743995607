package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// childEnv holds the arguments (separated by \x1f) with which
// TestChildProgram runs the program, in a child process a test signals.
const childEnv = "EFFNAS_NAS_TEST_ARGS"

// TestChildProgram is the child process of TestSearchCtrlCExits130.
func TestChildProgram(t *testing.T) {
	args := os.Getenv(childEnv)
	if args == "" {
		t.Skip("helper process")
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

func TestSearchCommandsSynthetic(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	out, errs, code := nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "12", "--controller", "evolution", "--quiet")
	if code != 0 || !strings.Contains(out, "12 of 12 trials done") {
		t.Fatalf("search: exit %d\n%s\n%s", code, out, errs)
	}
	// Synthetic results say so wherever trials are shown.
	out, _, code = nas(t, "trials", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 12+4 || !strings.Contains(out, report.SyntheticNote) {
		t.Fatalf("trials: exit %d\n%s", code, out)
	}
	out, _, _ = nas(t, "trials", "--db", db, "--csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 13 || len(rows[0]) != len(report.TrialColumns()) || rows[1][0] != "1" || rows[1][1] != "done" {
		t.Fatalf("csv: %v rows %d: %v", err, len(rows), rows[:2])
	}
	out, _, _ = nas(t, "best", "--db", db, "--json")
	var best store.Trial
	if err := json.Unmarshal([]byte(out), &best); err != nil || best.ID < 1 || best.Reward <= 0 || !best.Synthetic() ||
		best.Metrics.Host.Code.Commit != version.Get().Commit || best.Metrics.Host.Code.Module != version.Module {
		t.Fatalf("best: %v %+v", err, best)
	}
	for _, row := range rows[1:] {
		if r, _ := strconv.ParseFloat(row[3], 64); r > best.Reward {
			t.Fatalf("trial %s has reward %v above the best %v", row[0], r, best.Reward)
		}
	}
	if out, _, code := nas(t, "best", "--db", db); code != 0 || !strings.Contains(out, report.SyntheticNote) {
		t.Fatalf("best: %d %s", code, out)
	}
	if out, _, code := nas(t, "show", "3", "--db", db); code != 0 || !strings.HasPrefix(out, "trial 3 (done, 1 attempt)") ||
		!strings.Contains(out, report.SyntheticNote) || !strings.Contains(out, "measured by commit ") {
		t.Fatalf("show: %d %s", code, out)
	}
	if _, errs, code := nas(t, "show", "99", "--db", db); code != 1 || !strings.Contains(errs, "has 12 trials") {
		t.Fatalf("show 99: %d %s", code, errs)
	}
	if out, _, code := nas(t, "export", "--best", "--db", db); code != 0 || !strings.Contains(out, `"synthetic": true`) || !strings.Contains(out, `"exported_by"`) {
		t.Fatalf("export: %d %s", code, out)
	}
	dir := t.TempDir()
	if _, errs, code := nas(t, "report", "--db", db, "-o", dir); code != 0 {
		t.Fatalf("report: %d %s", code, errs)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, report.ReadmeFile)); !strings.Contains(string(md), "**Synthetic results.**") || !strings.Contains(string(md), "| code | search created by commit") {
		t.Fatalf("report README:\n%s", md)
	}
	// A second search in the same file makes --name necessary.
	nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "3", "--name", "other", "--controller", "random", "--quiet")
	if _, errs, code := nas(t, "trials", "--db", db); code != 1 || !strings.Contains(errs, "choose one with --name") {
		t.Fatalf("ambiguous: %d %s", code, errs)
	}
	if _, errs, code := nas(t, "trials", "--db", db, "--json", "--csv"); code != 2 || !strings.Contains(errs, "not both") {
		t.Fatalf("--json --csv: %d %s", code, errs)
	}
	if _, errs, code := nas(t, "trials", "--db", filepath.Join(t.TempDir(), "none.db")); code != 1 || !strings.Contains(errs, "no such database") {
		t.Fatalf("missing db: %d %s", code, errs)
	}
}

// Settings that mean nothing are usage errors (exit 2) that name the flag,
// and nothing is created on disk.
func TestSearchRejectsBadSettingsBeforeCreatingAnything(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--trials", "0"}, "--trials = 0: want 1 or more"},
		{[]string{"--trials", "-5"}, "--trials = -5: want 1 or more"},
		{[]string{"--parallel", "0"}, "--parallel = 0: want 1 to 256"},
		{[]string{"--parallel", "300"}, "--parallel = 300: want 1 to 256"},
		{[]string{"--seed", "0"}, "--seed = 0: want 1 or more"},
		{[]string{"--controller", "bogus"}, `--controller: controller: unknown strategy "bogus"`},
		{[]string{"--evaluator", "bogus"}, `--evaluator: unknown evaluator "bogus": want synthetic or train`},
		{[]string{"--window", "4"}, "--window = 4: evolution only"},
		{[]string{"--window", "0", "--controller", "evolution"}, "--window = 0: evolution only, 1 or more"},
		{[]string{"--rl-minibatch", "0"}, "--rl-minibatch = 0: want 1 or more"},
		{[]string{"--rl-lr", "0"}, "--rl-lr = 0: want a positive number"},
		{[]string{"--epochs", "0"}, "--epochs = 0: want a positive number"},
		{[]string{"--val", "0"}, "--val = 0: want 1 or more"},
		{[]string{"--name", ""}, `--name = "": want a search name`},
		{[]string{"--name", "a\nb"}, `--name = "a\nb": store: search name "a\nb" has control characters`},
	} {
		args := append([]string{"search", "--evaluator", "synthetic", "--db", db, "--quiet"}, c.args...)
		_, errs, code := nas(t, args...)
		if code != 2 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "usage: nas search") {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%v: a refused search created %s", c.args, db)
		}
	}
}

// A resumed search refuses a changed setting, naming the stored value, and
// a target below the trials it has.
func TestSearchResumeRefusesChanges(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	base := []string{"search", "--evaluator", "synthetic", "--db", db, "--quiet", "--controller", "rl", "--rl-minibatch", "4"}
	if _, errs, code := nas(t, append(base, "--trials", "5")...); code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--trials", "5", "--rl-lr", "0.01"}, `search "default" in ` + db + ` was created with --rl-lr 0.003, not 0.01: resume it with --rl-lr 0.003`},
		{[]string{"--trials", "5", "--rl-minibatch", "8"}, "was created with --rl-minibatch 4, not 8"},
		{[]string{"--trials", "5", "--seed", "2"}, "was created with --seed 1, not 2"},
		{[]string{"--trials", "5", "--controller", "random"}, "was created with --controller rl, not random"},
		{[]string{"--trials", "3"}, `--trials = 3: search "default" in ` + db + ` already has 5 trials (ask for 5 or more to continue it)`},
	} {
		_, errs, code := nas(t, append(base, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
	if out, errs, code := nas(t, append(base, "--trials", "8", "--parallel", "3")...); code != 0 || !strings.Contains(out, "8 of 8 trials done") {
		t.Fatalf("resume with more trials: %d %s %s", code, out, errs)
	}
}

// Without a terminal, progress is one line per finished trial (a log).
func TestSearchLogsOneLinePerTrial(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	_, errs, code := nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "9", "--controller", "random", "--parallel", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(\d)/9\] trial (\d) done: reward 0\.\d{4}, accuracy \d+\.\d\d%, step \d+\.\d ms; best so far trial \d, reward 0\.\d{4} \(synthetic\)$`)
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
		if strings.HasPrefix(l, "baseline ") {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		n++
		if m[1] != strconv.Itoa(n) {
			t.Fatalf("line %d counts %s", n, m[1])
		}
	}
	if n != 9 || strings.Contains(errs, "\r") {
		t.Fatalf("%d trial lines:\n%s", n, errs)
	}
	// More workers than the evolution window: one note names the setting.
	_, errs, _ = nas(t, "search", "--evaluator", "synthetic", "--db", db, "--name", "evo", "--trials", "3", "--controller", "evolution",
		"--window", "2", "--parallel", "5", "--quiet")
	if strings.Count(errs, "note:") != 1 || !strings.Contains(errs, "3 workers stay idle; a search created with a larger --window can use them") {
		t.Fatalf("idle note:\n%s", errs)
	}
}

// Ctrl-C stops a search with exit status 130 and prints the command that
// resumes it; that command finishes it.
func TestSearchCtrlCExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	db := filepath.Join(t.TempDir(), "s.db")
	args := []string{"search", "--evaluator", "synthetic", "--db", db, "--controller", "random", "--trials", "100000", "--name", "long run"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProgram$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r, err := store.ReadSearch(db, "long run"); err == nil && len(r.Trials) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress:\n%s", errs.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, errs.String())
	}
	want := "resume with: nas search --evaluator synthetic --db " + db + " --controller random --trials 100000 --name 'long run'\n"
	if !strings.HasSuffix(errs.String(), want) || !strings.Contains(out.String(), "stopped") {
		t.Fatalf("stdout %q\nstderr ends %q, want %q", out.String(), errs.String()[max(0, errs.Len()-300):], want)
	}
	r, err := store.ReadSearch(db, "long run")
	if err != nil || r.Search.Status != store.SearchInterrupted {
		t.Fatalf("record after Ctrl-C: %v %+v", err, r.Search)
	}
	// The same command (with a reachable target) finishes it.
	args[len(args)-3] = strconv.Itoa(len(r.Trials) + 5)
	if stdout, errs, code := nas(t, args...); code != 0 || !strings.Contains(stdout, "trials done (0 failed), finished") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, errs)
	}
}

// "nas space --json" is what --space takes: a search given it is the
// search made without it (the same space, so it resumes).
func TestSpaceJSONIsWhatSearchTakes(t *testing.T) {
	dir := t.TempDir()
	js, _, code := nas(t, "space", "--evaluator", "synthetic", "--json")
	p := filepath.Join(dir, "space.json")
	if code != 0 || os.WriteFile(p, []byte(js), 0o644) != nil {
		t.Fatal("space --json")
	}
	db := filepath.Join(dir, "s.db")
	if _, errs, code := nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "3", "--quiet"); code != 0 {
		t.Fatalf("search: %s", errs)
	}
	if out, errs, code := nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "6", "--space", p, "--quiet"); code != 0 ||
		!strings.Contains(out, "6 of 6 trials done") {
		t.Fatalf("the space of nas space is not the search's: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestCompareCommand(t *testing.T) {
	out, errs, code := nas(t, "compare", "--seeds", "2", "--trials", "20", "--controllers", "random,evolution")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "| evolution |") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if _, errs, code := nas(t, "compare", "--controllers", "magic"); code != 2 || !strings.Contains(errs, "magic") {
		t.Fatalf("bad controller: %d %s", code, errs)
	}
}

// README's claim, as a user runs it: the same seed gives the same trials
// with --parallel 1 and 4 (and 7, beyond the rl window: idle workers).
func TestSearchSameTrialsWhateverParallel(t *testing.T) {
	var ref []store.Trial
	for _, k := range []string{"1", "4", "7"} {
		db := filepath.Join(t.TempDir(), "s.db")
		if _, errs, code := nas(t, "search", "--evaluator", "synthetic", "--trials", "25", "--seed", "5", "--rl-minibatch", "5",
			"--parallel", k, "--db", db, "--quiet"); code != 0 {
			t.Fatalf("--parallel %s: %s", k, errs)
		}
		out, _, _ := nas(t, "trials", "--db", db, "--json")
		var trials []store.Trial
		if err := json.Unmarshal([]byte(out), &trials); err != nil || len(trials) != 25 {
			t.Fatalf("--parallel %s: %v, %d trials", k, err, len(trials))
		}
		if ref == nil {
			ref = trials
			continue
		}
		for i := range ref {
			if !slices.Equal(ref[i].Decisions, trials[i].Decisions) || ref[i].Reward != trials[i].Reward {
				t.Fatalf("--parallel %s: trial %d differs from --parallel 1", k, i+1)
			}
		}
	}
}
