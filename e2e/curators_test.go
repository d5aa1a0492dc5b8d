package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/app"
	"policygraph/internal/testenv"
)

// curator is a named token made for a test, and its line of a token file.
type namedToken struct{ name, token, line string }

func newCurator(t *testing.T, name, scopes string) namedToken {
	t.Helper()
	tok, err := api.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return namedToken{name: name, token: tok, line: name + " " + scopes + " " + api.HashToken(tok)}
}

// writeTokenFile writes the curators' lines to path, atomically (as an
// operator's editor or config management would: a reload never reads half a
// file).
func writeTokenFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("# test curators\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// call sends a request with the token (none if empty) and returns the status
// and the body.
func call(t *testing.T, method, url, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/graphql-response+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gql(query string, vars map[string]any) map[string]any {
	return map[string]any{"query": query, "variables": vars}
}

// noSecretsIn fails when the log holds any curator's token or hash.
func noSecretsIn(t *testing.T, log string, curators ...namedToken) {
	t.Helper()
	for _, c := range curators {
		hash := api.HashToken(c.token)
		for _, secret := range []string{c.token, hash, strings.TrimPrefix(hash, api.HashPrefix)} {
			if strings.Contains(log, secret) {
				t.Errorf("the log holds %s's token or its hash", c.name)
			}
		}
	}
	if strings.Contains(log, testenv.Token) {
		t.Error("the log holds -token's token")
	}
}

// TestCuratorsScopes (issue 14, curators): each curator's token does what
// its scopes allow, every write is recorded with its curator's name
// (Entity.createdBy, Fact.createdBy, Fact.retractedBy, Retraction.by), a
// token without the scope a request needs is refused 403 FORBIDDEN and
// counted, -token's curator keeps writing as "curator", and the log holds no
// token and no hash.
func TestCuratorsScopes(t *testing.T) {
	alice, rita, ada := newCurator(t, "alice", "write"), newCurator(t, "rita", "read"), newCurator(t, "ada", "admin")
	file := filepath.Join(t.TempDir(), "tokens")
	writeTokenFile(t, file, alice.line, rita.line, ada.line)
	s := testenv.Start(t, "-data", filepath.Join(t.TempDir(), "d"), "-tokens-file", file, "-auth-failure-delay", "0")
	endpoint := s.URL + "/graphql"

	// alice writes: an entity, a fact about it, and retracts a seeded fact.
	status, body := call(t, "POST", endpoint, alice.token, gql(`mutation { createEntity(input: {kind: ORGANIZATION, name: "Curated Org"}) { slug createdBy } }`, nil))
	if status != 200 || !strings.Contains(body, `"createdBy":"alice"`) {
		t.Fatalf("alice createEntity: %d %s", status, body)
	}
	status, body = call(t, "POST", endpoint, alice.token, gql(`mutation($in: AddFactInput!) { addFact(input: $in) { id createdBy retractedBy } }`,
		map[string]any{"in": map[string]any{"subject": "curated-org", "predicate": "COUNTRY", "value": "US",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": "Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này"}}}}))
	if status != 200 || !strings.Contains(body, `"createdBy":"alice","retractedBy":null`) {
		t.Fatalf("alice addFact: %d %s", status, body)
	}
	var added struct {
		Data struct{ AddFact struct{ ID string } }
	}
	json.Unmarshal([]byte(body), &added)
	status, body = call(t, "POST", endpoint, testenv.Token, gql(`mutation($id: ID!) { retractFact(input: {id: $id, reason: "test"}) { createdBy retractedBy retraction { by } } }`,
		map[string]any{"id": added.Data.AddFact.ID}))
	if status != 200 || !strings.Contains(body, `"createdBy":"alice","retractedBy":"curator","retraction":{"by":"curator"}`) {
		t.Errorf("-token's curator retracts alice's fact: %d %s", status, body)
	}
	status, body = call(t, "POST", endpoint, "", gql(`{ organization(slug: "curated-org") { createdBy } qualcomm: organization(slug: "qualcomm") { createdBy } }`, nil))
	if status != 200 || !strings.Contains(body, `{"organization":{"createdBy":"alice"},"qualcomm":{"createdBy":"seed"}}`) {
		t.Errorf("Entity.createdBy: %d %s", status, body)
	}

	// Scopes: rita reads but does not write; alice does not save queries or
	// take backups; ada does. Refusals for a scope are 403 FORBIDDEN.
	save := gql(`mutation { saveQuery(input: {name: "by-ada", query: "{ stats { facts } }"}) { name } }`, nil)
	for _, tt := range []struct {
		name, method, url, token string
		body                     any
		status                   int
		code                     string
	}{
		{"rita writes", "POST", endpoint, rita.token, gql(`mutation { createEntity(input: {kind: TOPIC, name: "Rita's"}) { id } }`, nil), 403, "FORBIDDEN"},
		{"rita reads", "POST", endpoint, rita.token, gql(`{ stats { facts } }`, nil), 200, ""},
		{"alice saves a query", "POST", endpoint, alice.token, save, 403, "FORBIDDEN"},
		{"alice backs up", "GET", s.URL + "/admin/backup", alice.token, nil, 403, "FORBIDDEN"},
		{"rita backs up", "GET", s.URL + "/admin/backup", rita.token, nil, 403, "FORBIDDEN"},
		{"anonymous backs up", "GET", s.URL + "/admin/backup", "", nil, 401, "UNAUTHENTICATED"},
		{"ada saves a query", "POST", endpoint, ada.token, save, 200, ""},
		{"ada deletes it", "POST", endpoint, ada.token, gql(`mutation { deleteSavedQuery(name: "by-ada") }`, nil), 200, ""},
		{"ada backs up", "GET", s.URL + "/admin/backup", ada.token, nil, 200, ""},
		{"ada writes", "POST", endpoint, ada.token, gql(`mutation { createEntity(input: {kind: TOPIC, name: "Ada's"}) { id } }`, nil), 403, "FORBIDDEN"},
		{"-token backs up", "GET", s.URL + "/admin/backup", testenv.Token, nil, 200, ""},
		{"a wrong token", "POST", endpoint, "pgt_guess", gql(`mutation { createEntity(input: {kind: TOPIC, name: "Guess"}) { id } }`, nil), 401, "UNAUTHENTICATED"},
		{"anonymous reads", "POST", endpoint, "", gql(`{ stats { facts } }`, nil), 200, ""},
	} {
		status, body := call(t, tt.method, tt.url, tt.token, tt.body)
		if status != tt.status || tt.code != "" && !strings.Contains(body, `"code":"`+tt.code+`"`) ||
			tt.code == "" && strings.Contains(body, `"errors"`) {
			t.Errorf("%s: %d %.300s; want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	if got := metric(t, s.URL, `policygraph_auth_failures_total{reason="forbidden"}`); got != 5 {
		t.Errorf(`policygraph_auth_failures_total{reason="forbidden"} = %v, want 5`, got)
	}
	if got := metric(t, s.URL, `policygraph_auth_failures_total{reason="wrong_token"}`); got != 1 {
		t.Errorf(`policygraph_auth_failures_total{reason="wrong_token"} = %v, want 1`, got)
	}
	log := s.Stdout.String()
	if !strings.Contains(log, `"curator":"rita","scope":"write"`) {
		t.Errorf("no warning names rita and the scope her token lacks:\n%s", log)
	}
	noSecretsIn(t, log, alice, rita, ada)
}

// TestPrivateServer: with -private, every request to the API and /q/ needs a
// curator's token (any scope reads); without one it is 401 UNAUTHENTICATED,
// and /q/ does not tell which saved queries exist.
func TestPrivateServer(t *testing.T) {
	rita := newCurator(t, "rita", "read")
	file := filepath.Join(t.TempDir(), "tokens")
	writeTokenFile(t, file, rita.line)
	s := testenv.Start(t, "-data", filepath.Join(t.TempDir(), "d"), "-tokens-file", file, "-private", "-auth-failure-delay", "0")
	if status, body := call(t, "POST", s.URL+"/graphql", testenv.Token, gql(`mutation { saveQuery(input: {name: "facts", query: "{ stats { facts } }"}) { name } }`, nil)); status != 200 {
		t.Fatalf("saveQuery: %d %s", status, body)
	}
	for _, tt := range []struct {
		name, method, url, token string
		body                     any
		status                   int
	}{
		{"anonymous query", "POST", s.URL + "/graphql", "", gql(`{ stats { facts } }`, nil), 401},
		{"anonymous GET query", "GET", s.URL + "/graphql?query=%7Bstats%7Bfacts%7D%7D", "", nil, 401},
		{"anonymous saved query", "GET", s.URL + "/q/facts", "", nil, 401},
		{"anonymous unknown saved query", "GET", s.URL + "/q/no-such", "", nil, 401},
		{"a wrong token", "POST", s.URL + "/graphql", "pgt_guess", gql(`{ stats { facts } }`, nil), 401},
		{"rita's query", "POST", s.URL + "/graphql", rita.token, gql(`{ stats { facts } }`, nil), 200},
		{"rita's saved query", "GET", s.URL + "/q/facts", rita.token, nil, 200},
		{"rita's unknown saved query", "GET", s.URL + "/q/no-such", rita.token, nil, 404},
		{"-token's query", "POST", s.URL + "/graphql", testenv.Token, gql(`{ stats { facts } }`, nil), 200},
		{"health", "GET", s.URL + "/healthz", "", nil, 200},
	} {
		status, body := call(t, tt.method, tt.url, tt.token, tt.body)
		if status != tt.status || status == 401 && !strings.Contains(body, `"code":"UNAUTHENTICATED"`) {
			t.Errorf("%s: %d %.300s; want %d", tt.name, status, body, tt.status)
		}
	}
	// The wrong token was checked once, though /q/ and /graphql both authenticate.
	if got := metric(t, s.URL, `policygraph_auth_failures_total{reason="wrong_token"}`); got != 1 {
		t.Errorf("wrong_token = %v, want 1", got)
	}
	if _, err := app.ParseConfig([]string{"-private"}, testenv.NoEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "-private needs") {
		t.Errorf("-private with no token: %v", err)
	}
}

// waitForLog waits for a log line holding want, and returns it.
func waitForLog(t *testing.T, p *testenv.Process, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line := <-p.Stdout.Lines:
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no log line with %q within 30s:\n%s", want, p.Stdout.String())
		}
	}
}

// TestTokenReloadOnSIGHUP runs the binary: SIGHUP re-reads the token file
// and swaps the curators whole (a removed token is refused at once, a new one
// accepted, and its writes recorded with its name); a file that does not
// load keeps the set before it, and the error logged names the line. The log
// holds no token and no hash.
func TestTokenReloadOnSIGHUP(t *testing.T) {
	alice, bob := newCurator(t, "alice", "write"), newCurator(t, "bob", "write,admin")
	file := filepath.Join(t.TempDir(), "tokens")
	writeTokenFile(t, file, alice.line)
	p := testenv.StartBinary(t, t.TempDir(), "-tokens-file", file, "-auth-failure-delay", "0")
	endpoint := p.URL + "/graphql"
	create := func(token, name string) (int, string) {
		return call(t, "POST", endpoint, token, gql(`mutation($n: String!) { createEntity(input: {kind: TOPIC, name: $n}) { createdBy } }`, map[string]any{"n": name}))
	}
	if status, body := create(alice.token, "Before reload"); status != 200 || !strings.Contains(body, `"createdBy":"alice"`) {
		t.Fatalf("alice before the reload: %d %s", status, body)
	}
	if status, _ := create(bob.token, "Bob too early"); status != 401 {
		t.Errorf("bob before the reload: %d, want 401", status)
	}

	writeTokenFile(t, file, bob.line)
	p.Cmd.Process.Signal(syscall.SIGHUP)
	if line := waitForLog(t, p, "tokens reloaded"); !strings.Contains(line, `"curators":["curator","bob"]`) {
		t.Errorf("reload log line: %s", line)
	}
	if status, body := create(alice.token, "After reload"); status != 401 || !strings.Contains(body, "UNAUTHENTICATED") {
		t.Errorf("alice's removed token after the reload: %d %s", status, body)
	}
	if status, body := create(bob.token, "Bob after reload"); status != 200 || !strings.Contains(body, `"createdBy":"bob"`) {
		t.Errorf("bob after the reload: %d %s", status, body)
	}

	// A bad file: line 3 (after the comment and bob) has a scope that does
	// not exist. The set before it stays.
	writeTokenFile(t, file, bob.line, strings.Replace(alice.line, "write", "root", 1))
	p.Cmd.Process.Signal(syscall.SIGHUP)
	line := waitForLog(t, p, "token reload failed")
	if !strings.Contains(line, file+`:3: curator \"alice\": unknown scope \"root\"`) || !strings.Contains(line, `"level":"ERROR"`) {
		t.Errorf("the error does not name the line: %s", line)
	}
	if status, body := create(bob.token, "Bob after a bad reload"); status != 200 {
		t.Errorf("bob after a failed reload: %d %s", status, body)
	}
	if status, _ := create(alice.token, "Alice after a bad reload"); status != 401 {
		t.Errorf("alice after a failed reload: %d", status)
	}
	// A hash pasted wrong (the token itself in its place) is not echoed.
	writeTokenFile(t, file, bob.name+" write "+bob.token)
	p.Cmd.Process.Signal(syscall.SIGHUP)
	if line := waitForLog(t, p, "token reload failed"); !strings.Contains(line, file+`:2: curator \"bob\": the token hash must be`) {
		t.Errorf("a token for a hash: %s", line)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	noSecretsIn(t, p.Stdout.String(), alice, bob)
}

// TestTokenCommand: policygraph token prints a new random token and the line
// of the token file that lets it in; a bad name or scope is refused.
func TestTokenCommand(t *testing.T) {
	out, err := testenv.BinaryCommand(t, "token", "-name", "carol", "-scopes", "read,write").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], api.TokenPrefix) || lines[1] != "carol read,write "+api.HashToken(lines[0]) {
		t.Fatalf("token printed %q", out)
	}
	set, err := api.ParseCurators(strings.NewReader(lines[1]), "printed")
	if c := set.Lookup(lines[0]); err != nil || c == nil || c.Name != "carol" || !c.Can(api.ScopeWrite) || c.Can(api.ScopeAdmin) {
		t.Errorf("the printed line does not let the token in as carol with read,write: %v %+v", err, c)
	}
	again, _ := testenv.BinaryCommand(t, "token", "-name", "carol").Output()
	if strings.HasPrefix(string(again), lines[0]) {
		t.Error("two tokens alike")
	}
	for _, args := range [][]string{{"-name", "Carol"}, {"-name", "carol", "-scopes", "root"}, {"-name", "seed"}, {}} {
		if out, err := testenv.BinaryCommand(t, append([]string{"token"}, args...)...).CombinedOutput(); err == nil {
			t.Errorf("token %q: no error: %s", args, out)
		}
	}
}
