package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/effnas/effnas/search"
)

// QueueOptions say where a search sends its trials (nas search --queue).
type QueueOptions struct {
	// URL is "embedded" (a server in this process, on Listen, storing in
	// Dir) or the URL of a NATS server with JetStream (several,
	// comma-separated, for a cluster).
	URL string
	// Listen and Dir are the embedded server's address and store
	// (ServerOptions).
	Listen, Dir string
	// Token is required from every client of the embedded server, or
	// given to the server at URL.
	Token string
	// TLSCert and TLSKey make the embedded server speak TLS only.
	TLSCert, TLSKey string
	// Creds and CAFile are for the server at URL (ConnOptions).
	Creds, CAFile string
	// Coordinator configures the search's coordinator (its topology:
	// leases, deliveries).
	Coordinator CoordinatorOptions
	// Logf receives the server's and the connection's trouble (nil:
	// discarded).
	Logf func(format string, args ...any)
}

// Embedded is QueueOptions.URL for a server in this process.
const Embedded = "embedded"

// Queue is a search's way to its workers: the embedded server or a
// connection to an external one.
type Queue struct {
	o      QueueOptions
	server *Server
	nc     *nats.Conn
}

// OpenQueue starts the embedded server or connects to the server at
// o.URL.
func OpenQueue(o QueueOptions) (*Queue, error) {
	q := &Queue{o: o}
	if o.URL == Embedded {
		if o.Creds != "" || o.CAFile != "" {
			return nil, errors.New("a credentials file and a CA are for a queue server at a URL, not the embedded one")
		}
		s, err := StartServer(ServerOptions{Listen: o.Listen, Dir: o.Dir, Token: o.Token, TLSCert: o.TLSCert, TLSKey: o.TLSKey, Logf: o.Logf})
		if err != nil {
			return nil, err
		}
		nc, err := s.Connect("effnas coordinator")
		if err != nil {
			s.Close()
			return nil, err
		}
		q.server, q.nc = s, nc
		return q, nil
	}
	if o.Listen != "" || o.TLSCert != "" || o.TLSKey != "" {
		return nil, fmt.Errorf("a listen address and a TLS certificate are for the embedded queue server, not the one at %s", redactURLs(o.URL))
	}
	nc, err := Connect(o.URL, ConnOptions{Name: "effnas coordinator", Token: o.Token, Creds: o.Creds, CAFile: o.CAFile, Logf: o.Logf})
	if err != nil {
		return nil, err
	}
	q.nc = nc
	return q, nil
}

// Executor returns the search executor that sends trials through the
// queue, each with the evaluator spec.
func (q *Queue) Executor(spec search.EvaluatorSpec) (*Executor, error) {
	return NewExecutor(q.nc, spec, q.o.Coordinator)
}

// WorkerURL is the URL workers connect to: for the embedded server its
// address (with this host's name when it listens on every interface),
// tls:// when it speaks TLS; otherwise the URL given, without
// credentials. "" when the embedded server listens on no network.
func (q *Queue) WorkerURL() string {
	if q.server == nil {
		return redactURLs(q.o.URL)
	}
	addr := q.server.Addr()
	if addr == "" {
		return ""
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "0.0.0.0" || host == "::") {
		if name, err := os.Hostname(); err == nil && name != "" {
			addr = net.JoinHostPort(name, port)
		}
	}
	scheme := "nats://"
	if q.o.TLSCert != "" {
		scheme = "tls://"
	}
	return scheme + addr
}

// Close closes the connection and stops the embedded server.
func (q *Queue) Close() {
	q.nc.Close()
	if q.server != nil {
		q.server.Close()
	}
}

// IsURL reports whether s looks like a NATS server URL (nats://, tls://,
// ws://, wss://, or several comma-separated).
func IsURL(s string) bool {
	for _, u := range strings.Split(s, ",") {
		scheme, _, ok := strings.Cut(strings.TrimSpace(u), "://")
		if !ok || (scheme != "nats" && scheme != "tls" && scheme != "ws" && scheme != "wss") {
			return false
		}
	}
	return true
}
