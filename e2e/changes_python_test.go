package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

var consumerRE = regexp.MustCompile("(?s)```python consumer\n(.*?)```")

// consumer is docs/changes.md's Python consumer running with limit, its
// state in state: what it printed, and its exit.
type consumer struct {
	stdout, stderr *testenv.LineWriter
	done           chan error
}

func runConsumer(t *testing.T, script, base, state string, limit int) *consumer {
	t.Helper()
	cmd := exec.Command("python3", script)
	cmd.Env = append(testenv.Env(), "POLICYGRAPH_URL="+base, "STATE_FILE="+state, "LIMIT="+strconv.Itoa(limit), "TOKEN="+testenv.Token)
	c := &consumer{stdout: testenv.NewLineWriter(), stderr: testenv.NewLineWriter(), done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() { c.done <- cmd.Wait() }()
	return c
}

// line waits for the consumer's next line on w.
func (c *consumer) line(t *testing.T, w *testenv.LineWriter) string {
	t.Helper()
	select {
	case l := <-w.Lines:
		return l
	case err := <-c.done:
		t.Fatalf("the consumer exited (%v) before the line expected:\nstdout:\n%s\nstderr:\n%s", err, c.stdout, c.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("no line from the consumer in a minute:\nstdout:\n%s\nstderr:\n%s", c.stdout, c.stderr)
	}
	return ""
}

// wait waits for the consumer to exit, and fails the test unless it did
// cleanly.
func (c *consumer) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("the consumer: %v\nstdout:\n%s\nstderr:\n%s", err, c.stdout, c.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the consumer did not stop in a minute:\nstdout:\n%s\nstderr:\n%s", c.stdout, c.stderr)
	}
}

// TestChangesPythonConsumer runs the consumer of docs/changes.md: it follows
// the stream while writes come, stops at its limit, resumes from its state
// file with the writes made while it was away, and goes on across a restart
// of the server under it; every write is printed once, in version order.
func TestChangesPythonConsumer(t *testing.T) {
	testenv.RequireTool(t, "python3", "docs/changes.md's Python consumer")
	m := consumerRE.FindSubmatch(readPage(t, "docs/changes.md"))
	if m == nil {
		t.Fatal("docs/changes.md has no ```python consumer block")
	}
	dir := t.TempDir()
	script, state := filepath.Join(dir, "consumer.py"), filepath.Join(dir, "state.json")
	if err := os.WriteFile(script, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	// A fixed address, so that the restarted server is where the consumer
	// reconnects.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := filepath.Join(dir, "data")
	start := func() *testenv.Process {
		return testenv.Start(t, "-data", data, "-sync=false", "-addr", addr, "-stream-heartbeat", "200ms")
	}
	srv := start()
	base := srv.URL
	var written []string // entity IDs, in write order: one version each

	// Follow from the head, three writes, stop at the limit.
	c := runConsumer(t, script, base, state, 3)
	if l := c.line(t, c.stderr); !strings.HasPrefix(l, "following ") {
		t.Fatalf("the consumer said %q", l)
	}
	for i := range 3 {
		written = append(written, createTopic(t, srv.Client, fmt.Sprintf("python %d", i)))
	}
	c.wait(t)
	printed := strings.Split(strings.TrimSpace(c.stdout.String()), "\n")

	// Two writes while it is away; it resumes with them, then the server
	// restarts under it, and three more writes come after.
	for i := 3; i < 5; i++ {
		written = append(written, createTopic(t, srv.Client, fmt.Sprintf("python %d", i)))
	}
	c = runConsumer(t, script, base, state, 6)
	for range 2 {
		c.line(t, c.stdout)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	srv = start()
	for i := 5; i < 9; i++ {
		written = append(written, createTopic(t, srv.Client, fmt.Sprintf("python %d", i)))
	}
	c.wait(t)
	if !strings.Contains(c.stderr.String(), "stream ended: shutdown") {
		t.Errorf("the consumer did not see the shutdown line:\n%s", c.stderr)
	}
	printed = append(printed, strings.Split(strings.TrimSpace(c.stdout.String()), "\n")...)

	// 3 + 6 lines: every write once, in order, versions one after another.
	if len(printed) != len(written) {
		t.Fatalf("the consumer printed %d lines for %d writes:\n%s", len(printed), len(written), strings.Join(printed, "\n"))
	}
	var prev uint64
	for i, line := range printed {
		f := strings.Fields(line)
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || len(f) != 3 || f[1] != "entity" || f[2] != written[i] {
			t.Fatalf("line %d: %q, want a version, entity, %s", i, line, written[i])
		}
		if i > 0 && v != prev+1 {
			t.Fatalf("version %d after %d: a gap or a duplicate:\n%s", v, prev, strings.Join(printed, "\n"))
		}
		prev = v
	}
}
