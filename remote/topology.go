package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Topology settings shared by every search on a server. The zero value of
// each field means the default written next to it.
type Topology struct {
	// AckWait is a trial's lease: a worker that neither heartbeats nor
	// answers for this long is taken for dead and its trial goes to another
	// worker (60s). Workers heartbeat every AckWait/4, so it bounds how late
	// a dead worker is noticed, not how long a trial may train. Keep it far
	// above a coordinator restart plus reconnection (seconds), or trials
	// that were running during a restart are run twice.
	AckWait time.Duration
	// MaxDeliver is how often one attempt is handed to a worker before it
	// is given up as a trial that kills its workers (3). A worker that is
	// stopped and hands its trial back counts too.
	MaxDeliver int
	// ResultAckWait is how long a result handed to the coordinator may stay
	// unacknowledged before the server offers it again (5s). A coordinator
	// that died with results in its hands (it pulls them in bursts) gets
	// them back after it; recording one takes milliseconds, and one
	// offered again while it is recorded is dropped as a duplicate.
	ResultAckWait time.Duration
	// Replicas of each stream: 1 on a single server, 3 on a cluster (1).
	Replicas int
}

func (t Topology) withDefaults() Topology {
	if t.AckWait == 0 {
		t.AckWait = time.Minute
	}
	if t.MaxDeliver == 0 {
		t.MaxDeliver = 3
	}
	if t.ResultAckWait == 0 {
		t.ResultAckWait = 5 * time.Second
	}
	if t.Replicas == 0 {
		t.Replicas = 1
	}
	return t
}

func (t Topology) validate() error {
	switch {
	case t.AckWait < 100*time.Millisecond:
		return fmt.Errorf("ack wait = %v: want at least 100ms", t.AckWait)
	case t.MaxDeliver < 1:
		return fmt.Errorf("max deliver = %d: want at least 1", t.MaxDeliver)
	case t.ResultAckWait < 100*time.Millisecond:
		return fmt.Errorf("result ack wait = %v: want at least 100ms", t.ResultAckWait)
	case t.Replicas < 1 || t.Replicas > 5:
		return fmt.Errorf("replicas = %d: want 1 to 5", t.Replicas)
	}
	return nil
}

const (
	// duplicateWindow is how long the server remembers a message id. The
	// default (2 minutes) is shorter than a coordinator may be down.
	duplicateWindow = time.Hour
	maxMsgSize      = 1 << 20
	// maxPending bounds the trials out with workers at once and the idle
	// workers waiting for one (the server's defaults are 1000 and 512).
	maxPending = 4096
	// resultsBuffer is how many results the coordinator pulls and keeps
	// ready for its caller at once.
	resultsBuffer = 256
	// publishTimeout bounds one attempt at a publish or an ack before it
	// is tried again under the same id. A message sent while the server
	// restarts may get no answer at all; the retry finds it stored.
	publishTimeout = 2 * time.Second
	// keepAge keeps results and captured advisories for a coordinator
	// that is down.
	keepAge = 7 * 24 * time.Hour
)

// ensureTopology creates the streams and consumers, or updates them to the
// settings given; it is safe to run at every start and from several
// coordinators of different searches.
func ensureTopology(ctx context.Context, js jetstream.JetStream, search string, t Topology) error {
	streams := []jetstream.StreamConfig{
		{Name: trialsStream, Subjects: []string{trialsPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardNew, Duplicates: duplicateWindow,
			MaxMsgSize: maxMsgSize, Replicas: t.Replicas,
			Description: "effnas: trials waiting for a worker"},
		// Results are kept, not removed when acknowledged: a work queue that
		// empties at every result rewrites its block file each time, one
		// more synced file creation and deletion per trial.
		{Name: resultsStream, Subjects: []string{resultsPrefix + ">"}, Retention: jetstream.LimitsPolicy,
			MaxAge: keepAge, Storage: jetstream.FileStorage, Duplicates: duplicateWindow,
			MaxMsgSize: maxMsgSize, Replicas: t.Replicas,
			Description: "effnas: results of the workers"},
		// The server publishes advisories only to whoever listens at that
		// moment; the stream keeps them for a coordinator that is down.
		{Name: advisoriesStream, Subjects: []string{advisoryMaxDeliv, advisoryTerminate},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, MaxAge: keepAge,
			Replicas: t.Replicas, Description: "effnas: trials given up by the server"},
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	tok := token(search)
	consumers := []struct {
		stream string
		cfg    jetstream.ConsumerConfig
	}{
		{trialsStream, jetstream.ConsumerConfig{Durable: workersConsumer, FilterSubject: trialsPrefix + ">",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: t.AckWait, MaxDeliver: t.MaxDeliver,
			MaxAckPending: maxPending, MaxWaiting: maxPending,
			Description: "effnas workers"}},
		// A search's consumers start at their creation, before its first
		// task: results and advisories kept from an older search of the
		// same name are not its own.
		{resultsStream, jetstream.ConsumerConfig{Durable: "results-" + tok, FilterSubject: resultsPrefix + tok + ".>",
			DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy, AckWait: t.ResultAckWait, MaxDeliver: -1,
			MaxAckPending: maxPending,
			Description:   "effnas coordinator of search " + tok}},
		// Each search's coordinator reads every advisory and keeps those of
		// its own trials.
		{advisoriesStream, jetstream.ConsumerConfig{Durable: "advisories-" + tok,
			DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: t.ResultAckWait, MaxDeliver: -1, MaxAckPending: maxPending,
			Description: "effnas coordinator of search " + tok}},
	}
	for _, c := range consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg); err != nil {
			return fmt.Errorf("consumer %s/%s: %w", c.stream, c.cfg.Durable, err)
		}
	}
	return nil
}
