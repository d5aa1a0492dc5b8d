package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"policygraph/seed"
	"policygraph/storage"
)

const testToken = "test-token"

// newTestServer serves the real handler over a seeded in-memory store.
func newTestServer(t testing.TB) (*httptest.Server, *storage.Graph) {
	t.Helper()
	return newTestServerWith(t, testConfig())
}

// testConfig is the configuration tests serve with: the defaults, a write token.
func testConfig() Config {
	c, err := ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		panic(err)
	}
	c.token = testToken
	return c
}

// newTestServerWith is newTestServer with the given configuration.
func newTestServerWith(t testing.TB, cfg Config) (*httptest.Server, *storage.Graph) {
	t.Helper()
	bkv, err := storage.OpenBadger(storage.BadgerOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.Open(&storage.CountingKV{KV: bkv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Load(g); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(g, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(func() { srv.Close(); g.Close() })
	return srv, g
}

// gqlResponse is a decoded GraphQL response.
type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	status int
}

// code returns the extensions.code of the first error, or "".
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a GraphQL request; token "" sends no Authorization header.
func post(t testing.TB, srv *httptest.Server, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	out.status = resp.StatusCode
	return out
}

// query posts a read and fails the test on any GraphQL error.
func query(t testing.TB, srv *httptest.Server, q string, vars map[string]any) map[string]any {
	t.Helper()
	r := post(t, srv, "", q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("query errors: %+v", r.Errors)
	}
	return r.Data
}

// at walks a decoded JSON value by a dotted path of keys and indexes ("a.0.b").
func at(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// strs collects field f of every element of the list at path.
func strs(v any, path, f string) []string {
	var out []string
	list, _ := at(v, path).([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(at(x, f)))
	}
	return out
}
