package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/effnas/effnas/remote"
)

func TestQueueFlagsCheck(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for no error
	}{
		{nil, ""},
		{[]string{"--listen", "0.0.0.0:4222"}, "--listen needs --queue"},
		{[]string{"--creds", "c"}, "--creds needs --queue"},
		{[]string{"--queue", "embedded"}, ""},
		{[]string{"--queue", "embedded", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--queue", "embedded", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--listen", ":1"}, ""},
		{[]string{"--queue", "embedded", "--ca", "ca.pem"}, "--ca is for a queue server at a URL (--queue nats://...)"},
		{[]string{"--queue", "nats://h:4222", "--creds", "c", "--ca", "a"}, ""},
		{[]string{"--queue", "nats://h:4222", "--listen", ":1"}, "--listen is for --queue embedded (a server at a URL has its own settings)"},
		{[]string{"--queue", "hostA"}, `--queue = "hostA": want embedded, or a NATS server's URL such as nats://host:4222`},
	} {
		fs := flag.NewFlagSet("search", flag.ContinueOnError)
		q := AddQueueFlags(fs)
		parse(t, fs, c.args...)
		err := q.Check(fs)
		if (c.want == "" && err != nil) || (c.want != "" && (err == nil || err.Error() != c.want || !errors.As(err, new(UsageError)))) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestQueueFlagsOptions(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	q := AddQueueFlags(fs)
	parse(t, fs, "--queue", "embedded", "--queue-token-file", token, "--listen", "0.0.0.0:5000", "--tls-cert", "c", "--tls-key", "k")
	t.Setenv(remote.EnvLease, "7s")
	var logged []string
	o, err := q.Options("runs/x.db", func(f string, a ...any) { logged = append(logged, f) })
	if err != nil || o.URL != remote.Embedded || o.Token == "" || o.Listen != "0.0.0.0:5000" || o.Dir != "runs/x.db.queue" ||
		o.TLSCert != "c" || o.TLSKey != "k" || o.Coordinator.AckWait != 7*time.Second {
		t.Fatalf("%+v %v", o, err)
	}
	o.Logf("lease %v", 1)
	if len(logged) != 1 || logged[0] != "queue: lease %v\n" {
		t.Fatalf("log %q", logged)
	}

	fs = flag.NewFlagSet("search", flag.ContinueOnError)
	q = AddQueueFlags(fs)
	parse(t, fs, "--queue", "nats://h:4222", "--creds", "u.creds", "--ca", "ca.pem")
	t.Setenv(remote.EnvLease, "")
	if o, err := q.Options("x.db", nil); err != nil || o.URL != "nats://h:4222" || o.Listen != "" || o.Dir != "" || o.Creds != "u.creds" || o.CAFile != "ca.pem" {
		t.Fatalf("URL: %+v %v", o, err)
	}
	t.Setenv(remote.EnvLease, "soon")
	if _, err := q.Options("x.db", nil); err == nil || !strings.Contains(err.Error(), remote.EnvLease) {
		t.Fatalf("bad lease: %v", err)
	}
}
