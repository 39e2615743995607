package remote

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables that override a Topology (FromEnv): tests and
// demonstrations shorten the lease and the deliveries with them.
const (
	EnvLease      = "EFFNAS_QUEUE_LEASE"       // AckWait, a duration ("20s")
	EnvMaxDeliver = "EFFNAS_QUEUE_MAX_DELIVER" // MaxDeliver, an integer
)

// FromEnv sets the fields of t that EnvLease and EnvMaxDeliver give.
func (t *Topology) FromEnv() error {
	if v := os.Getenv(EnvLease); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %v", EnvLease, err)
		}
		t.AckWait = d
	}
	if v := os.Getenv(EnvMaxDeliver); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s: %v", EnvMaxDeliver, err)
		}
		t.MaxDeliver = n
	}
	return nil
}

// ReadToken reads a token file ("" reads nothing): the token stays off
// command lines that other users of the host can list. An empty file is an
// error.
func ReadToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return token, nil
}
