package remote

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerOptions configure the embedded NATS server a coordinator can run
// instead of using an external one. The zero value of each field means
// the default written next to it.
type ServerOptions struct {
	// Listen is the host:port workers connect to. It must be a fixed port:
	// workers reconnect to the same address after a coordinator restart.
	// "" listens on no network at all (only this process connects: tests,
	// or workers in the same process). Port 0 picks a free port, for tests.
	Listen string
	// Dir holds the server's store (streams, consumers, acknowledgements);
	// keep it beside the search's database. Required.
	Dir string
	// User and Password, or Token, make clients authenticate. Set at most
	// one of the two.
	User, Password string
	Token          string
	// TLSCert and TLSKey (PEM files) make the server speak TLS only.
	TLSCert, TLSKey string
	// SyncEvery, when positive, makes the server sync its store to disk
	// that often instead of syncing every write before acknowledging it
	// (0, the default). It saves a synchronous write per message (0.2% to
	// 0.4% of a simulated search of 5 s trials on this project's test
	// machine, bench/queue-sim.sh), but a power loss may then take back
	// acknowledged writes, and the stream and its consumers' positions
	// need not come back in step.
	SyncEvery time.Duration
	// Logf receives the server's warnings and errors (nil: discarded).
	Logf func(format string, args ...any)
}

// Server is an embedded NATS server with JetStream.
type Server struct {
	ns   *server.Server
	opts ServerOptions
}

// StartServer starts an embedded server and returns once it accepts
// connections. Every write is synced to disk before it is acknowledged
// (unless SyncEvery), so a power loss cannot lose a trial or a result the
// server confirmed.
func StartServer(o ServerOptions) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("embedded server: store directory is empty: give the directory beside the database")
	}
	if o.Token != "" && (o.User != "" || o.Password != "") {
		return nil, errors.New("embedded server: both a token and a user/password given: choose one way to authenticate")
	}
	if (o.User == "") != (o.Password == "") {
		return nil, errors.New("embedded server: user and password must be given together")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("embedded server: TLS certificate and key must be given together")
	}
	opts := &server.Options{
		ServerName:    "effnas",
		JetStream:     true,
		StoreDir:      o.Dir,
		SyncAlways:    o.SyncEvery <= 0,
		SyncInterval:  o.SyncEvery,
		NoSigs:        true, // the program owns its signals
		NoLog:         true,
		Username:      o.User,
		Password:      o.Password,
		Authorization: o.Token,
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitListen(o.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if o.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("embedded server: TLS certificate %s and key %s: %w", o.TLSCert, o.TLSKey, err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tc, 5
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	log := &serverLog{logf: o.Logf}
	ns.SetLoggerV2(log, false, false, false)
	ns.Start()
	for deadline := time.Now().Add(10 * time.Second); !ns.ReadyForConnections(50 * time.Millisecond); {
		if msg := log.fatal(); msg != "" { // a port in use, an unusable store
			ns.Shutdown()
			return nil, fmt.Errorf("embedded server on %q: %s", o.Listen, msg)
		}
		if time.Now().After(deadline) {
			ns.Shutdown()
			return nil, fmt.Errorf("embedded server on %q did not start within 10s", o.Listen)
		}
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded server: JetStream did not start in %s: %s", o.Dir, log.fatal())
	}
	s := &Server{ns: ns, opts: o}
	if o.Listen != "" && !isLoopback(opts.Host) && o.Logf != nil {
		if o.User == "" && o.Token == "" {
			o.Logf("warning: the queue listens on %s without authentication: anyone who reaches it can read and submit trials", s.Addr())
		}
		if o.TLSCert == "" {
			o.Logf("warning: the queue listens on %s without TLS: trials, results and passwords cross the network in clear", s.Addr())
		}
	}
	return s, nil
}

// splitListen reads host:port; port 0 asks for a free port (the server's
// own 0 would mean 4222).
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %v: want host:port, such as 0.0.0.0:4222", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: port %q: want 0 to 65535", listen, p)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the address the server listens on ("" when it listens on no
// network).
func (s *Server) Addr() string {
	if s.opts.Listen == "" {
		return ""
	}
	if a, ok := s.ns.Addr().(*net.TCPAddr); ok {
		return a.String()
	}
	return s.opts.Listen
}

// Connect opens a connection to the server inside this process, with the
// server's own credentials: no network, no TLS.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(s.ns), nats.Name(name)}
	switch {
	case s.opts.Token != "":
		opts = append(opts, nats.Token(s.opts.Token))
	case s.opts.User != "":
		opts = append(opts, nats.UserInfo(s.opts.User, s.opts.Password))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the embedded server: %w", err)
	}
	return nc, nil
}

// Close stops the server and waits until its store is closed.
func (s *Server) Close() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// serverLog passes the server's warnings and errors on, and keeps the
// first fatal message: the server reports a port in use only that way.
type serverLog struct {
	logf func(string, ...any)
	mu   sync.Mutex
	msg  string
}

func (l *serverLog) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}

func (l *serverLog) Noticef(string, ...any) {}
func (l *serverLog) Debugf(string, ...any)  {}
func (l *serverLog) Tracef(string, ...any)  {}
func (l *serverLog) Warnf(format string, v ...any) {
	if l.logf != nil {
		l.logf("nats server: "+format, v...)
	}
}
func (l *serverLog) Errorf(format string, v ...any) {
	if l.logf != nil {
		l.logf("nats server: "+format, v...)
	}
}
func (l *serverLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	if l.msg == "" {
		l.msg = strings.TrimSpace(fmt.Sprintf(format, v...))
	}
	l.mu.Unlock()
	l.Errorf(format, v...)
}
