package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
)

// WireVersion is the version of the Task and Result documents this program
// writes and reads. It changes only when an old reader would misread a new
// document; added optional fields keep it.
const WireVersion = 2

// Task is what a worker receives: one attempt at one trial.
type Task struct {
	Version int    `json:"v"`
	Search  string `json:"search"`
	Trial   int    `json:"trial"` // 0 is the baseline measurement
	Attempt int    `json:"attempt"`
	Seed    uint64 `json:"seed"`
	// Baseline asks only for the reference figures of the reward.
	Baseline bool             `json:"baseline,omitempty"`
	Arch     searchspace.Arch `json:"arch"`
	// Evaluator describes how to evaluate (the evaluator's own settings:
	// a search.EvaluatorSpec for SearchEval).
	Evaluator json.RawMessage `json:"evaluator,omitempty"`
	// HostKind, when set, is the kind of host the search times on: a
	// worker of another kind must not run the task (search.Task.HostKind).
	HostKind *measure.Host `json:"host_kind,omitempty"`
}

// Result is what a worker sends back for a task, or what the coordinator
// makes up when no worker could finish it.
type Result struct {
	Version int    `json:"v"`
	Search  string `json:"search"`
	Trial   int    `json:"trial"`
	Attempt int    `json:"attempt"`
	// Delivery counts how often this attempt's message was handed to a
	// worker: 1 unless a worker died, stalled past its lease or handed it
	// back before.
	Delivery int `json:"delivery"`
	// Worker names the worker that ran it ("" when no worker finished it).
	Worker string `json:"worker,omitempty"`
	// Host is the fingerprint of the worker's machine.
	Host        string          `json:"host,omitempty"`
	Measurement json.RawMessage `json:"measurement,omitempty"`
	// Error is set when the attempt failed; Err says why in a form errors.Is
	// understands.
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished"`

	kind error        // ErrMaxDeliveries, ErrRejected, ErrDispatch or nil
	ack  func() error // what Ack does; nil means nothing to do
}

// Errors a Result's Err wraps when the coordinator, not a worker, ended the
// attempt.
var (
	// ErrMaxDeliveries: every worker the attempt went to died, stalled past
	// its lease or handed it back, MaxDeliver times in all. Retrying the
	// same architecture is likely to kill more workers.
	ErrMaxDeliveries = errors.New("no worker finished the trial")
	// ErrRejected: a worker could not read the task and refused it.
	ErrRejected = errors.New("a worker rejected the trial")
	// ErrDispatch: the server refused to store the task.
	ErrDispatch = errors.New("the trial could not be queued")
)

// ErrNotForThisWorker, wrapped by an EvalFunc's error, says that the task
// is meant for another kind of worker (a search that times its trials on
// another kind of host): Work hands the task back for another worker and
// returns the error, so that a misplaced worker stops instead of taking
// trial after trial.
var ErrNotForThisWorker = errors.New("the trial is not for this worker")

// Err is nil for a successful attempt. Otherwise its text is r.Error and it
// wraps ErrMaxDeliveries, ErrRejected or ErrDispatch when the coordinator
// ended the attempt.
func (r Result) Err() error {
	if r.Error == "" {
		return nil
	}
	return &resultError{msg: r.Error, kind: r.kind}
}

type resultError struct {
	msg  string
	kind error
}

func (e *resultError) Error() string { return e.msg }
func (e *resultError) Unwrap() error { return e.kind }

// Ack tells the coordinator that the result is durably recorded (or
// deliberately ignored as a duplicate): only then is it removed from the
// server. A result that is never acknowledged is delivered again, after
// a restart or after the results' lease, so the caller must treat a result
// for a trial it already recorded as a duplicate.
func (r Result) Ack() error {
	if r.ack == nil {
		return nil
	}
	return r.ack()
}

// Subjects, streams, consumers and headers of the protocol (see the package
// documentation).
const (
	trialsStream      = "TRIALS"
	resultsStream     = "RESULTS"
	advisoriesStream  = "TRIAL_ADVISORIES"
	workersConsumer   = "workers"
	trialsPrefix      = "trials."
	resultsPrefix     = "results."
	headerSearch      = "Nas-Search"
	headerTrial       = "Nas-Trial"
	headerAttempt     = "Nas-Attempt"
	advisoryMaxDeliv  = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + trialsStream + "." + workersConsumer
	advisoryTerminate = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + trialsStream + "." + workersConsumer
)

var plainToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// token turns a search name into one subject token, also usable in consumer
// names and message ids. Plain names are kept as they are; any other name
// (dots, spaces, slashes, very long) becomes "~" and a hash, which no plain
// name can equal.
func token(search string) string {
	if plainToken.MatchString(search) {
		return search
	}
	sum := sha256.Sum256([]byte(search))
	return "~" + hex.EncodeToString(sum[:8])
}

func trialMsgID(search string, trial, attempt int) string {
	return token(search) + "/" + strconv.Itoa(trial) + "/" + strconv.Itoa(attempt)
}

// resultSubject is where the result of one attempt is published: a
// coordinator that restarts with its server looks there before it queues
// an attempt again (a restarted server forgets the message ids of tasks
// already taken).
func resultSubject(search string, trial, attempt int) string {
	return resultsPrefix + token(search) + "." + strconv.Itoa(trial) + "." + strconv.Itoa(attempt)
}

// resultMsgID includes the attempt: a retried trial's result must not be
// taken for a duplicate of the failed attempt's.
func resultMsgID(search string, trial, attempt int) string {
	return trialMsgID(search, trial, attempt) + "/result"
}

// decodeTask reads a task in two steps, so that a task whose architecture
// does not decode or validate still yields its trial and attempt (and becomes a failed
// result instead of an unreadable message). errVersion reports a task from
// a newer (or older, incompatible) coordinator.
func decodeTask(data []byte) (t Task, archErr error, err error) {
	var env struct {
		Version   int             `json:"v"`
		Search    string          `json:"search"`
		Trial     int             `json:"trial"`
		Attempt   int             `json:"attempt"`
		Seed      uint64          `json:"seed"`
		Baseline  bool            `json:"baseline"`
		Arch      json.RawMessage `json:"arch"`
		Evaluator json.RawMessage `json:"evaluator"`
		HostKind  *measure.Host   `json:"host_kind"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return Task{}, nil, fmt.Errorf("unreadable task: %w", err)
	}
	if env.Version != WireVersion {
		return Task{}, nil, fmt.Errorf("%w: the task has wire version %d, this worker reads version %d: run the same effnas version on the coordinator and the workers",
			errVersion, env.Version, WireVersion)
	}
	if env.Search == "" || env.Trial < 0 || env.Attempt < 1 {
		return Task{}, nil, fmt.Errorf("unreadable task: search %q, trial %d, attempt %d", env.Search, env.Trial, env.Attempt)
	}
	t = Task{Version: env.Version, Search: env.Search, Trial: env.Trial, Attempt: env.Attempt, Seed: env.Seed,
		Baseline: env.Baseline, Evaluator: env.Evaluator, HostKind: env.HostKind}
	if t.Arch, err = searchspace.DecodeArch(env.Arch); err != nil {
		archErr = fmt.Errorf("architecture: %w", err)
	}
	return t, archErr, nil
}

var errVersion = errors.New("incompatible wire version")
