package remote

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	for _, name := range []string{"default", "rl-vs-random_2", strings.Repeat("a", 64)} {
		if got := token(name); got != name {
			t.Errorf("token(%q) = %q: a plain name stays as it is", name, got)
		}
	}
	seen := map[string]string{}
	for _, name := range []string{"a.b", "a b", "a/b", "a*", "a>", "", strings.Repeat("a", 65), "~0123456789abcdef"} {
		tok := token(name)
		if !strings.HasPrefix(tok, "~") || len(tok) != 17 || strings.ContainsAny(tok, ". */>") {
			t.Errorf("token(%q) = %q: want ~ and 16 hex digits", name, tok)
		}
		if other, ok := seen[tok]; ok {
			t.Errorf("%q and %q share the token %q", name, other, tok)
		}
		seen[tok] = name
	}
	if trialMsgID("s", 12, 2) != "s/12/2" || resultMsgID("s", 12, 2) != "s/12/2/result" {
		t.Errorf("message ids %q %q", trialMsgID("s", 12, 2), resultMsgID("s", 12, 2))
	}
}

func TestTaskRoundTrip(t *testing.T) {
	in := task(3)
	in.Version, in.Search, in.Baseline = WireVersion, "s", true
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, archErr, err := decodeTask(data)
	if err != nil || archErr != nil {
		t.Fatal(err, archErr)
	}
	again, _ := json.Marshal(out)
	if string(again) != string(data) {
		t.Errorf("task changed on the way:\n%s\n%s", data, again)
	}
	for data, want := range map[string]string{
		`[]`: "unreadable task: ",
		`{"v":2,"search":"","trial":1,"attempt":1}`:  `unreadable task: search "", trial 1, attempt 1`,
		`{"v":2,"search":"s","trial":1,"attempt":0}`: `unreadable task: search "s", trial 1, attempt 0`,
		`{"v":1,"search":"s","trial":1,"attempt":1}`: "incompatible wire version: the task has wire version 1, this worker reads version 2",
	} {
		if _, _, err := decodeTask([]byte(data)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", data, err, want)
		}
	}
	if _, archErr, err := decodeTask([]byte(`{"v":2,"search":"s","trial":1,"attempt":1,"arch":{"format":"x"}}`)); err != nil ||
		archErr == nil || !strings.HasPrefix(archErr.Error(), "architecture: ") {
		t.Errorf("bad architecture: %v, %v", err, archErr)
	}
}

func TestResultErr(t *testing.T) {
	if (Result{}).Err() != nil {
		t.Error("a result without error has an Err")
	}
	r := Result{Error: "trial 1 attempt 1: handed to a worker 3 times", kind: ErrMaxDeliveries}
	if err := r.Err(); !errors.Is(err, ErrMaxDeliveries) || err.Error() != r.Error {
		t.Errorf("Err() = %v", err)
	}
	if err := (Result{Error: "loss is NaN"}).Err(); errors.Is(err, ErrMaxDeliveries) || errors.Is(err, ErrRejected) {
		t.Errorf("a worker's error wraps a coordinator's: %v", err)
	}
	if (Result{}).Ack() != nil {
		t.Error("Ack of a result with nothing to acknowledge failed")
	}
}

func TestCoordinatorOptionErrors(t *testing.T) {
	nc := connectIn(t, newServer(t, false), "c")
	for _, c := range []struct {
		search string
		topo   Topology
		want   string
	}{
		{"", Topology{}, "coordinator: the search name is empty"},
		{"s", Topology{AckWait: time.Millisecond}, "coordinator: ack wait = 1ms: want at least 100ms"},
		{"s", Topology{MaxDeliver: -1}, "coordinator: max deliver = -1: want at least 1"},
		{"s", Topology{Replicas: 7}, "coordinator: replicas = 7: want 1 to 5"},
		{"s", Topology{Replicas: 3}, "coordinator: setting up the queue: stream TRIALS: "},
	} {
		_, err := NewCoordinator(context.Background(), nc, c.search, CoordinatorOptions{Topology: c.topo})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q %+v: %v, want %q", c.search, c.topo, err, c.want)
		}
	}
	if err := Work(context.Background(), nc, sleepEval("w", 0), WorkerOptions{Grace: -time.Second}); err == nil ||
		err.Error() != "worker: grace = -1s: want 0 or more" {
		t.Errorf("negative grace: %v", err)
	}
}
