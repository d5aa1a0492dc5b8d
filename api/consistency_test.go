package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"policygraph/api"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

const createOrg = `mutation($in: CreateEntityInput!) { createEntity(input: $in) { id } }`

// seededWith is the seed in an in-memory store, with or without the read model.
func seededWith(t *testing.T, model bool) *storage.Graph {
	t.Helper()
	if model {
		return testenv.SeededModel(t)
	}
	return testenv.Seeded(t)
}

func versionOf(t *testing.T, g *storage.Graph, r *testenv.Response) uint64 {
	t.Helper()
	h := r.Header.Get(api.HeaderVersion)
	store, num, ok := strings.Cut(h, ":")
	if !ok || store != g.StoreID().String() {
		t.Fatalf("%s = %q, want %s:<version>", api.HeaderVersion, h, g.StoreID())
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", api.HeaderVersion, h, err)
	}
	return v
}

func query(c *testenv.Client, minVersion string) (*testenv.Response, error) {
	req, _ := http.NewRequest(http.MethodGet, c.URL+"/graphql?query="+strings.ReplaceAll("{ entity(slug: \"qualcomm\") { name } }", " ", "+"), nil)
	if c.Handler != nil {
		req = httptest.NewRequest(http.MethodGet, "/graphql?query="+strings.ReplaceAll("{ entity(slug: \"qualcomm\") { name } }", " ", "+"), nil)
	}
	if minVersion != "" {
		req.Header.Set(api.HeaderMinVersion, minVersion)
	}
	return c.Send(req)
}

// TestConsistencyHeaders: every response says the version it answers at; a
// mutation's, the version its write made; a request for at least a version
// waits for it (bounded), is refused 503 VERSION_NOT_REACHED with
// Retry-After past the bound, and 410 VERSION_GONE for another store's.
// With and without the read model.
func TestConsistencyHeaders(t *testing.T) {
	for _, model := range []bool{true, false} {
		t.Run(fmt.Sprintf("model=%v", model), func(t *testing.T) {
			g := seededWith(t, model)
			h := testenv.Handler(t, g, "-min-version-wait", "1h", "-cors-origins", "*")
			c := &testenv.Client{Handler: h, Accept: "application/graphql-response+json"}
			r, err := query(c, "")
			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("query: %v %+v", err, r)
			}
			if v := versionOf(t, g, r); v != g.Version() {
				t.Errorf("a query answered at %d, the graph is at %d", v, g.Version())
			}

			before := g.Version()
			w := c.Must(t, testenv.Token, createOrg, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": "Consistency Co"}})
			if v := versionOf(t, g, w); v != before+1 || v != g.Version() {
				t.Errorf("a write's response says version %d; it made %d (the graph is at %d)", v, before+1, g.Version())
			}

			// At least the version the write made: answered at once, at it.
			mine := w.Header.Get(api.HeaderVersion)
			if r, err := query(c, mine); err != nil || r.Status != http.StatusOK || versionOf(t, g, r) < before+1 {
				t.Errorf("Min-Version %s: %v %+v", mine, err, r)
			}
			// A bare version does too.
			if r, err := query(c, strconv.FormatUint(before+1, 10)); err != nil || r.Status != http.StatusOK {
				t.Errorf("Min-Version %d: %v %+v", before+1, err, r)
			}

			// A version not reached yet: the request waits for the write that makes it.
			next := api.VersionHeader(g.StoreID().String(), g.Version()+1)
			done := make(chan *testenv.Response, 1)
			go func() {
				r, err := query(c, next)
				if err != nil {
					t.Error(err)
				}
				done <- r
			}()
			c.Must(t, testenv.Token, createOrg, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": "Consistency Two"}})
			if r := <-done; r == nil || r.Status != http.StatusOK || versionOf(t, g, r) < g.Version() {
				t.Errorf("a request waiting for %s: %+v", next, r)
			}

			// One never reached within the wait: 503, Retry-After.
			short := &testenv.Client{Handler: testenv.Handler(t, g, "-min-version-wait", "1ms"), Accept: c.Accept}
			r, err = query(short, api.VersionHeader(g.StoreID().String(), g.Version()+100))
			if err != nil {
				t.Fatal(err)
			}
			r.WantError(t, http.StatusServiceUnavailable, "VERSION_NOT_REACHED")
			if r.Header.Get("Retry-After") == "" {
				t.Error("VERSION_NOT_REACHED without Retry-After")
			}
			// Another store's version: 410 VERSION_GONE; nonsense: 400.
			r, _ = query(c, "0b7e6f5a-0000-4000-8000-000000000000:1")
			r.WantError(t, http.StatusGone, "VERSION_GONE")
			r, _ = query(c, "soon")
			r.WantError(t, http.StatusBadRequest, "INVALID_ARGUMENT")

			// A saved query's answer says its version, JSON and CSV.
			if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "orgs", Query: "{ stats { facts } }"}); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/q/orgs", "/q/orgs?format=csv"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if want := api.VersionHeader(g.StoreID().String(), g.Version()); rec.Code != http.StatusOK || rec.Header().Get(api.HeaderVersion) != want {
					t.Errorf("%s: %d, %s %q, want %q", path, rec.Code, api.HeaderVersion, rec.Header().Get(api.HeaderVersion), want)
				}
			}

			// /changes says the head its header line gives.
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/changes?since=0", nil))
			if want := api.VersionHeader(g.StoreID().String(), g.Version()); rec.Header().Get(api.HeaderVersion) != want {
				t.Errorf("/changes: %s %q, want %q", api.HeaderVersion, rec.Header().Get(api.HeaderVersion), want)
			}

			// Browsers on other origins may send the one and read the other.
			pre := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
			pre.Header.Set("Origin", "https://dashboards.example")
			pre.Header.Set("Access-Control-Request-Method", "GET")
			pre.Header.Set("Access-Control-Request-Headers", strings.ToLower(api.HeaderMinVersion))
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, pre)
			if got := rec.Header().Get("Access-Control-Allow-Headers"); !strings.EqualFold(got, api.HeaderMinVersion) {
				t.Errorf("preflight for %s: Access-Control-Allow-Headers %q", api.HeaderMinVersion, got)
			}
			get := httptest.NewRequest(http.MethodGet, "/graphql?query=%7B__typename%7D", nil)
			get.Header.Set("Origin", "https://dashboards.example")
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, get)
			if got := rec.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(got, api.HeaderVersion) {
				t.Errorf("Access-Control-Expose-Headers %q lacks %s", got, api.HeaderVersion)
			}
		})
	}
}
