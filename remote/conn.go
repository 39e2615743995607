package remote

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnOptions configure a connection to a NATS server. Credentials can
// also ride in the URL: nats://user:password@host:4222 or
// nats://token@host:4222. TLS is used when the URL says tls:// or the
// server requires it; the server's certificate is checked against the
// system's roots unless CAFile is given.
type ConnOptions struct {
	// Name identifies the client to the server (its monitoring shows it).
	Name string
	// Token authenticates when the URL carries no credentials: read from a
	// file or the environment, it stays off command lines that other users
	// of the host can list.
	Token string
	// Creds is a credentials file (a user JWT and its nkey seed, as nsc
	// writes them) for servers run in operator mode.
	Creds string
	// CAFile is a PEM file of the certificate authorities to trust for
	// the server's TLS certificate, instead of the system's.
	CAFile string
	// Wait keeps trying when no server answers yet (a worker started
	// before its coordinator) instead of failing at once. Wrong
	// credentials and TLS errors fail at once either way.
	Wait bool
	// Logf receives disconnections and reconnections (nil: discarded).
	Logf func(format string, args ...any)
}

// Connect dials a NATS server. The connection reconnects forever after a
// loss: a coordinator restart or a network cut must not end a worker.
func Connect(urls string, o ConnOptions) (*nats.Conn, error) {
	shown := redactURLs(urls)
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				logf("lost the connection to %s: %v; reconnecting", shown, err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { logf("reconnected to %s", redactURLs(nc.ConnectedUrl())) }),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) { logf("%v", err) }),
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.Creds != "" {
		if _, err := os.Stat(o.Creds); err != nil {
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	nc, err := nats.Connect(urls, opts...)
	if err == nil {
		return nc, nil
	}
	if o.Wait && unreachable(err) {
		logf("no server answers at %s yet (%v); waiting for it", shown, err)
		nc, err = nats.Connect(urls, append(opts, nats.RetryOnFailedConnect(true),
			nats.ConnectHandler(func(nc *nats.Conn) { logf("connected to %s", redactURLs(nc.ConnectedUrl())) }))...)
		if err == nil {
			return nc, nil
		}
	}
	return nil, explainConnErr(shown, err)
}

// unreachable tells a server that is not there (yet) from one that
// refuses us.
func unreachable(err error) bool {
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "i/o timeout") ||
		strings.Contains(s, "no such host") || strings.Contains(s, "network is unreachable")
}

func explainConnErr(shown string, err error) error {
	s := strings.ToLower(err.Error())
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	switch {
	case errors.Is(err, nats.ErrAuthorization) || strings.Contains(s, "authorization violation") ||
		strings.Contains(s, "authentication"):
		return fmt.Errorf("%s: the server refused the credentials (%v): check the user and password or the token in the URL, or the credentials file", shown, err)
	case errors.As(err, &unknownCA) || strings.Contains(s, "certificate signed by unknown authority"):
		return fmt.Errorf("%s: the server's TLS certificate is not signed by a trusted authority (%v): give the CA certificate that signed it", shown, err)
	case errors.As(err, &badHost):
		return fmt.Errorf("%s: the server's TLS certificate is for another host name (%v): connect by the name the certificate carries", shown, err)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("%s: TLS was asked for (tls://) but the server does not offer it", shown)
	case unreachable(err):
		return fmt.Errorf("%s: no server answers (%v): is the coordinator or NATS server running and listening on that address?", shown, err)
	}
	return fmt.Errorf("%s: %w", shown, err)
}

// Redact hides user names, passwords and tokens in a comma-separated list
// of URLs, for messages.
func Redact(urls string) string { return redactURLs(urls) }

// redactURLs hides user names, passwords and tokens in a comma-separated
// list of URLs, for messages.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			parts[i] = p
			continue
		}
		u.User = nil
		parts[i] = strings.Replace(u.String(), "://", "://***@", 1)
	}
	return strings.Join(parts, ",")
}
