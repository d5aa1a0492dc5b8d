package testenv

import (
	"strings"
	"testing"

	"policygraph/internal/etcdtest"
)

// Etcd is the etcd cluster of the test package: started by the first test
// that asks for it (EtcdFlags, EtcdServer, the "etcd" engine), closed by
// Main after the last test. Without etcd those tests skip, or fail when
// POLICYGRAPH_REQUIRE_TOOLS=1 (see etcdtest.Require).
var Etcd etcdtest.Shared

// EtcdFlags are the flags of a store of the test's own on the package's
// etcd cluster: its endpoints and a prefix emptied when the test ends.
// Servers and commands given the same flags share the store.
func EtcdFlags(t testing.TB) []string {
	t.Helper()
	c := Etcd.Cluster(t)
	return []string{"-etcd", strings.Join(c.Endpoints(), ","), "-etcd-prefix", c.Prefix(t)}
}

// EtcdServer starts the service in this process (see Start) over a store of
// the test's own on the package's etcd cluster, which it seeds, with the read
// model's file in a temporary -data; args come after those flags.
func EtcdServer(t testing.TB, args ...string) *Process {
	t.Helper()
	return Start(t, append(append(EtcdFlags(t), "-data", t.TempDir()), args...)...)
}

// Engine is one way to run the service's store, for tests that run on each
// (Engines).
type Engine struct {
	// Name names the engine in subtests: "badger" or "etcd".
	Name string
	// Serve starts a server, the real route table configured by the flags
	// args, over a newly seeded store of the engine, stopped when the test
	// ends. Its Graph is the store's on Badger (the test may write to it
	// behind the server's back); nil on etcd, where the server runs the
	// service as the binary does (app.Run).
	Serve func(t testing.TB, args ...string) *Service
}

// Engines are the store's engines: the embedded Badger store (Server) and
// an etcd cluster (EtcdServer).
var Engines = []Engine{
	{Name: "badger", Serve: Server},
	{Name: "etcd", Serve: func(t testing.TB, args ...string) *Service { return &Service{Client: EtcdServer(t, args...).Client} }},
}
