package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"policygraph/internal/testenv"
)

// TestAuthOverHTTP runs the token rules of issue 9, item 16 against the real
// server: the Bearer scheme in any case (mutations and the backup route), a
// failed attempt counted in policygraph_auth_failures_total, and a warning at
// start for a token under 16 bytes. (The slowing itself is TestFailedAuthIsSlowed,
// in graph, on a fake clock.)
func TestAuthOverHTTP(t *testing.T) {
	s := testenv.Start(t, "-data", filepath.Join(t.TempDir(), "d")) // with testenv.Token: 10 bytes
	send := func(method, path, authorization string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", authorization)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	write, _ := json.Marshal(map[string]any{"query": `mutation { createEntity(input: {kind: TOPIC, name: "lower case scheme"}) { slug } }`})
	if status, body := send("POST", "/graphql", "bearer "+testenv.Token, write); status != 200 || !strings.Contains(body, `"slug":"lower-case-scheme"`) {
		t.Errorf("lowercase bearer, mutation: %d %s", status, body)
	}
	if status, body := send("GET", "/admin/backup", "BEARER "+testenv.Token, nil); status != 200 {
		t.Errorf("uppercase bearer, backup: %d %.200s", status, body)
	}
	if status, body := send("POST", "/graphql", "Bearer wrong", write); status != 200 || !strings.Contains(body, "UNAUTHENTICATED") {
		t.Errorf("wrong token: %d %s", status, body)
	}
	if got := metric(t, s.URL, `policygraph_auth_failures_total{reason="wrong_token"}`); got != 1 {
		t.Errorf("auth failures = %v, want 1", got)
	}
	if !strings.Contains(s.Stdout.String(), "the write token is short") {
		t.Errorf("no warning for a 10-byte token:\n%s", s.Stdout.String())
	}
	long := testenv.Start(t, "-data", filepath.Join(t.TempDir(), "d"), "-token", strings.Repeat("k", 16))
	if strings.Contains(long.Stdout.String(), "the write token is short") {
		t.Errorf("a warning for a 16-byte token:\n%s", long.Stdout.String())
	}
}
