package etcdtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// Shared is one cluster for a whole test package: the first test that asks
// for it starts it, [Shared.Main] closes it after the last test. A package
// whose etcd tests are all filtered out (go test -run) starts none.
type Shared struct {
	// Options configure the cluster; set them before the first test runs.
	Options Options

	mu      sync.Mutex
	cluster *Cluster
	err     error // the start's error, reported to every test that asks
}

// Main runs the package's tests and then closes the cluster; TestMain
// passes its result to os.Exit. A cluster that does not close cleanly fails
// the run.
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	if err := s.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "etcdtest: closing the shared cluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Cluster returns the package's cluster, healthy, with every member running:
// it starts the cluster on first use, and restarts any member that a
// previous test left down. It skips the test when etcd is missing (see
// [Require]) and fails it when the cluster cannot start or heal.
func (s *Shared) Cluster(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout(s.Options))
	defer cancel()
	if s.cluster == nil && s.err == nil {
		s.cluster, s.err = Start(ctx, s.Options)
	}
	if s.err != nil {
		t.Fatalf("the shared etcd cluster did not start: %v", s.err)
	}
	if err := s.cluster.Heal(ctx); err != nil {
		t.Fatalf("the shared etcd cluster is not healthy: %v", err)
	}
	return s.cluster
}

// Close stops the cluster, if one was started.
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil {
		return nil
	}
	err := s.cluster.Close()
	s.cluster = nil
	return err
}
