package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of the etcd flags.
const (
	defaultEtcdPrefix  = "/policygraph/"
	defaultEtcdTimeout = 5 * time.Second
)

// etcdConfig is where the graph lives when it is not in the data directory:
// an etcd cluster (-etcd and the flags beside it, as etcdctl takes them).
// The zero value (no endpoints) means the embedded Badger store.
type etcdConfig struct {
	// raw is -etcd as given; endpoints is it split and checked.
	raw       string
	endpoints []string
	prefix    string
	user      string
	password  string
	cacert    string
	cert      string
	key       string
	timeout   time.Duration
	// tls is what -etcd-cacert, -etcd-cert, -etcd-key and https:// endpoints
	// make; nil: plaintext.
	tls *tls.Config
}

// enabled reports whether the store is an etcd cluster.
func (e etcdConfig) enabled() bool { return len(e.endpoints) > 0 }

// LogValue implements slog.LogValuer: what a log line may say of the
// cluster. Never the password.
func (e etcdConfig) LogValue() slog.Value {
	if !e.enabled() {
		return slog.StringValue("")
	}
	return slog.GroupValue(
		slog.String("endpoints", strings.Join(e.endpoints, ",")),
		slog.String("prefix", e.prefix),
		slog.String("user", e.user),
		slog.Bool("tls", e.tls != nil),
		slog.String("timeout", e.timeout.String()),
	)
}

// etcdFlags defines the etcd flags on fs, each with its environment
// fallback: the service's and every command that opens the store (backup,
// restore, check, export, import, seed). The returned func, called after
// parsing, reports a malformed value (flag or variable), reads the TLS files
// and fills in e's endpoints and tls.
func etcdFlags(fs *flag.FlagSet, getenv func(string) string, e *etcdConfig) func() error {
	env := &envDefaults{getenv: getenv}
	fs.StringVar(&e.raw, "etcd", env.string("POLICYGRAPH_ETCD", ""), "keep the graph in this etcd cluster instead of the data directory: its members' client endpoints, comma-separated host:port or URLs (http://, https://); none: the embedded store in -data (env POLICYGRAPH_ETCD)")
	fs.StringVar(&e.prefix, "etcd-prefix", env.string("POLICYGRAPH_ETCD_PREFIX", defaultEtcdPrefix), "with -etcd: every key of the graph lives under this prefix, which ends with /; one cluster holds several graphs under several prefixes (env POLICYGRAPH_ETCD_PREFIX)")
	fs.StringVar(&e.user, "etcd-user", env.string("POLICYGRAPH_ETCD_USER", ""), "with -etcd: the etcd user to authenticate as (with -etcd-password); none: no authentication (env POLICYGRAPH_ETCD_USER)")
	fs.StringVar(&e.password, "etcd-password", "", "with -etcd-user: the user's password; prefer the environment variable, which ps does not show (env POLICYGRAPH_ETCD_PASSWORD)")
	fs.StringVar(&e.cacert, "etcd-cacert", env.string("POLICYGRAPH_ETCD_CACERT", ""), "with -etcd: verify the members' TLS certificates with this PEM file of CA certificates (as etcdctl --cacert); TLS to every endpoint (env POLICYGRAPH_ETCD_CACERT)")
	fs.StringVar(&e.cert, "etcd-cert", env.string("POLICYGRAPH_ETCD_CERT", ""), "with -etcd: the client certificate (PEM) presented to the members, with -etcd-key (as etcdctl --cert) (env POLICYGRAPH_ETCD_CERT)")
	fs.StringVar(&e.key, "etcd-key", env.string("POLICYGRAPH_ETCD_KEY", ""), "with -etcd: the client certificate's private key (PEM) (as etcdctl --key) (env POLICYGRAPH_ETCD_KEY)")
	fs.DurationVar(&e.timeout, "etcd-timeout", env.duration("POLICYGRAPH_ETCD_TIMEOUT", defaultEtcdTimeout), "with -etcd: the longest a connection or one request to the cluster may take; a write that cannot commit within it (no quorum) fails with STORE_UNAVAILABLE (env POLICYGRAPH_ETCD_TIMEOUT)")
	// The password's variable is read here, not through env.string, so that
	// the flag's usage (which -h prints) never shows its value as a default.
	passwordEnv := getenv("POLICYGRAPH_ETCD_PASSWORD")
	return func() error {
		if err := env.err(); err != nil {
			return err
		}
		if e.password == "" {
			e.password = passwordEnv
		}
		return e.check()
	}
}

// check validates the parsed flags and builds the endpoints and TLS
// configuration. A TLS or auth flag without -etcd is refused rather than
// ignored.
func (e *etcdConfig) check() error {
	e.endpoints = nil
	for _, ep := range strings.Split(e.raw, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			e.endpoints = append(e.endpoints, ep)
		}
	}
	if !e.enabled() {
		if strings.TrimSpace(e.raw) != "" {
			return fmt.Errorf("-etcd %q names no endpoint", e.raw)
		}
		for _, f := range []struct{ name, val string }{{"etcd-user", e.user}, {"etcd-password", e.password}, {"etcd-cacert", e.cacert}, {"etcd-cert", e.cert}, {"etcd-key", e.key}} {
			if f.val != "" {
				return fmt.Errorf("-%s is given but -etcd (POLICYGRAPH_ETCD) is not: the store is the data directory", f.name)
			}
		}
		return nil
	}
	if e.timeout <= 0 {
		return fmt.Errorf("-etcd-timeout %s: must be positive", e.timeout)
	}
	if !strings.HasSuffix(e.prefix, "/") {
		return fmt.Errorf("-etcd-prefix %q must end with / (so that the graph under /a/ is not inside the keys of one under /a)", e.prefix)
	}
	if strings.Contains(e.user, ":") {
		return fmt.Errorf("-etcd-user %q: give the password with -etcd-password or POLICYGRAPH_ETCD_PASSWORD, not after a colon", strings.SplitN(e.user, ":", 2)[0])
	}
	if e.user == "" && e.password != "" {
		return errors.New("-etcd-password (or POLICYGRAPH_ETCD_PASSWORD) is given without -etcd-user")
	}
	if e.user != "" && e.password == "" {
		return fmt.Errorf("-etcd-user %s needs a password: -etcd-password or POLICYGRAPH_ETCD_PASSWORD", e.user)
	}
	tlsFlags := e.cacert != "" || e.cert != "" || e.key != ""
	anyHTTPS := false
	for _, ep := range e.endpoints {
		scheme, err := checkEndpoint(ep)
		if err != nil {
			return fmt.Errorf("-etcd: %w", err)
		}
		switch {
		case scheme == "https":
			anyHTTPS = true
		case scheme == "http" && tlsFlags:
			return fmt.Errorf("-etcd: endpoint %s is plaintext (http://) but TLS flags (-etcd-cacert, -etcd-cert, -etcd-key) are given: use https:// or host:port", ep)
		}
	}
	if anyHTTPS {
		for _, ep := range e.endpoints {
			if strings.HasPrefix(ep, "http://") {
				return fmt.Errorf("-etcd: endpoints mix http:// and https:// (%s): one cluster speaks one", ep)
			}
		}
	}
	if (e.cert == "") != (e.key == "") {
		return errors.New("-etcd-cert and -etcd-key go together: give both or neither")
	}
	e.tls = nil
	if !tlsFlags && !anyHTTPS {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.cacert != "" {
		pem, err := os.ReadFile(e.cacert)
		if err != nil {
			return fmt.Errorf("-etcd-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-etcd-cacert %s holds no PEM certificate", e.cacert)
		}
		c.RootCAs = pool
	}
	if e.cert != "" {
		pair, err := tls.LoadX509KeyPair(e.cert, e.key)
		if err != nil {
			return fmt.Errorf("-etcd-cert %s and -etcd-key %s: %w", e.cert, e.key, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	e.tls = c
	return nil
}

// checkEndpoint checks one -etcd endpoint, host:port or an http(s) URL of
// one, and returns its scheme ("" for host:port).
func checkEndpoint(ep string) (scheme string, err error) {
	hostPort := ep
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return "", fmt.Errorf("endpoint %q: %w", ep, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("endpoint %q: the scheme is http:// or https://, not %s://", ep, u.Scheme)
		}
		if u.User != nil {
			return "", fmt.Errorf("endpoint %s: give the credentials with -etcd-user and -etcd-password, not in the URL", u.Redacted())
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("endpoint %q: an endpoint is a scheme, a host and a port, with no path", ep)
		}
		scheme, hostPort = u.Scheme, u.Host
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", fmt.Errorf("endpoint %q is not host:port (such as 127.0.0.1:2379): %w", ep, err)
	}
	if host == "" {
		return "", fmt.Errorf("endpoint %q has no host", ep)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("endpoint %q: port %q is not a number from 1 to 65535", ep, port)
	}
	return scheme, nil
}
