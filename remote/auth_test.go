package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// oneTrial runs a trial from a coordinator on cnc to a worker on wnc.
func oneTrial(t *testing.T, cnc, wnc *nats.Conn, search string) {
	t.Helper()
	c := newCoordinator(t, cnc, search, Topology{})
	goWorker(t, wnc, sleepEval("w1", 0), WorkerOptions{Name: "w1"})
	c.Submit(task(1))
	l := newLedger()
	l.collect(t, c, 1, 10*time.Second)
	if r, _ := l.get(1); r.Err() != nil || r.Worker != "w1" {
		t.Fatalf("result %+v", r)
	}
}

func mustConnect(t *testing.T, url string, o ConnOptions) *nats.Conn {
	t.Helper()
	nc, err := Connect(url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// connectRefused checks that url fails at once with one clear error that
// does not show the secret, also for a worker that waits for its server.
func connectRefused(t *testing.T, url, secret string, o ConnOptions) {
	t.Helper()
	for _, wait := range []bool{false, true} {
		o.Wait = wait
		start := time.Now()
		nc, err := Connect(url, o)
		if err == nil {
			nc.Close()
			t.Fatalf("%s (wait %v): connected", url, wait)
		}
		msg := err.Error()
		if !strings.Contains(msg, ": the server refused the credentials (nats: Authorization Violation): "+
			"check the user and password or the token in the URL, or the credentials file") {
			t.Errorf("%s (wait %v): %q", url, wait, msg)
		}
		if secret != "" && strings.Contains(msg, secret) {
			t.Errorf("the error shows the secret: %q", msg)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s (wait %v): refused only after %v", url, wait, d)
		}
	}
}

func TestPasswordAuth(t *testing.T) {
	s, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir(), User: "effnas", Password: "right-pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	connectRefused(t, "nats://effnas:wrong-pw@"+s.Addr(), "wrong-pw", ConnOptions{})
	connectRefused(t, "nats://"+s.Addr(), "", ConnOptions{})
	if _, err := Connect("nats://effnas:wrong-pw@"+s.Addr(), ConnOptions{}); err == nil ||
		!strings.HasPrefix(err.Error(), "nats://***@"+s.Addr()+": ") {
		t.Errorf("the error names the server as %v", err)
	}
	oneTrial(t, connectIn(t, s, "coordinator"), mustConnect(t, "nats://effnas:right-pw@"+s.Addr(), ConnOptions{}), "pw")
}

func TestTokenAuth(t *testing.T) {
	s, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir(), Token: "s3cret-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	connectRefused(t, "nats://not-it@"+s.Addr(), "not-it", ConnOptions{})
	connectRefused(t, "nats://"+s.Addr(), "not-it", ConnOptions{Token: "not-it"})
	mustConnect(t, "nats://"+s.Addr(), ConnOptions{Token: "s3cret-token"})
	oneTrial(t, connectIn(t, s, "coordinator"), mustConnect(t, "nats://s3cret-token@"+s.Addr(), ConnOptions{}), "token")
}

func TestServerOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		o    ServerOptions
		want string
	}{
		{ServerOptions{}, "store directory is empty"},
		{ServerOptions{Dir: dir, User: "u", Password: "p", Token: "t"}, "both a token and a user/password given"},
		{ServerOptions{Dir: dir, User: "u"}, "user and password must be given together"},
		{ServerOptions{Dir: dir, TLSCert: "c.pem"}, "TLS certificate and key must be given together"},
		{ServerOptions{Dir: dir, Listen: "4222"}, `listen address "4222": address 4222: missing port in address: want host:port`},
		{ServerOptions{Dir: dir, Listen: "localhost:http"}, `listen address "localhost:http": port "http": want 0 to 65535`},
		{ServerOptions{Dir: dir, TLSCert: "/nonexistent/c.pem", TLSKey: "/nonexistent/k.pem"}, "TLS certificate /nonexistent/c.pem and key /nonexistent/k.pem: "},
	} {
		s, err := StartServer(c.o)
		if err == nil {
			s.Close()
			t.Errorf("%+v: started", c.o)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v: want %q", c.o, err, c.want)
		}
	}
	// A port already taken is reported as such, not as a timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s, err := StartServer(ServerOptions{Dir: dir, Listen: l.Addr().String()}); err == nil {
		s.Close()
		t.Error("started on a port in use")
	} else if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("port in use: %v", err)
	}
}

// writeTLS writes a CA and a server certificate for 127.0.0.1 signed by it.
func writeTLS(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "effnas test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// The embedded server with a certificate speaks TLS only; a worker that
// trusts its CA connects (nats:// upgrades, tls:// insists), one that does
// not is told so.
func TestTLS(t *testing.T) {
	ca, cert, key := writeTLS(t)
	s, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir(), TLSCert: cert, TLSKey: key, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	_, err = Connect("nats://tok@"+s.Addr(), ConnOptions{})
	if err == nil || !strings.Contains(err.Error(), "the server's TLS certificate is not signed by a trusted authority") {
		t.Errorf("untrusted certificate: %v", err)
	}
	nc := mustConnect(t, "nats://tok@"+s.Addr(), ConnOptions{CAFile: ca})
	if !nc.TLSRequired() {
		t.Error("the connection is not TLS")
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("no TLS state: %v", err)
	}
	oneTrial(t, connectIn(t, s, "coordinator"), mustConnect(t, "tls://tok@"+s.Addr(), ConnOptions{CAFile: ca}), "tls")
	if _, err := Connect("nats://"+s.Addr(), ConnOptions{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil ||
		!strings.Contains(err.Error(), "CA file: ") {
		t.Errorf("missing CA file: %v", err)
	}
}

// A credentials file (user JWT and seed) logs into a server in operator
// mode, as a managed NATS deployment runs; a user of an account the server
// does not know is refused.
func TestCredsFile(t *testing.T) {
	operator, _ := nkeys.CreateOperator()
	opub, _ := operator.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	oc, err = jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	account := func(js bool) nkeys.KeyPair {
		kp, _ := nkeys.CreateAccount()
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		ajwt, err := ac.Encode(operator)
		if err != nil {
			t.Fatal(err)
		}
		if err := resolver.Store(pub, ajwt); err != nil {
			t.Fatal(err)
		}
		return kp
	}
	sys, acc := account(false), account(true)
	syspub, _ := sys.PublicKey()
	creds := func(acc nkeys.KeyPair, name string) string {
		u, _ := nkeys.CreateUser()
		upub, _ := u.PublicKey()
		ujwt, err := jwt.NewUserClaims(upub).Encode(acc)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := u.Seed()
		data, err := jwt.FormatUserConfig(ujwt, seed)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, TrustedOperators: []*jwt.OperatorClaims{oc},
		SystemAccount: syspub, AccountResolver: resolver})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := ns.ClientURL()

	stranger, _ := nkeys.CreateAccount() // signed by no operator the server trusts
	connectRefused(t, url, "", ConnOptions{Creds: creds(stranger, "stranger.creds")})
	if _, err := Connect(url, ConnOptions{Creds: filepath.Join(t.TempDir(), "missing.creds")}); err == nil ||
		!strings.Contains(err.Error(), "credentials file: ") {
		t.Errorf("missing credentials file: %v", err)
	}
	oneTrial(t, mustConnect(t, url, ConnOptions{Creds: creds(acc, "coordinator.creds")}),
		mustConnect(t, url, ConnOptions{Creds: creds(acc, "worker.creds")}), "creds")
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"nats://u:p@h:4222":               "nats://***@h:4222",
		"nats://tok@h:4222,tls://h2:4222": "nats://***@h:4222,tls://h2:4222",
		"nats://h:4222":                   "nats://h:4222",
	} {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

// workerPermissions is all a worker may publish and subscribe to (the
// README lists them for servers that give each worker its own user).
var workerPermissions = &server.Permissions{
	Publish: &server.SubjectPermission{Allow: []string{
		"$JS.API.CONSUMER.INFO.TRIALS.workers",     // find the queue
		"$JS.API.CONSUMER.MSG.NEXT.TRIALS.workers", // ask for a trial
		"$JS.ACK.TRIALS.workers.>",                 // heartbeat, ack, hand back
		"results.>",                                // send results
	}},
	Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
}

// A worker whose user may only use the subjects above does its work.
func TestWorkerPermissions(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Users: []*server.User{
			{Username: "coordinator", Password: "c-pw"},
			{Username: "worker", Password: "w-pw", Permissions: workerPermissions},
		}})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	addr := ns.Addr().String()
	var violations []string
	var mu sync.Mutex
	wnc := mustConnect(t, "nats://worker:w-pw@"+addr, ConnOptions{Logf: func(f string, a ...any) {
		mu.Lock()
		violations = append(violations, fmt.Sprintf(f, a...))
		mu.Unlock()
	}})
	c := newCoordinator(t, mustConnect(t, "nats://coordinator:c-pw@"+addr, ConnOptions{}), "perm", Topology{AckWait: time.Second})
	inner := sleepEval("w1", 1500*time.Millisecond) // heartbeats too
	goWorker(t, wnc, func(ctx context.Context, tk Task) (json.RawMessage, error) {
		if tk.Trial == 2 {
			return nil, errors.New("out of memory")
		}
		return inner(ctx, tk)
	}, WorkerOptions{Name: "w1"})
	c.Submit(task(1))
	c.Submit(task(2))
	l := newLedger()
	l.collect(t, c, 2, 15*time.Second)
	if r, _ := l.get(1); r.Err() != nil || r.Delivery != 1 {
		t.Errorf("trial 1: delivery %d, %v", r.Delivery, r.Err())
	}
	if r, _ := l.get(2); r.Error != "out of memory" {
		t.Errorf("trial 2: %q", r.Error)
	}
	assertQueuesEmpty(t, &Server{ns: ns, opts: ServerOptions{User: "coordinator", Password: "c-pw"}})
	mu.Lock()
	defer mu.Unlock()
	for _, v := range violations {
		if strings.Contains(strings.ToLower(v), "permission") {
			t.Errorf("worker: %s", v)
		}
	}
}

// A server that listens beyond this host without authentication or TLS
// says so; a worker that reaches a server by a name its certificate does
// not carry refuses it.
func TestServerWarningsAndCertificateName(t *testing.T) {
	var logs []string
	var mu sync.Mutex
	logf := func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() }
	s, err := StartServer(ServerOptions{Listen: "0.0.0.0:0", Dir: t.TempDir(), Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	all := strings.Join(logs, "\n")
	if !strings.Contains(all, "without authentication") || !strings.Contains(all, "without TLS") {
		t.Fatalf("no warnings: %q", logs)
	}
	ca, cert, key := writeTLS(t)
	logs = nil
	s, err = StartServer(ServerOptions{Listen: "0.0.0.0:0", Dir: t.TempDir(), Token: "tok", TLSCert: cert, TLSKey: key, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if len(logs) != 0 {
		t.Fatalf("warnings with a token and TLS: %q", logs)
	}
	_, port, _ := net.SplitHostPort(s.Addr())
	// 127.0.0.2 reaches the server too, but its certificate is for
	// 127.0.0.1 and localhost.
	_, err = Connect("tls://127.0.0.2:"+port, ConnOptions{Token: "tok", CAFile: ca})
	if err == nil || !strings.Contains(err.Error(), "certificate is for another host name") {
		t.Fatalf("another name: %v", err)
	}
	oneTrial(t, connectIn(t, s, "coordinator"), mustConnect(t, "tls://localhost:"+port, ConnOptions{Token: "tok", CAFile: ca}), "name")
}
