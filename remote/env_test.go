package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTopologyFromEnv(t *testing.T) {
	t.Setenv(EnvLease, "2s")
	t.Setenv(EnvMaxDeliver, "7")
	top := Topology{AckWait: time.Minute, Replicas: 3}
	if err := top.FromEnv(); err != nil || top != (Topology{AckWait: 2 * time.Second, MaxDeliver: 7, Replicas: 3}) {
		t.Fatalf("%+v %v", top, err)
	}
	t.Setenv(EnvMaxDeliver, "many")
	if err := top.FromEnv(); err == nil || !strings.HasPrefix(err.Error(), EnvMaxDeliver+": ") {
		t.Fatalf("a bad %s: %v", EnvMaxDeliver, err)
	}
	t.Setenv(EnvLease, "")
	t.Setenv(EnvMaxDeliver, "")
	if err := top.FromEnv(); err != nil || top.AckWait != 2*time.Second {
		t.Fatalf("unset variables changed %+v (%v)", top, err)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	os.WriteFile(p, []byte("  s3cret\n"), 0o600)
	if tok, err := ReadToken(p); tok != "s3cret" || err != nil {
		t.Fatalf("%q %v", tok, err)
	}
	if tok, err := ReadToken(""); tok != "" || err != nil {
		t.Fatalf("no file: %q %v", tok, err)
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := ReadToken(p); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := ReadToken(filepath.Join(dir, "missing")); err == nil || !strings.HasPrefix(err.Error(), "token file: ") {
		t.Fatalf("missing file: %v", err)
	}
}
