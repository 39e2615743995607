package version

import (
	"fmt"
	"io"
	"runtime"
)

// WriteText writes c as "nas version" prints it: the module and version,
// the commit, whether it was modified and where that was found, and the
// Go toolchain and platform.
func (c Code) WriteText(w io.Writer) error {
	src, commit, modified := c.Source, c.Commit, "unknown"
	if src == "" {
		src = "no build information, link flags or git directory"
	}
	if commit == "" {
		commit = "unknown"
	}
	if c.Modified != nil {
		modified = fmt.Sprint(*c.Modified)
	}
	_, err := fmt.Fprintf(w, "effnas %s %s\ncommit %s, modified %s (from %s)\n%s %s/%s\n", c.Module, c.Version, commit, modified, src,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
