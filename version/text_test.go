package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestWriteText(t *testing.T) {
	yes := true
	platform := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, c := range []struct {
		code Code
		want string
	}{
		{Code{Module: "m", Version: "v1.2.3", Commit: "abc", Modified: &yes, Source: SourceGitDir},
			"effnas m v1.2.3\ncommit abc, modified true (from " + SourceGitDir + ")\n"},
		{Code{Module: "m", Version: "(devel)"},
			"effnas m (devel)\ncommit unknown, modified unknown (from no build information, link flags or git directory)\n"},
	} {
		var b strings.Builder
		if err := c.code.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want+platform {
			t.Errorf("got %q, want %q", b.String(), c.want+platform)
		}
	}
}
