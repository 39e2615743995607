package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/remote"
	"github.com/effnas/effnas/trainer"
)

func init() {
	register(&command{
		name:   "worker",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			queue := fs.String("queue", "", "URL of the search's queue: nats://host:4222, tls://host:4222 (several: comma-separated)")
			name := fs.String("name", "", "this worker's name in the trials (default: the host name)")
			dir := fs.String("data", "", "directory holding the datasets (default: $EFFNAS_DATA, then the system location)")
			tokenFile := fs.String("token-file", "", "file holding the queue's token")
			creds := fs.String("creds", "", "NATS credentials file (user JWT and seed)")
			ca := fs.String("ca", "", "PEM file of the authority that signed the queue server's certificate")
			grace := fs.Duration("grace", 0, "on Ctrl-C, let the running trial finish within this time before handing it back")
			dev := addDeviceFlags(fs)
			return func(args []string) error {
				switch {
				case !remote.IsURL(*queue):
					return usagef("--queue = %q: want the URL of a search's queue, such as nats://hostA:4222", *queue)
				case *grace < 0:
					return usagef("--grace = %v: want 0 or more", *grace)
				}
				ts, release, err := dev.settings(trainer.Settings{})
				if err != nil {
					return err
				}
				defer release()
				token, err := remote.ReadToken(*tokenFile)
				if err != nil {
					return err
				}
				logf := func(format string, a ...any) {
					fmt.Fprintf(stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
				}
				if *name == "" {
					*name, _ = os.Hostname()
				}
				nc, err := remote.Connect(*queue, remote.ConnOptions{Name: "effnas worker " + *name, Token: token, Creds: *creds, CAFile: *ca, Wait: true, Logf: logf})
				if err != nil {
					return err
				}
				defer nc.Close()
				ctx, stop := interruptible()
				defer stop()
				go func() { <-ctx.Done(); stop() }() // a second Ctrl-C ends the program at once
				host := trainer.HostInfo()
				if ts.Device != nil {
					host = trainer.HostInfoOn(ts.Device)
				}
				logf("worker %s (%s, %d cores, %s; host kind %s) takes trials from %s", *name, host.CPU, host.Cores, gpuBackend(host), host.Fingerprint(), remote.Redact(*queue))
				eval := remote.SearchEval(remote.EvalOptions{DataDir: *dir, Device: ts.Device, Logf: logf})
				if err := remote.Work(ctx, nc, eval, remote.WorkerOptions{Name: *name, Host: host.Fingerprint(), Grace: *grace, Logf: logf}); err != nil {
					return err
				}
				logf("worker %s stopped", *name)
				return nil
			}
		},
	})
}

// queueFlags choose where nas search sends its trials.
type queueFlags struct {
	queue, listen, tokenFile, tlsCert, tlsKey, creds, ca *string
}

func addQueueFlags(fs *flag.FlagSet) queueFlags {
	return queueFlags{
		queue:     fs.String("queue", "", "run the trials on workers (nas worker): embedded (a queue server in this process) or a NATS server's URL"),
		listen:    fs.String("listen", "127.0.0.1:4222", "--queue embedded: the address workers connect to (0.0.0.0:4222: every interface)"),
		tokenFile: fs.String("queue-token-file", "", "--queue: file holding the token every queue client must give (embedded), or this search gives (URL)"),
		tlsCert:   fs.String("tls-cert", "", "--queue embedded: the server's TLS certificate (PEM); with --tls-key it speaks TLS only"),
		tlsKey:    fs.String("tls-key", "", "--queue embedded: the key of --tls-cert (PEM)"),
		creds:     fs.String("creds", "", "--queue URL: NATS credentials file (user JWT and seed)"),
		ca:        fs.String("ca", "", "--queue URL: PEM file of the authority that signed the server's certificate"),
	}
}

func (q queueFlags) check(fs *flag.FlagSet) error {
	set := setFlags(fs)
	only := func(what string, names ...string) error {
		for _, n := range names {
			if set[n] {
				return usagef("--%s is for %s", n, what)
			}
		}
		return nil
	}
	switch {
	case *q.queue == "":
		return needs(set, "queue", "listen", "queue-token-file", "tls-cert", "tls-key", "creds", "ca")
	case *q.queue == remote.Embedded:
		if (*q.tlsCert == "") != (*q.tlsKey == "") {
			return usagef("--tls-cert and --tls-key go together")
		}
		return only("a queue server at a URL (--queue nats://...)", "creds", "ca")
	case remote.IsURL(*q.queue):
		return only("--queue embedded (a server at a URL has its own settings)", "listen", "tls-cert", "tls-key")
	}
	return usagef("--queue = %q: want embedded, or a NATS server's URL such as nats://host:4222", *q.queue)
}

// open starts the embedded queue server (its store beside the database)
// or connects to the server at the URL; remote.EnvLease and
// remote.EnvMaxDeliver set the trials' lease and deliveries (tests
// shorten them).
func (q queueFlags) open(db string, printf func(string, ...any)) (*remote.Queue, error) {
	token, err := remote.ReadToken(*q.tokenFile)
	if err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) { printf("queue: "+format+"\n", a...) }
	o := remote.QueueOptions{URL: *q.queue, Token: token, Creds: *q.creds, CAFile: *q.ca, Logf: logf,
		Coordinator: remote.CoordinatorOptions{Logf: logf}}
	if *q.queue == remote.Embedded {
		o.Listen, o.Dir, o.TLSCert, o.TLSKey = *q.listen, db+".queue", *q.tlsCert, *q.tlsKey
	}
	if err := o.Coordinator.FromEnv(); err != nil {
		return nil, err
	}
	return remote.OpenQueue(o)
}

// gpuBackend is the kernel backend of host, with the GPU it trains on.
func gpuBackend(h measure.Host) string {
	if h.GPU != nil {
		return h.Backend + ", GPU " + h.GPU.Name
	}
	return h.Backend
}
