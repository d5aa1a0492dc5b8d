package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"policygraph/internal/etcdtest"
)

// pki is a test CA and the certificates it signed, as PEM files.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	// otherCA signed nothing here: a CA that does not trust the server.
	otherCA string
}

// newPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into a new directory.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, der
	}
	serial := int64(0)
	cert := func(tmpl *x509.Certificate, parent *x509.Certificate, pub, signer any) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, der
	}
	caTmpl := func(name string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	caKey, _ := key()
	ca, caDER := cert(caTmpl("test CA"), nil, &caKey.PublicKey, caKey)
	otherKey, _ := key()
	_, otherDER := cert(caTmpl("other CA"), nil, &otherKey.PublicKey, otherKey)
	srvKey, srvKeyDER := key()
	_, srvDER := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "etcd"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, ca, &srvKey.PublicKey, caKey)
	cliKey, cliKeyDER := key()
	_, cliDER := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "policygraph"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, &cliKey.PublicKey, caKey)
	return pki{
		ca: write("ca.pem", "CERTIFICATE", caDER), otherCA: write("other-ca.pem", "CERTIFICATE", otherDER),
		serverCert: write("server.pem", "CERTIFICATE", srvDER), serverKey: write("server-key.pem", "EC PRIVATE KEY", srvKeyDER),
		clientCert: write("client.pem", "CERTIFICATE", cliDER), clientKey: write("client-key.pem", "EC PRIVATE KEY", cliKeyDER),
	}
}

// startMember runs a one-member etcd cluster on free loopback ports with
// the given client scheme and extra flags until the test ends, and returns
// its client URL once it answers on it (ready tells how to ask).
func startMember(t *testing.T, scheme string, ready func(url string) error, args ...string) string {
	t.Helper()
	bin := etcdtest.Require(t)
	ports, err := etcdtest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	client := fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--name", "m0", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "m0=" + peer,
		"--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"}, args...)...)
	log, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := ready(client)
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
			t.Fatalf("etcd at %s did not answer within 60s: %v\n%s", client, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openWith parses args as serve's flags and opens the graph they name (no
// seed), and closes it; -etcd-timeout is 2s unless args give one.
func openWith(t *testing.T, args ...string) error {
	t.Helper()
	cfg, err := ParseConfig(append([]string{"-seed=false", "-model-file=false", "-etcd-timeout", "2s"}, args...), func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	return g.Close()
}

// TestEtcdFlagsTLS: -etcd-cacert, -etcd-cert and -etcd-key reach a member
// that serves TLS and asks for a client certificate (--client-cert-auth):
// with all three the graph opens; without the client certificate, or
// trusting another CA, the open fails, naming the cluster, and never hangs.
func TestEtcdFlagsTLS(t *testing.T) {
	p := newPKI(t)
	pk := p
	url := startMember(t, "https", func(url string) error {
		e := etcdConfig{raw: url, prefix: "/", timeout: 2 * time.Second, cacert: pk.ca, cert: pk.clientCert, key: pk.clientKey}
		if err := e.check(); err != nil {
			return err
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: e.endpoints, TLS: e.tls, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = cli.Get(ctx, "x")
		return err
	}, "--cert-file", p.serverCert, "--key-file", p.serverKey, "--trusted-ca-file", p.ca, "--client-cert-auth")
	hostPort := strings.TrimPrefix(url, "https://")

	for _, endpoint := range []string{url, hostPort} {
		if err := openWith(t, "-etcd", endpoint, "-etcd-cacert", p.ca, "-etcd-cert", p.clientCert, "-etcd-key", p.clientKey); err != nil {
			t.Errorf("-etcd %s with the CA and a client certificate: %v", endpoint, err)
		}
	}
	for name, args := range map[string][]string{
		"no client certificate": {"-etcd", url, "-etcd-cacert", p.ca},
		"another CA":            {"-etcd", url, "-etcd-cacert", p.otherCA, "-etcd-cert", p.clientCert, "-etcd-key", p.clientKey},
		"the system's CAs":      {"-etcd", url},
	} {
		if err := openWith(t, args...); err == nil || !strings.Contains(err.Error(), url) && !strings.Contains(err.Error(), hostPort) {
			t.Errorf("%s: err %v, want one naming the cluster", name, err)
		}
	}
}

// TestEtcdFlagsAuth: -etcd-user and the password reach a member whose
// authentication is on: the right password opens the graph under the
// prefix the user may use; a wrong one fails, naming the cluster and not
// the password.
func TestEtcdFlagsAuth(t *testing.T) {
	url := startMember(t, "http", func(url string) error {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = cli.Get(ctx, "x")
		return err
	})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "policygraph"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "policygraph", "/policygraph/", clientv3.GetPrefixRangeEnd("/policygraph/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "policygraph", "right-pw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "policygraph", "policygraph"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	cli.Close()

	// etcd checks a password with bcrypt, which takes seconds on a busy
	// machine: the timeout is generous, and the test asserts no timing.
	auth := []string{"-etcd", url, "-etcd-user", "policygraph", "-etcd-timeout", "30s"}
	if err := openWith(t, append(auth, "-etcd-password", "right-pw")...); err != nil {
		t.Errorf("the right password: %v", err)
	}
	err = openWith(t, append(auth, "-etcd-password", "wrong-pw")...)
	if err == nil || !strings.Contains(err.Error(), url) || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("a wrong password: err %v, want one naming the cluster, not the password", err)
	}
	// Outside the user's prefix: refused by etcd, not hung.
	if err := openWith(t, append(auth, "-etcd-password", "right-pw", "-etcd-prefix", "/elsewhere/")...); err == nil {
		t.Errorf("a prefix the user may not use opened")
	}
}
