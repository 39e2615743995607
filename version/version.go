// Package version says which code produced a result: the module version,
// the commit of the source tree it was built from, and whether that tree
// had changes that were not committed. Result files record it (a trial's
// host record, the --json outputs, exports, reports, checkpoints), so that
// every number can be traced to the code that made it.
//
// Get finds the commit in the first of these places that has it:
//
//  1. Link-time flags, for builds that set them:
//     go build -ldflags "-X github.com/effnas/effnas/version.commit=HASH -X github.com/effnas/effnas/version.modified=false"
//  2. The build information the go command stamps into binaries built in a
//     git checkout (vcs.revision, vcs.modified), unless -buildvcs=false.
//  3. The git directory of the module's checkout, read without the git
//     binary (HEAD, the ref it names, packed-refs; a worktree's .git file is
//     followed). The checkout is found from the directory this package was
//     compiled from, or else from the working directory, and must hold this
//     module's go.mod. This covers "go run", "go test" and builds with
//     -buildvcs=false. It is read when the program runs, so a binary built
//     earlier reports the checkout as it is now: Source says so. Whether the
//     tree is modified is then asked of "git status" when the git binary is
//     installed, and left unknown (Modified nil) otherwise, never guessed.
//
// When none applies (a binary copied away from its checkout, built with
// -buildvcs=false and no flags), Commit is empty: the code is unknown, and
// the records say so.
package version

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Module is the module path of effnas.
const Module = "github.com/effnas/effnas"

// Set with -ldflags "-X github.com/effnas/effnas/version.commit=... -X
// github.com/effnas/effnas/version.modified=true|false".
var commit, modified string

// Sources of a Code.
const (
	SourceLinker    = "ldflags"
	SourceBuildInfo = "build info"
	SourceGitDir    = "git directory at run time"
)

// Code identifies the code that produced a result.
type Code struct {
	// Module is the module path, Version its version: "(devel)" for a
	// build from a checkout, a tag such as "v0.3.0" for "go install
	// MODULE@VERSION".
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
	// Commit is the full hash of the commit the code was built from; ""
	// when unknown.
	Commit string `json:"commit,omitempty"`
	// Modified says whether the tree had uncommitted changes; nil when
	// unknown.
	Modified *bool `json:"modified,omitempty"`
	// Source is where Commit and Modified were found (SourceLinker,
	// SourceBuildInfo, SourceGitDir); "" when nowhere.
	Source string `json:"source,omitempty"`
}

// IsZero reports whether c records nothing (for omitzero).
func (c Code) IsZero() bool {
	return c.Module == "" && c.Version == "" && c.Commit == "" && c.Modified == nil && c.Source == ""
}

// Short is the commit's first 12 hex digits, or "unknown".
func (c Code) Short() string {
	if c.Commit == "" {
		return "unknown"
	}
	return c.Commit[:min(12, len(c.Commit))]
}

// ModifiedText is "modified", "clean" or "modification unknown".
func (c Code) ModifiedText() string {
	switch {
	case c.Commit == "" && c.Modified == nil:
		return "commit unknown"
	case c.Modified == nil:
		return "modification unknown"
	case *c.Modified:
		return "modified"
	}
	return "clean"
}

// String is a one-line description, e.g. "commit 1a2b3c4d5e6f (clean)" or
// "commit unknown".
func (c Code) String() string {
	if c.Commit == "" {
		return "commit unknown"
	}
	return fmt.Sprintf("commit %s (%s)", c.Short(), c.ModifiedText())
}

// Compact is the one-word form for metadata strings: "HASH" (clean),
// "HASH+dirty" (modified), "HASH+maybe-dirty" (modification unknown), or
// "unknown" (no commit).
func (c Code) Compact() string {
	switch {
	case c.Commit == "":
		return "unknown"
	case c.Modified == nil:
		return c.Commit + "+maybe-dirty"
	case *c.Modified:
		return c.Commit + "+dirty"
	}
	return c.Commit
}

var (
	once   sync.Once
	cached Code
)

// Get returns the code version of this program (computed once).
func Get() Code {
	once.Do(func() { cached = detect(sourceDir(), workingDir()) })
	return cached
}

// sourceDir is the directory this file was compiled from, "" when the
// build trimmed paths.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	return filepath.Dir(file)
}

func workingDir() string {
	d, _ := os.Getwd()
	return d
}

func detect(dirs ...string) Code {
	c := Code{Module: Module}
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Path == Module {
		c.Version = bi.Main.Version
	}
	if c.Version == "" {
		c.Version = "(devel)"
	}
	if commit != "" {
		c.Commit, c.Source = commit, SourceLinker
		if m, ok := parseBool(modified); ok {
			c.Modified = &m
		}
		return c
	}
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c.Commit, c.Source = s.Value, SourceBuildInfo
			case "vcs.modified":
				if m, ok := parseBool(s.Value); ok {
					c.Modified = &m
				}
			}
		}
		if c.Commit != "" {
			return c
		}
		c.Modified = nil
	}
	for _, d := range dirs {
		root := ModuleRoot(d)
		if root == "" {
			continue
		}
		h, err := GitHead(root)
		if err != nil {
			continue
		}
		c.Commit, c.Source = h, SourceGitDir
		c.Modified = gitModified(root)
		return c
	}
	return c
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// ModuleRoot returns the directory at or above dir whose go.mod declares
// this module, or "".
func ModuleRoot(dir string) string {
	if dir == "" {
		return ""
	}
	for d := filepath.Clean(dir); ; {
		if modulePath(filepath.Join(d, "go.mod")) == Module {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return ""
		}
		d = up
	}
}

func modulePath(gomod string) string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// GitHead returns the commit checked out in the git work tree at root,
// reading the git directory's files (no git binary): root/.git is the git
// directory, or a file "gitdir: PATH" pointing at it (worktrees,
// submodules), whose "commondir" file names the directory holding the refs.
func GitHead(root string) (string, error) {
	gitDir, common, err := gitDirs(root)
	if err != nil {
		return "", err
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	h := strings.TrimSpace(string(head))
	for range 5 { // a symbolic ref may point at another one
		ref, ok := strings.CutPrefix(h, "ref:")
		if !ok {
			break
		}
		if h, err = resolveRef(strings.TrimSpace(ref), gitDir, common); err != nil {
			return "", err
		}
	}
	if !isHash(h) {
		return "", fmt.Errorf("version: %s: HEAD is %q, not a commit hash", gitDir, h)
	}
	return h, nil
}

func gitDirs(root string) (gitDir, common string, err error) {
	p := filepath.Join(root, ".git")
	st, err := os.Stat(p)
	if err != nil {
		return "", "", err
	}
	gitDir = p
	if !st.IsDir() {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", "", err
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
		if !ok {
			return "", "", fmt.Errorf("version: %s: not a gitdir file", p)
		}
		gitDir = strings.TrimSpace(rest)
		if !filepath.IsAbs(gitDir) {
			gitDir = filepath.Join(root, gitDir)
		}
	}
	common = gitDir
	if data, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common = strings.TrimSpace(string(data))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
	}
	return gitDir, common, nil
}

// resolveRef reads a ref ("refs/heads/main") as a loose file of the git
// directory or of the common directory, or from packed-refs.
func resolveRef(ref, gitDir, common string) (string, error) {
	if strings.Contains(ref, "..") {
		return "", fmt.Errorf("version: bad ref %q", ref)
	}
	for _, d := range []string{gitDir, common} {
		if data, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(data)), nil
		}
	}
	data, err := os.ReadFile(filepath.Join(common, "packed-refs"))
	if err != nil {
		return "", fmt.Errorf("version: ref %s not found", ref)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if hash, name, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == ref && isHash(hash) {
			return hash, nil
		}
	}
	return "", fmt.Errorf("version: ref %s not found", ref)
}

func isHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// gitModified asks "git status" whether the work tree at root has changes
// (untracked files count, as in the go command's vcs.modified); nil when
// the git binary is missing or fails.
func gitModified(root string) *bool {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, git, "-C", root, "status", "--porcelain").Output()
	if err != nil {
		return nil
	}
	m := len(bytes.TrimSpace(out)) > 0
	return &m
}
