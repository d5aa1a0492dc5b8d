package app

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testPKI is newPKI's CA, client certificate and key, and a key that is
// not the certificate's (the server's), as paths.
func testPKI(t *testing.T) (cacert, cert, key, otherKey string) {
	p := newPKI(t)
	return p.ca, p.clientCert, p.clientKey, p.serverKey
}

// TestEtcdFlagsRefused: each malformed or inconsistent etcd setting stops the
// start with an error that says what is wrong, and never shows the password.
func TestEtcdFlagsRefused(t *testing.T) {
	cacert, cert, key, otherKey := testPKI(t)
	notPEM := filepath.Join(t.TempDir(), "notpem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-never-shown"
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no endpoint", []string{"-etcd", " , ,"}, nil, "names no endpoint"},
		{"user without -etcd", []string{"-etcd-user", "pg"}, nil, "-etcd-user is given but -etcd"},
		{"cacert without -etcd", []string{"-etcd-cacert", cacert}, nil, "-etcd-cacert is given but -etcd"},
		{"password env without -etcd", nil, map[string]string{"POLICYGRAPH_ETCD_PASSWORD": secret}, "-etcd-password is given but -etcd"},
		{"no port", []string{"-etcd", "127.0.0.1"}, nil, "not host:port"},
		{"URL without port", []string{"-etcd", "http://127.0.0.1"}, nil, "not host:port"},
		{"port 0", []string{"-etcd", "127.0.0.1:0"}, nil, "not a number from 1 to 65535"},
		{"port too big", []string{"-etcd", "127.0.0.1:99999"}, nil, "not a number from 1 to 65535"},
		{"port not a number", []string{"-etcd", "127.0.0.1:http"}, nil, "not a number from 1 to 65535"},
		{"no host", []string{"-etcd", ":2379"}, nil, "has no host"},
		{"scheme", []string{"-etcd", "unix://tmp/etcd.sock:1"}, nil, "the scheme is http:// or https://"},
		{"credentials in the URL", []string{"-etcd", "http://pg:" + secret + "@127.0.0.1:2379"}, nil, "give the credentials with -etcd-user"},
		{"path", []string{"-etcd", "http://127.0.0.1:2379/v3"}, nil, "with no path"},
		{"one bad among good", []string{"-etcd", "127.0.0.1:2379,127.0.0.1"}, nil, `endpoint "127.0.0.1"`},
		{"prefix without slash", []string{"-etcd", "127.0.0.1:2379", "-etcd-prefix", "/policygraph"}, nil, "must end with /"},
		{"empty prefix", []string{"-etcd", "127.0.0.1:2379", "-etcd-prefix", ""}, nil, "must end with /"},
		{"timeout 0", []string{"-etcd", "127.0.0.1:2379", "-etcd-timeout", "0s"}, nil, "-etcd-timeout 0s: must be positive"},
		{"negative timeout", []string{"-etcd", "127.0.0.1:2379", "-etcd-timeout", "-1s"}, nil, "must be positive"},
		{"malformed timeout variable", []string{"-etcd", "127.0.0.1:2379"}, map[string]string{"POLICYGRAPH_ETCD_TIMEOUT": "5"}, "POLICYGRAPH_ETCD_TIMEOUT"},
		{"password without user", []string{"-etcd", "127.0.0.1:2379", "-etcd-password", secret}, nil, "without -etcd-user"},
		{"password env without user", []string{"-etcd", "127.0.0.1:2379"}, map[string]string{"POLICYGRAPH_ETCD_PASSWORD": secret}, "without -etcd-user"},
		{"user without password", []string{"-etcd", "127.0.0.1:2379", "-etcd-user", "pg"}, nil, "needs a password"},
		{"user:password", []string{"-etcd", "127.0.0.1:2379", "-etcd-user", "pg:" + secret}, nil, "not after a colon"},
		{"TLS flags with http://", []string{"-etcd", "http://127.0.0.1:2379", "-etcd-cacert", cacert}, nil, "plaintext (http://) but TLS flags"},
		{"http and https", []string{"-etcd", "https://127.0.0.1:2379,http://127.0.0.1:2380"}, nil, "mix http:// and https://"},
		{"cert without key", []string{"-etcd", "127.0.0.1:2379", "-etcd-cert", cert}, nil, "go together"},
		{"key without cert", []string{"-etcd", "127.0.0.1:2379", "-etcd-key", key}, nil, "go together"},
		{"cacert missing", []string{"-etcd", "127.0.0.1:2379", "-etcd-cacert", notPEM + ".absent"}, nil, "-etcd-cacert: open"},
		{"cacert not PEM", []string{"-etcd", "127.0.0.1:2379", "-etcd-cacert", notPEM}, nil, "holds no PEM certificate"},
		{"key of another cert", []string{"-etcd", "127.0.0.1:2379", "-etcd-cert", cert, "-etcd-key", otherKey}, nil, "private key does not match public key"},
		{"without the read model", []string{"-etcd", "127.0.0.1:2379", "-read-model=false"}, nil, "-etcd needs the read model"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestEtcdFlagsAccepted: the settings that select the etcd engine, by flag
// or by environment, reach the configuration; a password is never in what
// is logged of it, nor in -h's usage.
func TestEtcdFlagsAccepted(t *testing.T) {
	cacert, cert, key, _ := testPKI(t)
	const secret = "s3cret-never-shown"
	for _, tt := range []struct {
		name       string
		args       []string
		env        map[string]string
		endpoints  []string
		prefix     string
		user, pass string
		tls, certs bool
		timeout    time.Duration
	}{
		{name: "Badger by default"},
		{name: "host:port list", args: []string{"-etcd", " 127.0.0.1:2379, [::1]:2379 ,etcd-2.example:2379,"},
			endpoints: []string{"127.0.0.1:2379", "[::1]:2379", "etcd-2.example:2379"}, prefix: "/policygraph/", timeout: 5 * time.Second},
		{name: "URLs by env", env: map[string]string{"POLICYGRAPH_ETCD": "http://127.0.0.1:2379,http://127.0.0.1:2381/", "POLICYGRAPH_ETCD_PREFIX": "/graphs/news/", "POLICYGRAPH_ETCD_TIMEOUT": "2s"},
			endpoints: []string{"http://127.0.0.1:2379", "http://127.0.0.1:2381/"}, prefix: "/graphs/news/", timeout: 2 * time.Second},
		{name: "flag beats env", args: []string{"-etcd", "127.0.0.1:3000", "-etcd-prefix", "/b/"}, env: map[string]string{"POLICYGRAPH_ETCD": "127.0.0.1:2379", "POLICYGRAPH_ETCD_PREFIX": "/a/"},
			endpoints: []string{"127.0.0.1:3000"}, prefix: "/b/", timeout: 5 * time.Second},
		{name: "user, password from env", args: []string{"-etcd", "127.0.0.1:2379", "-etcd-user", "pg"}, env: map[string]string{"POLICYGRAPH_ETCD_PASSWORD": secret},
			endpoints: []string{"127.0.0.1:2379"}, prefix: "/policygraph/", user: "pg", pass: secret, timeout: 5 * time.Second},
		{name: "password flag beats env", args: []string{"-etcd", "127.0.0.1:2379", "-etcd-user", "pg", "-etcd-password", secret}, env: map[string]string{"POLICYGRAPH_ETCD_PASSWORD": "other"},
			endpoints: []string{"127.0.0.1:2379"}, prefix: "/policygraph/", user: "pg", pass: secret, timeout: 5 * time.Second},
		{name: "https with the system's CAs", args: []string{"-etcd", "https://etcd.example:2379"},
			endpoints: []string{"https://etcd.example:2379"}, prefix: "/policygraph/", tls: true, timeout: 5 * time.Second},
		{name: "mutual TLS", args: []string{"-etcd", "127.0.0.1:2379", "-etcd-cacert", cacert, "-etcd-cert", cert, "-etcd-key", key},
			endpoints: []string{"127.0.0.1:2379"}, prefix: "/policygraph/", tls: true, certs: true, timeout: 5 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var usage bytes.Buffer
			cfg, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] }, &usage)
			if err != nil {
				t.Fatal(err)
			}
			e := cfg.etcd
			if !slices.Equal(e.endpoints, tt.endpoints) || e.enabled() != (tt.endpoints != nil) {
				t.Fatalf("endpoints %q, want %q", e.endpoints, tt.endpoints)
			}
			if !e.enabled() {
				return
			}
			if e.prefix != tt.prefix || e.user != tt.user || e.password != tt.pass || e.timeout != tt.timeout || (e.tls != nil) != tt.tls {
				t.Errorf("prefix %q user %q password %q timeout %s tls %v", e.prefix, e.user, e.password, e.timeout, e.tls != nil)
			}
			if tt.certs && (e.tls.RootCAs == nil || len(e.tls.Certificates) != 1) {
				t.Errorf("TLS without the CA or the client certificate: %+v", e.tls)
			}
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("starting", "etcd", e)
			if !strings.Contains(logged.String(), tt.endpoints[0]) || strings.Contains(logged.String(), secret) {
				t.Errorf("logged %s: want the endpoints, never the password", logged.String())
			}
		})
	}
	// -h shows no password taken from the environment as a default.
	var usage bytes.Buffer
	ParseConfig([]string{"-h"}, func(k string) string {
		return map[string]string{"POLICYGRAPH_ETCD": "127.0.0.1:2379", "POLICYGRAPH_ETCD_USER": "pg", "POLICYGRAPH_ETCD_PASSWORD": secret}[k]
	}, &usage)
	if !strings.Contains(usage.String(), "-etcd-password") || strings.Contains(usage.String(), secret) {
		t.Errorf("-h: %s", usage.String())
	}
}
