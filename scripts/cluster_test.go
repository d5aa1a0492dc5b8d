// Package scripts_test runs the shell scripts under scripts/ for real.
package scripts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	env := append(testenv.Env(),
		"POLICYGRAPH_TOKEN="+testenv.Token,
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
	if !strings.Contains(out, "servers ready at") {
		t.Fatalf("start did not wait for the servers to be ready")
	}
	first := pids()
	server := func(i int) *testenv.Client { return testenv.At(fmt.Sprintf("http://127.0.0.1:%d", ports[6+i])) }
	checkServers(t, server(0), server(1))
	runClusterDoc(t, map[string]string{"http://127.0.0.1:8081": server(0).URL, "http://127.0.0.1:8082": server(1).URL}, env)
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
	// The servers come back on the graph they had, writes included.
	for i := range 2 {
		got := server(i).Must(t, "", `{ entity(slug: "read-your-writes-ltd") { name } }`, nil).Raw
		if !strings.Contains(got, "Read Your Writes Ltd") {
			t.Errorf("server %d after a restart: %s", i+1, got)
		}
	}
	checkServers(t, server(0), server(1))
}

// checkServers checks that the two servers answer the same graph, and that
// a write through either is read through the other when the read asks for
// the version the write's response gave (Policygraph-Min-Version).
func checkServers(t *testing.T, a, b *testenv.Client) {
	t.Helper()
	const graph = `{ entities(first: 200) { totalCount nodes { slug name } } facts(first: 200) { totalCount nodes { id } } }`
	if ga, gb := a.Must(t, "", graph, nil), b.Must(t, "", graph, nil); ga.Raw != gb.Raw || ga.Header.Get("Policygraph-Version") != gb.Header.Get("Policygraph-Version") {
		t.Errorf("the servers answer different graphs:\n%s %s\n%s %s", ga.Header.Get("Policygraph-Version"), testenv.Clip(ga.Raw), gb.Header.Get("Policygraph-Version"), testenv.Clip(gb.Raw))
	}
	for i, pair := range [][2]*testenv.Client{{a, b}, {b, a}} {
		name := fmt.Sprintf("Written Through %d At %d", i+1, time.Now().UnixNano())
		w := pair[0].Must(t, testenv.Token, `mutation($name: String!) { createEntity(input: {kind: ORGANIZATION, name: $name}) { slug } }`, map[string]any{"name": name})
		v := w.Header.Get("Policygraph-Version")
		if v == "" {
			t.Fatalf("a write's response has no Policygraph-Version header: %v", w.Header)
		}
		slug := testenv.Value(w.Data, "createEntity.slug")
		req, err := http.NewRequest(http.MethodPost, pair[1].URL+"/graphql", strings.NewReader(fmt.Sprintf(`{"query":"{ entity(slug: \"%s\") { name } }"}`, slug)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Policygraph-Min-Version", v)
		r, err := pair[1].Send(req)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Raw, name) {
			t.Errorf("written at %s through one server, read with Policygraph-Min-Version through the other: %d %s", v, r.Status, r.Raw)
		}
	}
}

// clusterExampleRE finds docs/cluster.md's example that runs against the
// script's cluster (```sh cluster) and the ```text block of its output.
var clusterExampleRE = regexp.MustCompile("(?s)```sh cluster\n(.*?)```\n\n```text\n(.*?)```")

// runClusterDoc runs the examples of docs/cluster.md that need a cluster
// (the README tests run one server only) against the script's servers, the
// addresses the page shows replaced by urls, and checks each prints what
// the page shows.
func runClusterDoc(t *testing.T, urls map[string]string, env []string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "docs", "cluster.md"))
	if err != nil {
		t.Fatal(err)
	}
	examples := clusterExampleRE.FindAllStringSubmatch(string(doc), -1)
	if len(examples) == 0 {
		t.Fatal("docs/cluster.md has no ```sh cluster example")
	}
	for i, ex := range examples {
		code := ex[1]
		for shown, url := range urls {
			code = strings.ReplaceAll(code, shown, url)
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", code)
		cmd.Env = append(env, "TOKEN="+testenv.Token)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("docs/cluster.md, example %d: %v\n%s\n%s", i+1, err, code, out)
			continue
		}
		if strings.TrimSpace(string(out)) != strings.TrimSpace(ex[2]) {
			t.Errorf("docs/cluster.md, example %d prints\n%s\nthe page shows\n%s", i+1, out, ex[2])
		}
	}
}
