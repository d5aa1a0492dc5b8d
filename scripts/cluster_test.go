// Package scripts_test runs the shell scripts under scripts/ for real.
package scripts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"policygraph/internal/etcdtest"
	"policygraph/internal/testenv"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// alive reports whether process pid runs; a zombie (ended, not yet reaped
// by its parent) does not.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := bytes.Cut(stat, []byte(") "))
	return !bytes.HasPrefix(rest, []byte("Z"))
}

// TestClusterScript starts a local cluster with scripts/cluster.sh on free
// ports, checks that its members answer as one cluster, that start and stop
// are idempotent, that stop leaves no process and no pid file, and that a
// second start finds the data of the first.
func TestClusterScript(t *testing.T) {
	etcdtest.Require(t)
	testenv.RequireTool(t, "curl", "scripts/cluster.sh")
	ports, err := etcdtest.FreePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	join := func(ps []int) string { return strings.Trim(fmt.Sprint(ps), "[]") }
	env := append(os.Environ(),
		"POLICYGRAPH_CLUSTER_DIR="+dir,
		"POLICYGRAPH_CLUSTER_CLIENT_PORTS="+join(ports[0:3]),
		"POLICYGRAPH_CLUSTER_PEER_PORTS="+join(ports[3:6]),
		"POLICYGRAPH_CLUSTER_SERVER_PORTS="+join(ports[6:8]),
	)
	run := func(command string) (string, int) {
		t.Helper()
		// Not the test's context: the stop in Cleanup runs after it ends.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "cluster.sh", command)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("cluster.sh %s: %v\n%s", command, err, out.String())
		}
		t.Logf("cluster.sh %s (exit %d):\n%s", command, cmd.ProcessState.ExitCode(), out.String())
		return out.String(), cmd.ProcessState.ExitCode()
	}
	t.Cleanup(func() { run("stop") })
	pids := func() []int {
		t.Helper()
		var ps []int
		for _, name := range []string{"m1", "m2", "m3"} {
			b, err := os.ReadFile(filepath.Join(dir, "run", name+".pid"))
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, pid)
		}
		return ps
	}
	endpoint := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", ports[i]) }
	client := func(i int) *clientv3.Client {
		t.Helper()
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint(i)}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	out, code := run("start")
	if code != 0 || !strings.Contains(out, "etcd healthy") {
		t.Fatalf("start: exit %d", code)
	}
	// Until the service has -etcd (issue 12), start says so and runs no server;
	// then it must wait until both servers are ready.
	if !strings.Contains(out, "no -etcd flag yet") && !strings.Contains(out, "servers ready at") {
		t.Errorf("start says nothing about the servers")
	}
	first := pids()
	put, err := client(0).Put(ctx, "/cluster-test/k", "v")
	if err != nil {
		t.Fatalf("put through member 1: %v", err)
	}
	for i := range 3 {
		resp, err := client(i).Get(ctx, "/cluster-test/k")
		if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].ModRevision != put.Header.Revision {
			t.Fatalf("get through member %d: %v, %v; want the value put", i+1, resp, err)
		}
	}
	members, err := client(2).MemberList(ctx)
	if err != nil || len(members.Members) != 3 {
		t.Fatalf("member list: %v, %v; want 3 members", members, err)
	}
	if _, code := run("status"); code != 0 {
		t.Errorf("status of a running cluster: exit %d, want 0", code)
	}

	out, code = run("start")
	if code != 0 || !strings.Contains(out, "already runs") || fmt.Sprint(pids()) != fmt.Sprint(first) {
		t.Fatalf("a second start: exit %d, pids %v, want the running %v kept", code, pids(), first)
	}

	for range 2 {
		if _, code := run("stop"); code != 0 {
			t.Fatalf("stop: exit %d", code)
		}
	}
	for _, pid := range first {
		if alive(pid) {
			t.Errorf("etcd pid %d is still there after stop", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid")); len(left) > 0 {
		t.Errorf("pid files left after stop: %v", left)
	}
	if _, code := run("status"); code != 3 {
		t.Errorf("status of a stopped cluster: exit %d, want 3", code)
	}

	if _, code := run("start"); code != 0 {
		t.Fatalf("start after stop: exit %d", code)
	}
	resp, err := client(1).Get(ctx, "/cluster-test/k")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("after a restart the key put before is %v, %v; want it kept", resp, err)
	}
}
