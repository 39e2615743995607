package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/effnas/effnas/store"
)

// child is the program run in a child process (TestChildProgram), whose
// standard error the test reads line by line.
type child struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	at    []time.Time // when each line came
	more  chan struct{}
	done  chan struct{}
}

func startChild(t *testing.T, name string, env []string, args ...string) *child {
	t.Helper()
	c := &child{name: name, more: make(chan struct{}, 1), done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChildProgram$", "-test.count=1")
	c.cmd.Env = append(append(os.Environ(), env...), childEnv+"="+strings.Join(args, "\x1f"))
	errs, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errs)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.at = append(c.at, time.Now())
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
		}
		c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("%s:\n%s", c.name, c.output())
		}
	})
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// waitFor waits for a line of standard error, from the first on, that re
// matches and accept takes, and returns its submatches.
func (c *child) waitFor(t *testing.T, re *regexp.Regexp, accept func([]string) bool, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for seen := 0; ; {
		c.mu.Lock()
		lines := c.lines[seen:]
		seen = len(c.lines)
		c.mu.Unlock()
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil && (accept == nil || accept(m)) {
				return m
			}
		}
		select {
		case <-c.more:
		case <-c.done:
			c.mu.Lock()
			n := len(c.lines)
			c.mu.Unlock()
			if n == seen {
				t.Fatalf("%s exited before a line matching %v", c.name, re)
			}
		case <-deadline:
			t.Fatalf("%s: no line matching %v within %v", c.name, re, timeout)
		}
	}
}

// last returns when the last line matching re came (zero: none).
func (c *child) last(re *regexp.Regexp) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.lines) - 1; i >= 0; i-- {
		if re.MatchString(c.lines[i]) {
			return c.at[i]
		}
	}
	return time.Time{}
}

// exit waits for the child to end and returns its exit status.
func (c *child) exit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", c.name, timeout)
		return -1
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func jsonTrials(t *testing.T, db string) []store.Trial {
	t.Helper()
	out, errs, code := nas(t, "trials", "--db", db, "--json")
	var trials []store.Trial
	if err := json.Unmarshal([]byte(out), &trials); code != 0 || err != nil {
		t.Fatalf("trials: exit %d %v\n%s", code, err, errs)
	}
	return trials
}

// remoteArgs is a search run on workers in these tests, and localSearch
// the same search run here, for reference.
var remoteArgs = []string{"search", "--evaluator", "synthetic", "--controller", "evolution", "--window", "4", "--trials", "24",
	"--parallel", "3", "--seed", "7", "--quiet"}

func localSearch(t *testing.T) []store.Trial {
	db := filepath.Join(t.TempDir(), "local.db")
	if _, errs, code := nas(t, append(slices.Clone(remoteArgs), "--db", db)...); code != 0 {
		t.Fatalf("local search: %s", errs)
	}
	return jsonTrials(t, db)
}

var (
	startedRe = regexp.MustCompile(`worker (\w+): trial (\d+) \(search \S+, attempt (\d+), delivery (\d+)\) started`)
	doneRe    = regexp.MustCompile(`worker (\w+): trial (\d+) done in`)
)

// checkRemoteTrials compares the trials of a search on workers with the
// local ones, and checks from the workers' logs that each trial (and the
// baseline) was finished by exactly one worker, the one recorded.
func checkRemoteTrials(t *testing.T, got, want []store.Trial, workers ...*child) {
	t.Helper()
	finished := map[int][]string{}
	for _, w := range workers {
		for _, m := range doneRe.FindAllStringSubmatch(w.output(), -1) {
			id, _ := strconv.Atoi(m[2])
			finished[id] = append(finished[id], m[1])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d trials, want %d", len(got), len(want))
	}
	for i, tr := range got {
		if !slices.Equal(tr.Decisions, want[i].Decisions) || tr.Reward != want[i].Reward {
			t.Fatalf("trial %d differs from the local search's: %v %v, want %v %v", tr.ID, tr.Decisions, tr.Reward, want[i].Decisions, want[i].Reward)
		}
		if tr.Status != store.StatusDone || tr.Attempts != 1 || tr.Interrupted != 0 {
			t.Fatalf("trial %d: %s, %d attempts, %d interruptions: %s", tr.ID, tr.Status, tr.Attempts, tr.Interrupted, tr.Error)
		}
		if len(finished[tr.ID]) != 1 || finished[tr.ID][0] != tr.Worker {
			t.Fatalf("trial %d recorded from worker %q, finished by %v", tr.ID, tr.Worker, finished[tr.ID])
		}
	}
	if len(finished[0]) != 1 {
		t.Fatalf("the baseline was finished by %v", finished[0])
	}
}

// A search on three worker processes: one worker is SIGKILLed in the
// middle of a trial, which goes to another worker once its lease runs
// out; another is stopped with Ctrl-C in the middle of a trial, which it
// hands back at once and exits with status 0. Every trial ends done
// exactly once, and the trials are those of a local search of the seed.
func TestSearchOnWorkersSurvivesWorkerKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	want := localSearch(t)
	db := filepath.Join(t.TempDir(), "s.db")
	url := "nats://127.0.0.1:" + freePort(t)
	coord := startChild(t, "coordinator", []string{"EFFNAS_QUEUE_LEASE=2s"},
		append(slices.Clone(remoteArgs), "--db", db, "--queue", "embedded", "--listen", strings.TrimPrefix(url, "nats://"), "--synthetic-delay", "300ms")...)
	worker := func(name string) *child {
		return startChild(t, name, nil, "worker", "--queue", url, "--name", name)
	}
	w1, w2, w3 := worker("w1"), worker("w2"), worker("w3")
	mid := func(m []string) bool { n, _ := strconv.Atoi(m[2]); return n >= 4 && m[4] == "1" }

	killed := w1.waitFor(t, startedRe, mid, 60*time.Second)[2]
	time.Sleep(100 * time.Millisecond)
	w1.cmd.Process.Signal(syscall.SIGKILL)
	handed := w2.waitFor(t, startedRe, func(m []string) bool { return mid(m) && m[2] != killed }, 60*time.Second)[2]
	time.Sleep(100 * time.Millisecond)
	w2.cmd.Process.Signal(syscall.SIGINT)
	if code := w2.exit(t, 10*time.Second); code != 0 || !strings.Contains(w2.output(), "trial "+handed+" handed back") {
		t.Fatalf("w2 stopped with status %d:\n%s", code, w2.output())
	}
	w4 := worker("w4")
	if code := coord.exit(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator: exit %d", code)
	}
	got := jsonTrials(t, db)
	checkRemoteTrials(t, got, want, w1, w2, w3, w4)
	// The killed trial came back after the lease, the handed-back one at
	// once (a second delivery), both to the workers left.
	for _, id := range []string{killed, handed} {
		n, _ := strconv.Atoi(id)
		if w := got[n-1].Worker; w != "w3" && w != "w4" {
			t.Fatalf("trial %s recorded from %s", id, w)
		}
	}
	for _, w := range []*child{w3, w4} {
		w.cmd.Process.Signal(syscall.SIGTERM)
		if code := w.exit(t, 10*time.Second); code != 0 || !strings.Contains(w.output(), "stopped") {
			t.Fatalf("%s: exit %d", w.name, code)
		}
	}
}

// The coordinator SIGKILLed in the middle of a search on three workers,
// with its embedded queue server, and started again: the workers ride it
// out, the search goes on and completes, no result is lost and no trial
// runs twice, and the trials are those of a local search. (The kill comes
// while trials train, not within 0.1 s of handing one out: the server
// writes which trials it handed out 10 times a second, so a trial handed
// out just before a kill is handed out again after the restart; its
// second result is dropped.)
func TestSearchOnWorkersSurvivesCoordinatorKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	want := localSearch(t)
	db := filepath.Join(t.TempDir(), "s.db")
	listen := "127.0.0.1:" + freePort(t)
	args := append(slices.Clone(remoteArgs), "--db", db, "--queue", "embedded", "--listen", listen, "--synthetic-delay", "1s")
	env := []string{"EFFNAS_QUEUE_LEASE=20s"}
	coord := startChild(t, "coordinator", env, args...)
	var workers []*child
	for i := range 3 {
		name := fmt.Sprintf("w%d", i+1)
		workers = append(workers, startChild(t, name, nil, "worker", "--queue", "nats://"+listen, "--name", name))
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var last time.Time
		for _, w := range workers {
			if at := w.last(startedRe); at.After(last) {
				last = at
			}
		}
		quiet := time.Since(last) > 300*time.Millisecond && time.Since(last) < 700*time.Millisecond
		if r, err := store.ReadSearch(db, ""); err == nil && countDone(r.Trials) >= 6 && quiet {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress")
		}
	}
	coord.cmd.Process.Signal(syscall.SIGKILL)
	coord.exit(t, 10*time.Second)
	r, err := store.ReadSearch(db, "")
	if err != nil || countDone(r.Trials) == len(want) {
		t.Fatalf("the search ended before the kill: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // trials end while no coordinator runs
	again := startChild(t, "coordinator again", env, args...)
	if code := again.exit(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator restarted: exit %d", code)
	}
	checkRemoteTrials(t, jsonTrials(t, db), want, workers...)
}

func countDone(trials []store.Trial) int {
	n := 0
	for _, t := range trials {
		if t.Status == store.StatusDone {
			n++
		}
	}
	return n
}

// writeTLS writes a CA and a certificate for 127.0.0.1 that it signed, as
// README's openssl commands make them.
func writeTLS(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caCert := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "effnas-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caCert, caCert, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(k)
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", leafDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// README's set-up for a network that is not trusted: the coordinator's
// queue asks for a token and speaks TLS; a worker with the token and the
// CA does the trials; a wrong token is refused at once with an error that
// does not show it, and a worker that does not trust the certificate says
// so.
func TestWorkersWithTokenAndTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	ca, cert, key := writeTLS(t, dir)
	token, wrong := filepath.Join(dir, "queue.token"), filepath.Join(dir, "wrong.token")
	os.WriteFile(token, []byte("s3cret-queue-token\n"), 0o600)
	os.WriteFile(wrong, []byte("guessed-token-value\n"), 0o600)
	db := filepath.Join(dir, "s.db")
	listen := "127.0.0.1:" + freePort(t)
	coord := startChild(t, "coordinator", nil, "search", "--evaluator", "synthetic", "--trials", "6", "--controller", "random", "--db", db,
		"--queue", "embedded", "--listen", listen, "--queue-token-file", token, "--tls-cert", cert, "--tls-key", key)
	coord.waitFor(t, regexp.MustCompile(`workers connect with: .* worker --queue tls://`+regexp.QuoteMeta(listen)), nil, 30*time.Second)
	url := "tls://" + listen
	for _, c := range []struct {
		args       []string
		want, hide string
	}{
		{[]string{"--token-file", wrong, "--ca", ca}, "refused the credentials", "guessed-token-value"},
		{[]string{"--token-file", token}, "not signed by a trusted authority", "s3cret"},
	} {
		w := startChild(t, "refused worker", nil, append([]string{"worker", "--queue", url}, c.args...)...)
		if code := w.exit(t, 30*time.Second); code != 1 || !strings.Contains(w.output(), c.want) || strings.Contains(w.output(), c.hide) {
			t.Fatalf("worker %v: exit %d, want 1 and %q:\n%s", c.args, code, c.want, w.output())
		}
	}
	w := startChild(t, "worker", nil, "worker", "--queue", url, "--token-file", token, "--ca", ca, "--name", "trusted")
	if code := coord.exit(t, 60*time.Second); code != 0 {
		t.Fatalf("coordinator: exit %d", code)
	}
	for _, tr := range jsonTrials(t, db) {
		if tr.Status != store.StatusDone || tr.Worker != "trusted" {
			t.Fatalf("trial %d: %s by %q", tr.ID, tr.Status, tr.Worker)
		}
	}
	w.cmd.Process.Signal(syscall.SIGINT)
	w.exit(t, 10*time.Second)
}
