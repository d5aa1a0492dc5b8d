package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"policygraph/app"
	"policygraph/internal/etcdtest"
	"policygraph/internal/testenv"
)

// etcd is the package's etcd cluster, started by the first test that asks.
var etcd etcdtest.Shared

func TestMain(m *testing.M) { os.Exit(etcd.Main(m)) }

// onCluster returns the -etcd flags of a prefix of the test's own on the
// package's cluster.
func onCluster(t *testing.T) []string {
	t.Helper()
	c := etcd.Cluster(t)
	return []string{"-etcd", strings.Join(c.Endpoints(), ","), "-etcd-prefix", c.Prefix(t)}
}

// command runs a policygraph command (app.Run, in process) with stdin and
// returns what it printed and its error.
func command(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = app.Run(t.Context(), args, testenv.NoEnv, stdin, &out, &errb)
	return out.String(), errb.String(), err
}

// mustCommand is command, failing the test on an error.
func mustCommand(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	out, errOut, err := command(t, stdin, args...)
	if err != nil {
		t.Fatalf("policygraph %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// logLines decodes the JSON log lines of a server's output that have msg.
func logLines(out, msg string) []map[string]any {
	var found []map[string]any
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			found = append(found, rec)
		}
	}
	return found
}

// version is a server's graph version, from /healthz.
func version(t *testing.T, c *testenv.Client) float64 {
	t.Helper()
	res, err := http.Get(c.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h struct{ Version float64 }
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h.Version
}

// logEntries counts the entries of a server's change log (GET /changes),
// from its head back to the first one it keeps. A new store's first
// version is the engine's version when it was made, not 1.
func logEntries(t *testing.T, c *testenv.Client) int {
	t.Helper()
	n := 0
	for since := version(t, c) - 1; since >= 0; since-- {
		res, err := http.Get(fmt.Sprintf("%s/changes?since=%d", c.URL, int64(since)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusGone {
			return n
		}
		if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"version":`)) {
			t.Fatalf("/changes?since=%d: %d %s", int64(since), res.StatusCode, body)
		}
		n++
	}
	return n
}

// TestServeEtcdSeedsOnce starts two servers at once on one empty prefix:
// between them they write the article's records once (the sum of what each
// logged writing is what one seed writes, and the graph holds each entity
// once), and both answer at the same version. A third server started on a
// prefix of its own is the reference: one seed alone.
func TestServeEtcdSeedsOnce(t *testing.T) {
	ref := testenv.Start(t, append(onCluster(t), "-data", t.TempDir())...)
	seeded := logLines(ref.Stdout.String(), "seeded from the article")
	if len(seeded) != 1 || seeded[0]["written"].(float64) == 0 {
		t.Fatalf("a server on an empty prefix did not seed it: %v\n%s", seeded, ref.Stdout)
	}
	want := seeded[0]["written"].(float64)

	flags := onCluster(t)
	servers := make([]*testenv.Process, 2)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i] = testenv.Start(t, append(flags, "-data", t.TempDir())...) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	written := 0.0
	for i, s := range servers {
		for _, l := range logLines(s.Stdout.String(), "seeded from the article") {
			t.Logf("server %d seeded: written %v", i+1, l["written"])
			written += l["written"].(float64)
		}
	}
	if written != want {
		t.Errorf("the two servers wrote %v records of the seed between them, want %v (one seed)", written, want)
	}
	wantEntries := logEntries(t, ref.Client)
	for i, s := range servers {
		if v := version(t, s.Client); v != version(t, servers[0].Client) {
			t.Errorf("server %d is at version %v, server 1 at %v", i+1, v, version(t, servers[0].Client))
		}
		if n := logEntries(t, s.Client); n != wantEntries {
			t.Errorf("server %d: the change log holds %d entries, want %d (one seed's)", i+1, n, wantEntries)
		}
		resp := s.Must(t, "", `{ entities(first: 1) { totalCount } }`, nil)
		refCount := ref.Must(t, "", `{ entities(first: 1) { totalCount } }`, nil).Raw
		if resp.Raw != refCount {
			t.Errorf("server %d: %s, the reference %s", i+1, resp.Raw, refCount)
		}
	}
	// Stopped, the prefix checks clean.
	for _, s := range servers {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	out := mustCommand(t, nil, append([]string{"check", "-model"}, flags...)...)
	if !strings.Contains(out, ": 0 problems") {
		t.Errorf("check: %s", out)
	}
}

// TestServeEtcdNeverLogsThePassword: a server given an etcd user and
// password (the cluster's authentication is off, which etcd's client
// accepts) logs the cluster it opens, never the password.
func TestServeEtcdNeverLogsThePassword(t *testing.T) {
	const secret = "pw-that-must-not-show"
	s := testenv.Start(t, append(onCluster(t), "-data", t.TempDir(), "-etcd-user", "policygraph", "-etcd-password", secret)...)
	s.Must(t, "", `{ entities(first: 1) { totalCount } }`, nil)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	logs := s.Stdout.String()
	if !strings.Contains(logs, `"user":"policygraph"`) || strings.Contains(logs, secret) {
		t.Errorf("want the user and never the password in the log:\n%s", logs)
	}
}

// TestServeEtcdUnreachable: a cluster that does not answer stops the start
// with an error naming it within -etcd-timeout, rather than hanging.
func TestServeEtcdUnreachable(t *testing.T) {
	ports, err := etcdtest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("127.0.0.1:%d", ports[0])
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	err = app.Run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-etcd", endpoint, "-etcd-timeout", "1s"}, testenv.NoEnv, nil, &out, io.Discard)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("err %v (context %v), want one naming %s\n%s", err, ctx.Err(), endpoint, out.String())
	}
	for _, cmd := range []string{"check", "backup", "export"} {
		_, _, err := command(t, nil, cmd, "-etcd", endpoint, "-etcd-timeout", "1s")
		if err == nil || !strings.Contains(err.Error(), endpoint) {
			t.Errorf("%s: err %v, want one naming %s", cmd, err, endpoint)
		}
	}
}

// TestEtcdCommands: backup, restore, check, export and import work on a
// cluster as on a directory: a backup of a seeded prefix restores into an
// empty one, an export imports into another, and the three export the same
// graph and check clean. Each refuses what it must, and a restore of a
// damaged backup leaves its prefix empty.
func TestEtcdCommands(t *testing.T) {
	src := onCluster(t)
	mustCommand(t, nil, append([]string{"seed"}, src...)...)
	// backup, export and check only read: the cluster's revision stays.
	cli := etcd.Cluster(t).Client(t)
	revision := func() int64 {
		resp, err := cli.Get(t.Context(), "/revision-probe")
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	before := revision()
	dir := t.TempDir()
	backup := filepath.Join(dir, "graph.backup")
	mustCommand(t, nil, append([]string{"backup", "-out", backup}, src...)...)
	export := mustCommand(t, nil, append([]string{"export"}, src...)...)
	if !strings.Contains(export, `"slug":"waic-2023"`) {
		t.Fatalf("the export lacks the seed: %.300s", export)
	}
	for _, args := range [][]string{{"check"}, {"check", "-model"}} {
		if out := mustCommand(t, nil, append(args, src...)...); !regexp.MustCompile(`\d+ entities, \d+ facts.*: 0 problems`).MatchString(out) {
			t.Errorf("%s: %s", args, out)
		}
	}
	if after := revision(); after != before {
		t.Errorf("backup, export and check moved the cluster's revision from %d to %d", before, after)
	}

	restored := onCluster(t)
	out := mustCommand(t, nil, append([]string{"restore", "-in", backup}, restored...)...)
	if !strings.Contains(out, "restore: etcd ") || !strings.Contains(out, "checked; the restored store is store") {
		t.Errorf("restore: %s", out)
	}
	imported := onCluster(t)
	mustCommand(t, strings.NewReader(export), append([]string{"import"}, imported...)...)
	for name, flags := range map[string][]string{"restored": restored, "imported": imported} {
		if got := mustCommand(t, nil, append([]string{"export"}, flags...)...); got != export {
			t.Errorf("the %s prefix exports another graph than the source", name)
		}
		if out := mustCommand(t, nil, append([]string{"check", "-model"}, flags...)...); !strings.Contains(out, "change log: 0 problems") {
			t.Errorf("check -model of the %s prefix: %s", name, out)
		}
	}

	// Refusals, each with its reason.
	empty := onCluster(t)
	cut, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	cutFile := filepath.Join(dir, "cut.backup")
	if err := os.WriteFile(cutFile, cut[:len(cut)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"restore into a graph", "", append([]string{"restore", "-in", backup}, src...), "is not empty"},
		{"import into a graph", export, append([]string{"import"}, src...), "is not empty"},
		{"backup of an empty prefix", "", append([]string{"backup", "-out", filepath.Join(dir, "x")}, empty...), "holds no graph"},
		{"check of an empty prefix", "", append([]string{"check"}, empty...), "holds no graph"},
		{"export of an empty prefix", "", append([]string{"export"}, empty...), "holds no graph"},
		{"backup from two places", "", append([]string{"backup", "-data", dir}, src...), "give one of"},
		{"restore to two places", "", append([]string{"restore", "-data", dir}, src...), "give -data"},
		{"check of two places", "", append([]string{"check", "-data", dir}, src...), "not both"},
		{"a cut backup", "", append([]string{"restore", "-in", cutFile}, empty...), "restore:"},
		{"a cut export", export[:len(export)/2], append([]string{"import"}, empty...), "import:"},
		{"a bad flag", "", []string{"check", "-etcd", "127.0.0.1"}, "not host:port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := command(t, strings.NewReader(tt.stdin), tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one saying %q", err, tt.want)
			}
		})
	}
	// The failed restore and import left nothing: the prefix is still empty.
	if _, _, err := command(t, nil, append([]string{"check"}, empty...)...); err == nil || !strings.Contains(err.Error(), "holds no graph") {
		t.Errorf("after a failed restore and import the prefix is not empty: %v", err)
	}
}

// TestServeEtcdModelFile: with -etcd, -data holds the read model's file: a
// server restarted on it reads the file and replays, from the cluster's
// change log, what another server wrote meanwhile, instead of listing the
// whole cluster.
func TestServeEtcdModelFile(t *testing.T) {
	flags := onCluster(t)
	data := t.TempDir()
	a := testenv.Start(t, append(flags, "-data", data)...)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(data, "model", "*")); len(files) == 0 {
		t.Fatalf("no model file in %s after a stop:\n%s", data, a.Stdout)
	}
	b := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	b.Must(t, testenv.Token, `mutation { createEntity(input: {kind: ORGANIZATION, name: "Model File Ltd"}) { slug } }`, nil)

	again := testenv.Start(t, append(flags, "-data", data)...)
	loaded := logLines(again.Stdout.String(), "read model loaded from its file")
	if len(loaded) != 1 || loaded[0]["replayed"].(float64) < 1 {
		t.Errorf("the restart did not start from its file and replay the write: %v\n%s", loaded, again.Stdout)
	}
	got := again.Must(t, "", `{ entity(slug: "model-file-ltd") { name } }`, nil).Raw
	if !strings.Contains(got, `"name":"Model File Ltd"`) {
		t.Errorf("the restarted server does not have the other's write: %s", got)
	}
}

// TestEtcdCheckWhileWriting: check reads the cluster at one revision, so
// it finds a consistent graph (the change log ends at the head, the models
// agree) while a server writes to it all along.
func TestEtcdCheckWhileWriting(t *testing.T) {
	flags := onCluster(t)
	s := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var writes int
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			q := fmt.Sprintf(`mutation { createEntity(input: {kind: ORGANIZATION, name: "Checked While Writing %d"}) { slug } }`, i)
			if r, err := s.Do(ctx, testenv.Token, q, nil); err == nil && r.Acked() {
				writes++
			}
		}
	})
	for range 3 {
		out, errOut, err := command(t, nil, append([]string{"check", "-model"}, flags...)...)
		if err != nil || !strings.Contains(out, "change log: 0 problems") {
			t.Errorf("check -model while a server writes: %v\n%s%s", err, out, errOut)
		}
	}
	stop()
	wg.Wait()
	if writes == 0 {
		t.Fatal("no write was acknowledged while check ran")
	}
	t.Logf("%d writes acknowledged during three checks", writes)
}

// TestServeEtcdQuorum drives a server through what docs/cluster.md says
// each failure of its cluster does: one member of three stopped, writes go
// on; two stopped, a write fails with STORE_UNAVAILABLE (503) rather than
// hanging, and reads go on; one back, writes resume. Every write
// acknowledged on the way is there at the end, and the graph checks clean.
func TestServeEtcdQuorum(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Options{})
	flags := []string{"-etcd", strings.Join(c.Endpoints(), ","), "-etcd-timeout", "2s"}
	s := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var acked []string
	write := func() *testenv.Response {
		t.Helper()
		name := fmt.Sprintf("Quorum Test %d", len(acked)+1)
		r, err := s.Do(ctx, testenv.Token, `mutation($name: String!) { createEntity(input: {kind: ORGANIZATION, name: $name}) { slug } }`, map[string]any{"name": name})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if r.Acked() {
			acked = append(acked, fmt.Sprint(testenv.Value(r.Data, "createEntity.slug")))
		}
		return r
	}
	// writesGoOn: writes succeed, after at most a few refused with
	// STORE_UNAVAILABLE while etcd elects a leader.
	writesGoOn := func(what string) {
		t.Helper()
		for attempt := 1; ; attempt++ {
			r := write()
			if r.Acked() {
				return
			}
			if r.Code() != "STORE_UNAVAILABLE" || attempt == 30 {
				t.Fatalf("%s: a write answered %d %s: %s", what, r.Status, r.Code(), r.Raw)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	writesGoOn("all members up")

	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var followers []*etcdtest.Member
	for _, m := range c.Members() {
		if m != leader {
			followers = append(followers, m)
		}
	}
	if err := followers[0].Stop(); err != nil {
		t.Fatal(err)
	}
	writesGoOn("one member of three stopped")
	for range 5 {
		writesGoOn("one member of three stopped")
	}

	if err := followers[1].Stop(); err != nil {
		t.Fatal(err)
	}
	// The first write finds out within -etcd-timeout (a field error); from
	// then on the server knows, and refuses a write before it runs: 503
	// under application/graphql-response+json.
	if r := write(); r.Code() != "STORE_UNAVAILABLE" || r.Acked() || r.Header.Get("Retry-After") == "" {
		t.Fatalf("two members of three stopped: a write answered %d %s (Retry-After %q): %s", r.Status, r.Code(), r.Header.Get("Retry-After"), r.Raw)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"mutation { createEntity(input: {kind: ORGANIZATION, name: \"Refused\"}) { slug } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+testenv.Token)
	if r, err := s.Send(req); err != nil || r.Status != http.StatusServiceUnavailable || r.Code() != "STORE_UNAVAILABLE" || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("two members of three stopped: the next write answered %v %v", r, err)
	}
	got := s.Must(t, "", fmt.Sprintf(`{ entity(slug: %q) { name } }`, acked[len(acked)-1]), nil).Raw
	if !strings.Contains(got, "Quorum Test") {
		t.Errorf("without a quorum, a read of an acknowledged write answered %s", got)
	}

	if err := followers[0].Start(); err != nil {
		t.Fatal(err)
	}
	writesGoOn("a member back")
	for _, slug := range acked {
		if got := s.Must(t, "", fmt.Sprintf(`{ entity(slug: %q) { name } }`, slug), nil).Raw; !strings.Contains(got, "Quorum Test") {
			t.Errorf("acknowledged write %s is missing: %s", slug, got)
		}
	}
	if err := followers[1].Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if out := mustCommand(t, nil, append([]string{"check", "-model"}, flags...)...); !strings.Contains(out, "change log: 0 problems") {
		t.Errorf("check -model: %s", out)
	}
	t.Logf("%d writes acknowledged", len(acked))
}

// TestServeEtcdMetrics: a server on a cluster exports the etcd engine's
// counters on /metrics: the seed was one staged commit, and a write adds
// a commit.
func TestServeEtcdMetrics(t *testing.T) {
	s := testenv.Start(t, append(onCluster(t), "-data", t.TempDir())...)
	metric := func(name string) float64 {
		t.Helper()
		res, err := http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics has no %s:\n%s", name, body)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if staged := metric("policygraph_etcd_staged_commits_total"); staged < 1 {
		t.Errorf("policygraph_etcd_staged_commits_total %v after the seed, want at least 1", staged)
	}
	before := metric("policygraph_etcd_commits_total")
	s.Must(t, testenv.Token, `mutation { createEntity(input: {kind: ORGANIZATION, name: "Metrics Ltd"}) { slug } }`, nil)
	if after := metric("policygraph_etcd_commits_total"); after <= before {
		t.Errorf("policygraph_etcd_commits_total %v after a write, %v before", after, before)
	}
	for _, name := range []string{"policygraph_etcd_conflicts_total", "policygraph_etcd_unavailable_total", "policygraph_store_lag"} {
		metric(name)
	}
}
