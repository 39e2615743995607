package cli

import (
	"flag"

	"github.com/effnas/effnas/remote"
)

// QueueFlags choose where nas search sends its trials: --queue (embedded,
// or a NATS server's URL) and the settings of either kind.
type QueueFlags struct {
	Queue, Listen, TokenFile, TLSCert, TLSKey, Creds, CA string
}

// AddQueueFlags adds the flags of QueueFlags to fs.
func AddQueueFlags(fs *flag.FlagSet) *QueueFlags {
	q := &QueueFlags{}
	fs.StringVar(&q.Queue, "queue", "", "run the trials on workers (nas worker): embedded (a queue server in this process) or a NATS server's URL")
	fs.StringVar(&q.Listen, "listen", "127.0.0.1:4222", "--queue embedded: the address workers connect to (0.0.0.0:4222: every interface)")
	fs.StringVar(&q.TokenFile, "queue-token-file", "", "--queue: file holding the token every queue client must give (embedded), or this search gives (URL)")
	fs.StringVar(&q.TLSCert, "tls-cert", "", "--queue embedded: the server's TLS certificate (PEM); with --tls-key it speaks TLS only")
	fs.StringVar(&q.TLSKey, "tls-key", "", "--queue embedded: the key of --tls-cert (PEM)")
	fs.StringVar(&q.Creds, "creds", "", "--queue URL: NATS credentials file (user JWT and seed)")
	fs.StringVar(&q.CA, "ca", "", "--queue URL: PEM file of the authority that signed the server's certificate")
	return q
}

// Check refuses a --queue that is neither embedded nor a URL, and flags
// given (on fs) that the kind of queue does not use.
func (q *QueueFlags) Check(fs *flag.FlagSet) error {
	set := Given(fs)
	only := func(what string, names ...string) error {
		for _, n := range names {
			if set[n] {
				return Usagef("--%s is for %s", n, what)
			}
		}
		return nil
	}
	switch {
	case q.Queue == "":
		return Needs(set, "queue", "listen", "queue-token-file", "tls-cert", "tls-key", "creds", "ca")
	case q.Queue == remote.Embedded:
		if (q.TLSCert == "") != (q.TLSKey == "") {
			return Usagef("--tls-cert and --tls-key go together")
		}
		return only("a queue server at a URL (--queue nats://...)", "creds", "ca")
	case remote.IsURL(q.Queue):
		return only("--queue embedded (a server at a URL has its own settings)", "listen", "tls-cert", "tls-key")
	}
	return Usagef("--queue = %q: want embedded, or a NATS server's URL such as nats://host:4222", q.Queue)
}

// Options are the queue's options for the search database db: the
// embedded server keeps its store beside the database; remote.EnvLease
// and remote.EnvMaxDeliver set the trials' lease and deliveries (tests
// shorten them). The queue logs through printf, each line after "queue: ".
func (q *QueueFlags) Options(db string, printf func(string, ...any)) (remote.QueueOptions, error) {
	token, err := remote.ReadToken(q.TokenFile)
	if err != nil {
		return remote.QueueOptions{}, err
	}
	logf := func(format string, a ...any) { printf("queue: "+format+"\n", a...) }
	o := remote.QueueOptions{URL: q.Queue, Token: token, Creds: q.Creds, CAFile: q.CA, Logf: logf,
		Coordinator: remote.CoordinatorOptions{Logf: logf}}
	if q.Queue == remote.Embedded {
		o.Listen, o.Dir, o.TLSCert, o.TLSKey = q.Listen, db+".queue", q.TLSCert, q.TLSKey
	}
	err = o.Coordinator.FromEnv()
	return o, err
}

// Open starts the embedded queue server or connects to the server at the
// URL, with Options.
func (q *QueueFlags) Open(db string, printf func(string, ...any)) (*remote.Queue, error) {
	o, err := q.Options(db, printf)
	if err != nil {
		return nil, err
	}
	return remote.OpenQueue(o)
}
