package main

import (
	"flag"
	"os"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/internal/console"
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
					return cli.Usagef("--queue = %q: want the URL of a search's queue, such as nats://hostA:4222", *queue)
				case *grace < 0:
					return cli.Usagef("--grace = %v: want 0 or more", *grace)
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
				logf := console.Logf(stderr)
				if *name == "" {
					*name, _ = os.Hostname()
				}
				nc, err := remote.Connect(*queue, remote.ConnOptions{Name: "effnas worker " + *name, Token: token, Creds: *creds, CAFile: *ca, Wait: true, Logf: logf})
				if err != nil {
					return err
				}
				defer nc.Close()
				ctx, stop := cli.Interruptible()
				defer stop()
				defer cli.AfterInterrupt(ctx, stop, stderr, "")() // a second Ctrl-C ends the program at once
				host := trainer.HostInfoOn(ts.Device)
				logf("%s", console.WorkerStarted(*name, host, remote.Redact(*queue)))
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
