// Package testenv is the one test environment of policygraph's tests: a
// seeded in-memory store (Seeded), the real route table over httptest
// (Server), the service started in process on a loopback port (Start) or as
// the built binary (StartBinary, for kill -9, strace, tmpfs and memory tests),
// and one GraphQL client (Client) with its Response.
//
// Every server it starts has the write token Token and is stopped, and every
// store closed, when the test ends. Packages whose tests start servers call
// Main from their TestMain, so that the binary built for them is removed.
package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"policygraph/app"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// Token is the write token of every server testenv starts.
const Token = "test-token"

// ArticleQuote is verbatim in the seed article, for writes that need evidence.
const ArticleQuote = "Tại WAIC năm 2019, IBM, Microsoft và Amazon Web Services đều là đối tác chiến lược"

// NoEnv is an empty environment: servers testenv starts read their settings
// from flags only, whatever the environment of the test process says.
func NoEnv(string) string { return "" }

// Seeded opens an in-memory Badger store (its transactions counted, see
// storage.CountingKV) holding the seed article and its facts; it is closed
// when the test ends.
func Seeded(t testing.TB) *storage.Graph {
	t.Helper()
	return Store(t, func(kv storage.KV) storage.KV { return &storage.CountingKV{KV: kv} })
}

// SeededModel is Seeded with a read model answering the graph's reads, as
// serve's do (storage.Options.Model), the seed written after the model was
// built (so in its overlay until a compaction).
func SeededModel(t testing.TB) *storage.Graph {
	t.Helper()
	return seeded(t, nil, storage.Options{Model: memgraph.Load})
}

// Store is Seeded with the in-memory Badger store behind wrap (to count or
// inject faults; nil: none).
func Store(t testing.TB, wrap func(storage.KV) storage.KV) *storage.Graph {
	t.Helper()
	return seeded(t, wrap, storage.Options{})
}

// seeded opens an in-memory Badger store behind wrap (nil: none) with o and
// loads the seed; the graph is closed when the test ends.
func seeded(t testing.TB, wrap func(storage.KV) storage.KV, o storage.Options) *storage.Graph {
	t.Helper()
	var kv storage.KV
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		kv = wrap(kv)
	}
	g, err := storage.OpenWith(kv, o)
	if err != nil {
		kv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if _, err := seed.Load(g); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return g
}

// OpenDir opens the store in the data directory dir (creating it), for a test
// to read or change it while no server runs there; the caller closes it.
func OpenDir(t testing.TB, dir string) *storage.Graph {
	t.Helper()
	kv, err := badger.Open(badger.Options{Dir: dir, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		t.Fatalf("%s: %v", dir, err)
	}
	return g
}

// Config is the service's configuration from the flags args, after -token
// Token, with no environment.
func Config(t testing.TB, args ...string) app.Config {
	t.Helper()
	cfg, err := app.ParseConfig(append([]string{"-token", Token}, args...), NoEnv, io.Discard)
	if err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	return cfg
}

// Handler is the service's route table (app.NewHandler) over g, configured by
// the flags args (see Config); its log is dropped.
func Handler(t testing.TB, g *storage.Graph, args ...string) http.Handler {
	t.Helper()
	return app.NewHandler(g, Config(t, args...), slog.New(slog.NewJSONHandler(io.Discard, nil)))
}

// Service is a handler served over httptest on a loopback port, with a
// client for it.
type Service struct {
	*Client
	Server *httptest.Server
	// Graph is the store behind it, when Server made it.
	Graph *storage.Graph
}

// Server serves the real route table, configured by the flags args, over a
// Seeded store.
func Server(t testing.TB, args ...string) *Service {
	t.Helper()
	g := Seeded(t)
	s := Serve(t, Handler(t, g, args...))
	s.Graph = g
	return s
}

// Serve serves h over httptest until the test ends.
func Serve(t testing.TB, h http.Handler) *Service {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Service{Client: &Client{URL: srv.URL, HTTP: srv.Client()}, Server: srv}
}

// Process is the service running on a loopback port: in this process (Start)
// or as the binary (StartBinary).
type Process struct {
	*Client
	// Stdout holds the lines it logged.
	Stdout *LineWriter
	// Cmd and Done are the binary's: its command, and its exit once it ends.
	Cmd  *exec.Cmd
	Done chan error

	stop func() error
}

// Stop stops the service: in process, it cancels Run's context and returns
// what Run returned; the binary gets SIGTERM, and Stop returns how it exited.
func (p *Process) Stop() error { return p.stop() }

// Start runs app.Run's serve with args (after -addr on a free loopback port
// and -token Token) in this process, and waits until it listens; it is
// stopped when the test ends.
func Start(t testing.TB, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := NewLineWriter()
	errc := make(chan error, 1)
	args = append([]string{"serve", "-addr", "127.0.0.1:0", "-token", Token}, args...)
	go func() { errc <- app.Run(ctx, args, NoEnv, nil, out, io.Discard) }()
	var addr string
	select {
	case addr = <-out.Listening(30 * time.Second):
	case err := <-errc:
		cancel()
		t.Fatalf("serve %q ended before listening: %v\n%s", args, err, out)
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve %q did not listen within 30s:\n%s", args, out)
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return &Process{Client: &Client{URL: "http://" + addr}, Stdout: out, stop: stop}
}

// binary is the service built once per test process.
var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds the service's binary (package main at the module root), once
// per test process, and returns its path. Main removes it.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "policygraph-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "policygraph")
		cmd := exec.Command("go", "build", "-o", binary.path, ".")
		cmd.Dir = ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// ModuleRoot is the module's root directory (README.md, docs/), wherever the
// test runs from: the directory of go.mod, two up from this file.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Main runs the tests of a package that starts servers, then removes the
// binary built for them and stops the package's etcd cluster (Etcd), if a
// test started it; call it from TestMain.
func Main(m *testing.M) {
	code := Etcd.Main(m)
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// Env is the test process's environment without its POLICYGRAPH_ settings,
// which would change the addresses, paths and settings tests give a child.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POLICYGRAPH_") {
			env = append(env, kv)
		}
	}
	return env
}

// BinaryCommand is the binary with args, in Env.
func BinaryCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = Env()
	return cmd
}

// StartBinary runs the binary's serve on the data directory dir with args
// (after -addr on a free loopback port and -token Token); see StartCommand.
func StartBinary(t testing.TB, dir string, args ...string) *Process {
	t.Helper()
	return StartCommand(t, BinaryCommand(t, append([]string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-token", Token}, args...)...))
}

// StartCommand starts cmd, a command that runs the service (the binary, or a
// tool that runs it, such as strace), and waits until the service listens.
// Stop sends SIGTERM and waits for the exit (SIGKILL after 30s); when the test
// ends it is killed. With cmd.SysProcAttr.Setpgid, the signals go to its
// whole process group.
func StartCommand(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	signal := func(sig syscall.Signal) {
		if cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid {
			syscall.Kill(-cmd.Process.Pid, sig)
			return
		}
		cmd.Process.Signal(sig)
	}
	p := &Process{Stdout: NewLineWriter(), Cmd: cmd, Done: make(chan error, 1)}
	exited := make(chan struct{})
	go func() {
		io.Copy(p.Stdout, stdout)
		p.Done <- cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			signal(syscall.SIGKILL)
		}
	})
	select {
	case addr := <-p.Stdout.Listening(60 * time.Second):
		if addr == "" {
			t.Fatalf("the server did not listen within 60s:\n%s\n%s", p.Stdout, stderr)
		}
		p.Client = &Client{URL: "http://" + addr}
	case err := <-p.Done:
		t.Fatalf("the server exited before listening: %v\n%s\n%s", err, p.Stdout, stderr)
	}
	var once sync.Once
	var stopErr error
	p.stop = func() error {
		once.Do(func() {
			signal(syscall.SIGTERM)
			select {
			case stopErr = <-p.Done:
			case <-time.After(30 * time.Second):
				signal(syscall.SIGKILL)
				stopErr = <-p.Done
			}
		})
		return stopErr
	}
	return p
}

// RequireTool skips the test when the command name is not installed, or
// fails it when POLICYGRAPH_REQUIRE_TOOLS=1 (as CI sets); what says what goes
// untested without it.
func RequireTool(t testing.TB, name, what string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		msg := fmt.Sprintf("%s is not installed (apt-get install -y %s); %s is not tested", name, name, what)
		if os.Getenv("POLICYGRAPH_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// LineWriter keeps what is written to it, and hands each whole line to a
// channel (dropping lines nobody reads once 10,000 wait).
type LineWriter struct {
	mu    sync.Mutex
	buf   strings.Builder // the line being written
	all   strings.Builder
	Lines chan string
}

// NewLineWriter returns an empty LineWriter.
func NewLineWriter() *LineWriter { return &LineWriter{Lines: make(chan string, 10000)} }

func (l *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	for len(p) > 0 {
		i := strings.IndexByte(string(p), '\n')
		if i < 0 {
			l.buf.Write(p)
			break
		}
		l.buf.Write(p[:i])
		select {
		case l.Lines <- strings.TrimSpace(l.buf.String()):
		default:
		}
		l.buf.Reset()
		p = p[i+1:]
	}
	return n, nil
}

// String is everything written so far.
func (l *LineWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// Listening sends the address of the service's first "listening" log line,
// or "" when none comes within timeout.
func (l *LineWriter) Listening(timeout time.Duration) <-chan string {
	c := make(chan string, 1)
	go func() {
		deadline := time.After(timeout)
		for {
			select {
			case line := <-l.Lines:
				var rec struct {
					Msg  string `json:"msg"`
					Addr string `json:"addr"`
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
					c <- rec.Addr
					return
				}
			case <-deadline:
				c <- ""
				return
			}
		}
	}()
	return c
}
