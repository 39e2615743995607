package version

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	hashA = "0123456789abcdef0123456789abcdef01234567"
	hashB = "89abcdef0123456789abcdef0123456789abcdef"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkout makes a fake module checkout with a .git directory.
func checkout(t *testing.T) string {
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "// effnas\nmodule "+Module+"\n\ngo 1.26\n")
	return root
}

func TestGitHeadReadsTheGitDirectory(t *testing.T) {
	// A branch as a loose ref.
	root := checkout(t)
	write(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/main\n")
	write(t, filepath.Join(root, ".git", "refs", "heads", "main"), hashA+"\n")
	if h, err := GitHead(root); err != nil || h != hashA {
		t.Fatalf("loose ref: %q %v", h, err)
	}
	// The same branch only in packed-refs.
	os.Remove(filepath.Join(root, ".git", "refs", "heads", "main"))
	write(t, filepath.Join(root, ".git", "packed-refs"), "# pack-refs with: peeled fully-peeled sorted\n"+hashB+" refs/heads/main\n^"+hashA+"\n")
	if h, err := GitHead(root); err != nil || h != hashB {
		t.Fatalf("packed ref: %q %v", h, err)
	}
	// A detached HEAD.
	write(t, filepath.Join(root, ".git", "HEAD"), hashA+"\n")
	if h, err := GitHead(root); err != nil || h != hashA {
		t.Fatalf("detached: %q %v", h, err)
	}
	// A ref that exists nowhere is an error, not a guess.
	write(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/gone\n")
	if h, err := GitHead(root); err == nil {
		t.Fatalf("missing ref gave %q", h)
	}

	// A worktree: .git is a file naming its git directory, whose commondir
	// holds the refs.
	main := t.TempDir()
	write(t, filepath.Join(main, "refs", "heads", "feature"), hashB+"\n")
	wt := checkout(t)
	gitDir := filepath.Join(main, "worktrees", "feature")
	write(t, filepath.Join(gitDir, "HEAD"), "ref: refs/heads/feature\n")
	write(t, filepath.Join(gitDir, "commondir"), "../..\n")
	write(t, filepath.Join(wt, ".git"), "gitdir: "+gitDir+"\n")
	if h, err := GitHead(wt); err != nil || h != hashB {
		t.Fatalf("worktree: %q %v", h, err)
	}
}

func TestModuleRootNeedsThisModule(t *testing.T) {
	root := checkout(t)
	sub := filepath.Join(root, "a", "b")
	os.MkdirAll(sub, 0o755)
	if got := ModuleRoot(sub); got != root {
		t.Fatalf("ModuleRoot(%s) = %q, want %q", sub, got, root)
	}
	other := t.TempDir()
	write(t, filepath.Join(other, "go.mod"), "module example.com/other\n")
	write(t, filepath.Join(other, ".git", "HEAD"), hashA+"\n")
	if got := ModuleRoot(other); got != "" {
		t.Fatalf("another module's checkout was taken: %q", got)
	}
	// detect ignores a checkout of another module and reports nothing.
	if c := detect(other); c.Commit != "" || c.Source != "" || c.Modified != nil || c.String() != "commit unknown" {
		t.Fatalf("detect in another module: %+v", c)
	}
}

func TestLinkerFlagsWin(t *testing.T) {
	defer func(c, m string) { commit, modified = c, m }(commit, modified)
	commit, modified = hashA, "false"
	c := detect()
	if c.Commit != hashA || c.Source != SourceLinker || c.Modified == nil || *c.Modified || c.String() != "commit 0123456789ab (clean)" {
		t.Fatalf("%+v %s", c, c)
	}
	if c.Compact() != hashA {
		t.Fatalf("compact %q", c.Compact())
	}
	modified = "true"
	if c := detect(); c.Compact() != hashA+"+dirty" || c.String() != "commit 0123456789ab (modified)" {
		t.Fatalf("modified: %q %s", c.Compact(), c)
	}
	modified = ""
	if c := detect(); c.Modified != nil || c.ModifiedText() != "modification unknown" || c.Compact() != hashA+"+maybe-dirty" {
		t.Fatalf("unset modified: %+v", c)
	}
	if (Code{}).Compact() != "unknown" {
		t.Fatal("no commit")
	}
}

// The test binary (built without VCS stamps) finds the commit of this
// checkout, the one git itself reports.
func TestGetFindsThisCheckout(t *testing.T) {
	root := ModuleRoot(workingDir())
	if root == "" {
		t.Skip("not run inside the module's checkout")
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("the checkout has no .git")
	}
	c := Get()
	if c.Module != Module || c.Version == "" || c.Commit == "" {
		t.Fatalf("Get() = %+v", c)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		if c.Modified != nil {
			t.Fatalf("without git, modified must be unknown: %+v", c)
		}
		return
	}
	out, err := exec.Command(git, "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("git rev-parse failed:", err)
	}
	if want := strings.TrimSpace(string(out)); c.Source == SourceGitDir && c.Commit != want {
		t.Fatalf("commit %s, git says %s", c.Commit, want)
	}
	b, _ := json.Marshal(c)
	var back Code
	if err := json.Unmarshal(b, &back); err != nil || back.Commit != c.Commit || back.Source != c.Source {
		t.Fatalf("JSON round trip: %s -> %+v %v", b, back, err)
	}
}
