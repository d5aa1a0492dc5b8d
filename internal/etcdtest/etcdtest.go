// Package etcdtest runs real etcd clusters for tests: N members as separate
// processes on loopback, each with its own data directory, so that a test can
// kill one with SIGKILL, stop and restart it, take a quorum away and give it
// back, or compact the cluster's history under a watcher.
//
// Finding etcd: $POLICYGRAPH_ETCD_BIN, if set, is the only candidate (set it
// to a path that does not exist to simulate a machine without etcd).
// Otherwise `etcd` in $PATH, then /usr/bin/etcd (Debian's etcd-server
// package). Without a binary, [New] and [Shared.Cluster] skip the test, or
// fail it when POLICYGRAPH_REQUIRE_TOOLS=1 (as CI sets).
//
// Every member listens on 127.0.0.1 on ports the kernel chose free just
// before the start (never etcd's default 2379/2380, where a system etcd may
// run), with its data under the cluster's directory, its log in
// <dir>/<name>.log, and its own process group, which [Member.Kill] and
// [Cluster.Close] signal whole; a member also dies with the test process
// (PR_SET_PDEATHSIG), so a crashed test leaves no etcd behind.
//
// One cluster per test package, a key prefix per test:
//
//	var etcd etcdtest.Shared
//
//	func TestMain(m *testing.M) { os.Exit(etcd.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := etcd.Cluster(t)    // started by the first test that asks
//		prefix := c.Prefix(t)   // "/etcdtest/TestSomething/1/", emptied after the test
//		cli := c.Client(t)      // a client of every member, closed after the test
//		...
//	}
//
// A test that takes members down on the shared cluster must bring them back
// ([Shared.Cluster] also restarts any member a previous test left down); a
// test that wants other member flags (a small quota) starts its own with
// [New].
package etcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Environment variables that the harness reads.
const (
	// EnvBinary, when set, names the only etcd binary to use; a value that is
	// not an executable file means "no etcd" (useful to test skipping).
	EnvBinary = "POLICYGRAPH_ETCD_BIN"
	// EnvRequireTools set to 1 turns a missing etcd into a test failure.
	EnvRequireTools = "POLICYGRAPH_REQUIRE_TOOLS"
)

// Defaults of [Options].
const (
	DefaultMembers      = 3
	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 10 * time.Second
)

// Options configure a cluster. The zero value is a 3-member cluster with
// etcd's own defaults (128 operations a transaction, 1.5 MiB a request, a
// 2 GiB backend quota).
type Options struct {
	// Members is the number of members; 0 means DefaultMembers.
	Members int
	// Dir holds the members' data directories and logs; empty means a new
	// temporary directory (t.TempDir() for New), removed by Close.
	Dir string
	// QuotaBackendBytes is --quota-backend-bytes; 0 keeps etcd's default.
	QuotaBackendBytes int64
	// MaxTxnOps is --max-txn-ops; 0 keeps etcd's default (128).
	MaxTxnOps int
	// MaxRequestBytes is --max-request-bytes; 0 keeps etcd's default.
	MaxRequestBytes int
	// LogLevel is --log-level; empty means "warn".
	LogLevel string
	// Args are more flags given to every member.
	Args []string
	// StartTimeout bounds the start until the cluster is healthy; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
}

// Binary returns the etcd binary the harness runs (see the package doc), or
// an error saying why there is none.
func Binary() (string, error) {
	if p, ok := os.LookupEnv(EnvBinary); ok {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if err := executable("/usr/bin/etcd"); err != nil {
		return "", errors.New("no etcd in $PATH nor /usr/bin/etcd")
	}
	return "/usr/bin/etcd", nil
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// Require returns the etcd binary, or skips the test without one, or fails it
// when POLICYGRAPH_REQUIRE_TOOLS=1.
func Require(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		msg := fmt.Sprintf("etcd is not available (%v): install it (apt-get install -y etcd-server) or set %s to an etcd binary", err, EnvBinary)
		if os.Getenv(EnvRequireTools) == "1" {
			t.Fatal(msg + "; " + EnvRequireTools + "=1 makes this a failure")
		}
		t.Skip(msg + "; tests against a real etcd cluster are skipped")
	}
	return bin
}

// Version runs bin --version and returns etcd's version, e.g. "3.4.23".
func Version(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	m := regexp.MustCompile(`etcd Version: (\S+)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: no version in %q", bin, out)
	}
	return string(m[1]), nil
}

// Cluster is a running etcd cluster of separate member processes.
type Cluster struct {
	bin     string
	version string
	dir     string
	ownDir  bool   // Close removes dir
	token   string // --initial-cluster-token
	opts    Options
	members []*Member
	prefixN atomic.Int64
}

// Member is one etcd process of a cluster. It can be killed, stopped and
// restarted on the same data directory and ports.
type Member struct {
	c          *Cluster
	name       string
	dataDir    string
	logPath    string
	clientPort int
	peerPort   int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	waitErr error
}

// New starts a cluster for one test and closes it when the test ends. It
// skips the test when etcd is missing (see [Require]) and fails it when the
// cluster does not start.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Require(t)
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout(opts))
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func startTimeout(opts Options) time.Duration {
	if opts.StartTimeout > 0 {
		return opts.StartTimeout
	}
	return DefaultStartTimeout
}

// Start starts a cluster and waits until it is healthy (every member answers
// and a linearizable read goes through); it is for TestMain and tools, where
// there is no test to skip: the caller must [Cluster.Close] it. A port that
// was taken between its choice and the member's start makes Start try again
// with new ports, at most three times.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	version, err := Version(bin)
	if err != nil {
		return nil, err
	}
	if opts.Members <= 0 {
		opts.Members = DefaultMembers
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	ownDir := opts.Dir == ""
	if ownDir {
		if opts.Dir, err = os.MkdirTemp("", "etcdtest-"); err != nil {
			return nil, fmt.Errorf("etcd cluster directory: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		c := &Cluster{bin: bin, version: version, opts: opts, ownDir: ownDir, dir: opts.Dir,
			token: fmt.Sprintf("etcdtest-%d-%d", os.Getpid(), time.Now().UnixNano())}
		err := c.start(ctx)
		if err == nil {
			return c, nil
		}
		c.kill()
		if attempt < 3 && errors.Is(err, errPortTaken) && ctx.Err() == nil {
			for _, m := range c.members {
				os.RemoveAll(m.dataDir)
				os.Remove(m.logPath)
			}
			continue
		}
		if ownDir {
			os.RemoveAll(opts.Dir)
		}
		return nil, err
	}
}

var errPortTaken = errors.New("a port was taken")

func (c *Cluster) start(ctx context.Context) error {
	ports, err := FreePorts(2 * c.opts.Members)
	if err != nil {
		return err
	}
	var initial []string
	for i := range c.opts.Members {
		m := &Member{c: c, name: fmt.Sprintf("m%d", i), clientPort: ports[2*i], peerPort: ports[2*i+1]}
		m.dataDir = filepath.Join(c.dir, m.name)
		m.logPath = filepath.Join(c.dir, m.name+".log")
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.PeerURL())
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("etcd cluster directory: %w", err)
	}
	for _, m := range c.members {
		if err := m.launch(strings.Join(initial, ",")); err != nil {
			return err
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		for _, m := range c.members {
			if bytes.Contains(m.logTail(), []byte("address already in use")) {
				return fmt.Errorf("%w: %w", errPortTaken, err)
			}
		}
		return err
	}
	return nil
}

// FreePorts returns n loopback TCP ports the kernel says are free, all held
// open at once so that they differ. Another process may take one before the
// caller listens on it.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// args are the member's flags. On a restart etcd reads the membership from
// its data directory and ignores the --initial-* flags.
func (m *Member) args(initialCluster string) []string {
	o := m.c.opts
	args := []string{
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.ClientURL(),
		"--advertise-client-urls", m.ClientURL(),
		"--listen-peer-urls", m.PeerURL(),
		"--initial-advertise-peer-urls", m.PeerURL(),
		"--initial-cluster", initialCluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", m.c.token,
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--log-level", o.LogLevel,
	}
	if o.QuotaBackendBytes > 0 {
		args = append(args, "--quota-backend-bytes", strconv.FormatInt(o.QuotaBackendBytes, 10))
	}
	if o.MaxTxnOps > 0 {
		args = append(args, "--max-txn-ops", strconv.Itoa(o.MaxTxnOps))
	}
	if o.MaxRequestBytes > 0 {
		args = append(args, "--max-request-bytes", strconv.Itoa(o.MaxRequestBytes))
	}
	return append(args, o.Args...)
}

// launch starts the member's process with its output appended to its log.
func (m *Member) launch(initialCluster string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		select {
		case <-m.exited: // it exited on its own: start it again
		default:
			return fmt.Errorf("etcd member %s is already running", m.name)
		}
	}
	cmd := exec.Command(m.c.bin, m.args(initialCluster)...)
	log, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("etcd member %s log: %w", m.name, err)
	}
	defer log.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = memberEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.name, err)
	}
	m.cmd, m.exited, m.waitErr = cmd, make(chan struct{}), nil
	go func(exited chan struct{}) {
		err := cmd.Wait()
		m.mu.Lock()
		m.waitErr = err
		m.mu.Unlock()
		close(exited)
	}(m.exited)
	return nil
}

// memberEnv is the test's environment without ETCD_* variables, which etcd
// would take as flags.
func memberEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// Version is the members' etcd version, e.g. "3.4.23".
func (c *Cluster) Version() string { return c.version }

// Binary is the path of the members' etcd binary.
func (c *Cluster) Binary() string { return c.bin }

// Dir is the directory of the members' data and logs.
func (c *Cluster) Dir() string { return c.dir }

// Members are the cluster's members, in the order of their names m0, m1...
func (c *Cluster) Members() []*Member { return c.members }

// Member returns member i.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Endpoints are every member's client URL, running or not.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.ClientURL())
	}
	return eps
}

// NewClient returns a client of the given endpoints (every member's when
// none are given) that logs nothing; the caller closes it. Its requests have
// no deadline but their context's.
func (c *Cluster) NewClient(endpoints ...string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %v: %w", endpoints, err)
	}
	return cli, nil
}

// Client returns a client of every member, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return c.clientFor(t)
}

func (c *Cluster) clientFor(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := c.NewClient(endpoints...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Prefix returns a key prefix of the test's own, "/etcdtest/<test name>/<n>/",
// and deletes every key under it when the test ends, so tests sharing a
// cluster do not see each other's keys.
func (c *Cluster) Prefix(t testing.TB) string {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	p := fmt.Sprintf("/etcdtest/%s/%d/", name, c.prefixN.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := c.NewClient()
		if err != nil {
			t.Logf("keys under %s are left: %v", p, err)
			return
		}
		defer cli.Close()
		if _, err := cli.Delete(ctx, p, clientv3.WithPrefix()); err != nil {
			t.Logf("keys under %s are left: %v", p, err)
		}
	})
	return p
}

// WaitHealthy waits until every running member answers a status request and
// knows a leader, and a linearizable read through the cluster succeeds. It
// fails early when a member it waits for exits.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	cli, err := c.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	var last error
	for {
		last = c.healthy(ctx, cli)
		if last == nil {
			return nil
		}
		for _, m := range c.members {
			if m.exitedEarly() {
				return fmt.Errorf("etcd member %s exited: %v\n%s", m.name, m.exitErr(), m.logTail())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd cluster not healthy: %w (%v)\n%s", ctx.Err(), last, c.logTails())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) healthy(ctx context.Context, cli *clientv3.Client) error {
	for _, m := range c.members {
		if !m.Running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cli.Status(sctx, m.ClientURL())
		cancel()
		if err != nil {
			return fmt.Errorf("member %s: %w", m.name, err)
		}
		if st.Leader == 0 {
			return fmt.Errorf("member %s has no leader", m.name)
		}
	}
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := cli.Get(gctx, "/etcdtest/health"); err != nil {
		return fmt.Errorf("linearizable read: %w", err)
	}
	return nil
}

// Heal restarts every member that is not running and waits until the
// cluster is healthy.
func (c *Cluster) Heal(ctx context.Context) error {
	for _, m := range c.members {
		if !m.Running() {
			if err := m.Start(); err != nil {
				return err
			}
		}
	}
	return c.WaitHealthy(ctx)
}

// Leader returns the member that leads, as the first running member that
// answers reports it.
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	cli, err := c.NewClient()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	for _, m := range c.members {
		if !m.Running() {
			continue
		}
		st, err := cli.Status(ctx, m.ClientURL())
		if err != nil || st.Leader == 0 {
			continue
		}
		list, err := cli.MemberList(ctx)
		if err != nil {
			return nil, fmt.Errorf("etcd member list: %w", err)
		}
		for _, mm := range list.Members {
			if mm.ID == st.Leader {
				for _, l := range c.members {
					if l.name == mm.Name {
						return l, nil
					}
				}
			}
		}
	}
	return nil, errors.New("no running member knows a leader")
}

// Compact compacts the cluster's history up to its current revision and
// waits until the compaction is applied on every member, so that a watch or
// read at an older revision fails with rpctypes.ErrCompacted. It returns the
// revision compacted at.
func (c *Cluster) Compact(ctx context.Context) (int64, error) {
	cli, err := c.NewClient()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/etcdtest/compact", clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("compact: current revision: %w", err)
	}
	rev := resp.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, fmt.Errorf("compact at %d: %w", rev, err)
	}
	return rev, nil
}

// Close stops every member (SIGTERM, SIGKILL after DefaultStopTimeout) and
// removes the cluster's directory when the harness made it.
func (c *Cluster) Close() error {
	var errs []error
	for _, m := range c.members {
		if err := m.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ownDir {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// kill kills every member at once, for a start that failed.
func (c *Cluster) kill() {
	for _, m := range c.members {
		m.Kill()
	}
}

func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, m := range c.members {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", m.name, m.logPath, m.logTail())
	}
	return b.String()
}

// Name is the member's name, m0, m1...
func (m *Member) Name() string { return m.name }

// ClientURL is the member's client URL, http://127.0.0.1:PORT.
func (m *Member) ClientURL() string { return fmt.Sprintf("http://127.0.0.1:%d", m.clientPort) }

// PeerURL is the member's peer URL.
func (m *Member) PeerURL() string { return fmt.Sprintf("http://127.0.0.1:%d", m.peerPort) }

// DataDir is the member's data directory.
func (m *Member) DataDir() string { return m.dataDir }

// LogPath is the file the member's output goes to.
func (m *Member) LogPath() string { return m.logPath }

// Client returns a client of this member only, closed when the test ends.
func (m *Member) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return m.c.clientFor(t, m.ClientURL())
}

// Pid is the process ID of the running member, 0 when it is not running.
func (m *Member) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Running reports whether the member's process was started and has not
// exited.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// exitedEarly reports whether the member was started and has exited on its
// own, for WaitHealthy to stop waiting.
func (m *Member) exitedEarly() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

func (m *Member) exitErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.waitErr
}

// Kill sends SIGKILL to the member's process group and waits until it has
// exited: a crash, with no chance to sync or to tell its peers.
func (m *Member) Kill() error { return m.signal(syscall.SIGKILL, 0) }

// Stop sends SIGTERM to the member's process group, waits until it has
// exited, and kills it after DefaultStopTimeout. Stopping a member that is
// not running does nothing.
func (m *Member) Stop() error { return m.signal(syscall.SIGTERM, DefaultStopTimeout) }

func (m *Member) signal(sig syscall.Signal, grace time.Duration) error {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	// A group that is gone already (the member exited) is no error.
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal etcd member %s: %w", m.name, err)
	}
	if grace > 0 {
		select {
		case <-exited:
		case <-time.After(grace):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	} else {
		<-exited
	}
	m.mu.Lock()
	m.cmd = nil
	m.mu.Unlock()
	return nil
}

// Start starts a member that is not running again, on its data directory
// and ports. It does not wait: a restarted member of a cluster that has a
// quorum catches up from the leader; use [Cluster.WaitHealthy] to wait.
func (m *Member) Start() error {
	var initial []string
	for _, o := range m.c.members {
		initial = append(initial, o.name+"="+o.PeerURL())
	}
	return m.launch(strings.Join(initial, ","))
}

// logTail returns the last 4 KiB of the member's log.
func (m *Member) logTail() []byte {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return []byte(err.Error())
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return b
}
