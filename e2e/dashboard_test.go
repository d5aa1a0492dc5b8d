package e2e

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"policygraph/internal/testenv"
	"policygraph/storage"
)

func getURL(t *testing.T, u string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func gqlGET(base, query string) string {
	return base + "/graphql?" + url.Values{"query": {query}}.Encode()
}

// metric reads one sample of /metrics: the line whose name and labels start with prefix.
func metric(t *testing.T, base, prefix string) float64 {
	t.Helper()
	_, body := getURL(t, base+"/metrics", nil)
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// TestETagAndInvalidation: a GET query carries an ETag and Cache-Control; asked
// again with If-None-Match it is a 304; after a write commits, the same request
// gets the new answer and a new ETag.
func TestETagAndInvalidation(t *testing.T) {
	srv := testenv.Server(t)
	u := gqlGET(srv.URL, `{ event(slug: "waic-2023") { sponsorships(sponsorCountry: "US") { subject { name } } } }`)
	resp, body := getURL(t, u, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		t.Fatalf("status %d, ETag %q", resp.StatusCode, etag)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "must-revalidate") {
		t.Errorf("Cache-Control = %q", cc)
	}
	resp, _ = getURL(t, u, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	// A write commits: the cached answer must not be served, and the ETag changes.
	r := srv.Post(t, testenv.Token, `mutation { addFact(input: { subject: "microsoft", predicate: SPONSORED, object: "waic-2023", tier: SPONSOR, evidence: [{ source: "waic-2023-article", quote: "Microsoft" }] }) { id } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	resp, body2 := getURL(t, u, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a write: status %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	if body2 == body || !strings.Contains(body2, "Microsoft") {
		t.Fatalf("after a write the answer is stale: %s", body2)
	}
	// POST responses are not cacheable by HTTP caches.
	req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Content-Type", "application/json")
	presp, _ := http.DefaultClient.Do(req)
	presp.Body.Close()
	if presp.Header.Get("ETag") != "" || presp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("POST: ETag %q, Cache-Control %q", presp.Header.Get("ETag"), presp.Header.Get("Cache-Control"))
	}
}

// TestResponseCacheNeverStale interleaves reads and writes and checks every read
// against the store's current answer.
func TestResponseCacheNeverStale(t *testing.T) {
	srv := testenv.Server(t)
	g := srv.Graph
	q := `{ organization(slug: "transwarp") { aliases } }`
	for i := 0; i < 20; i++ {
		alias := "alias-" + strconv.Itoa(i)
		r := srv.Post(t, testenv.Token, `mutation($a: [String!]) { updateEntity(input: { entity: "transwarp", aliases: $a }) { id } }`, map[string]any{"a": []string{alias}})
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		for j := 0; j < 3; j++ {
			_, body := getURL(t, gqlGET(srv.URL, q), nil)
			if !strings.Contains(body, alias) {
				n, _ := g.NodeBySlug("transwarp")
				t.Fatalf("read %d after write %d: %s (store has %v)", j, i, body, n.Aliases)
			}
		}
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	srv := testenv.Server(t)
	q := `{ event(slug: "waic-2019") { year } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := func(h string) string {
		return `{"persistedQuery":{"version":1,"sha256Hash":"` + h + `"}}`
	}
	// Hash only, not yet known: the client is told to send the query.
	resp, body := getURL(t, srv.URL+"/graphql?"+url.Values{"extensions": {ext(hash)}}.Encode(), nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("unknown hash: %d %s", resp.StatusCode, body)
	}
	// Query and hash: registered and answered.
	_, body = getURL(t, srv.URL+"/graphql?"+url.Values{"query": {q}, "extensions": {ext(hash)}}.Encode(), nil)
	if !strings.Contains(body, "2019") {
		t.Fatalf("register: %s", body)
	}
	// Hash only: answered from the registered query, with an ETag.
	resp, body = getURL(t, srv.URL+"/graphql?"+url.Values{"extensions": {ext(hash)}}.Encode(), nil)
	if !strings.Contains(body, "2019") || resp.Header.Get("ETag") == "" {
		t.Fatalf("hash only: %s (ETag %q)", body, resp.Header.Get("ETag"))
	}
	// A wrong hash for the query is refused.
	_, body = getURL(t, srv.URL+"/graphql?"+url.Values{"query": {q}, "extensions": {ext(strings.Repeat("0", 64))}}.Encode(), nil)
	if !strings.Contains(body, "errors") {
		t.Fatalf("mismatched hash accepted: %s", body)
	}
}

func TestCORS(t *testing.T) {
	srv := testenv.Server(t, "-cors-origins", "https://dashboard.example")
	for _, tc := range []struct {
		origin, want string
	}{
		{"https://dashboard.example", "https://dashboard.example"},
		{"https://evil.example", ""},
	} {
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/graphql", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type") // as browsers send it: lower case, sorted
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("preflight from %s: Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
		resp2, _ := getURL(t, gqlGET(srv.URL, "{ __typename }"), map[string]string{"Origin": tc.origin})
		if got := resp2.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("GET from %s: Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
		if tc.want != "" && !strings.Contains(resp2.Header.Get("Access-Control-Expose-Headers"), "Etag") {
			t.Errorf("ETag not exposed: %q", resp2.Header.Get("Access-Control-Expose-Headers"))
		}
	}
	// Default: no origin is allowed.
	def := testenv.Server(t)
	resp, _ := getURL(t, gqlGET(def.URL, "{ __typename }"), map[string]string{"Origin": "https://dashboard.example"})
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("default config allows %q", got)
	}
}

// TestVaryKeepsOrigin: with CORS on, a GET answer that names one origin in
// Access-Control-Allow-Origin must vary by Origin as well as by Accept, or a
// shared cache serves one origin's answer to another (issue 9, item 7).
func TestVaryKeepsOrigin(t *testing.T) {
	srv := testenv.Server(t, "-cors-origins", "https://dashboard.example")
	r := srv.Post(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "vary", query: $q }) { url } }`, map[string]any{"q": headlineSaved})
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	for _, u := range []string{gqlGET(srv.URL, "{ __typename }"), srv.URL + "/q/vary", srv.URL + "/q/vary?format=csv"} {
		resp, body := getURL(t, u, map[string]string{"Origin": "https://dashboard.example"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, body)
		}
		vary := map[string]int{}
		for _, line := range resp.Header.Values("Vary") {
			for _, v := range strings.Split(line, ",") {
				vary[http.CanonicalHeaderKey(strings.TrimSpace(v))]++
			}
		}
		if vary["Origin"] != 1 || vary["Accept"] != 1 {
			t.Errorf("%s: Vary %q, want Origin and Accept once each", u, resp.Header.Values("Vary"))
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://dashboard.example" {
			t.Errorf("%s: Allow-Origin %q", u, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

const headlineSaved = `query Headline($country: String = "US", $series: String = "waic") {
  sponsorshipsByYear(series: $series, sponsorCountry: $country) {
    year
    sponsorships { tier subject { name } evidence { quote } }
  }
}`

// TestSavedQueries: on each engine, a saved query is served as JSON and
// CSV under /q/, with its parameters as variables; what does not validate
// is refused.
func TestSavedQueries(t *testing.T) {
	for _, e := range testenv.Engines {
		t.Run(e.Name, func(t *testing.T) { testSavedQueries(t, e.Serve(t)) })
	}
}

func testSavedQueries(t *testing.T, srv *testenv.Service) {
	r := srv.Post(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "us-sponsors", query: $q, description: "US sponsors of WAIC by year" }) { url valid variables { name type defaultValue } } }`, map[string]any{"q": headlineSaved})
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	eq(t, testenv.Value(r.Data, "saveQuery.url"), "/q/us-sponsors")
	eq(t, testenv.Value(r.Data, "saveQuery.variables.0.type"), "String")
	eq(t, testenv.Value(r.Data, "saveQuery.variables.0.defaultValue"), `"US"`)

	// JSON, with the same caching as /graphql.
	resp, body := getURL(t, srv.URL+"/q/us-sponsors", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Qualcomm") || resp.Header.Get("ETag") == "" {
		t.Fatalf("JSON: %d %s", resp.StatusCode, body)
	}
	// Parameters become variables.
	_, body = getURL(t, srv.URL+"/q/us-sponsors?country=CN", nil)
	if strings.Contains(body, "Qualcomm") || !strings.Contains(body, "China Mobile") {
		t.Fatalf("country=CN: %s", body)
	}
	// CSV: by Accept or ?format=csv; one row per sponsorship.
	for _, u := range []string{srv.URL + "/q/us-sponsors?format=csv", srv.URL + "/q/us-sponsors"} {
		resp, body = getURL(t, u, map[string]string{"Accept": "text/csv"})
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s: Content-Type %q", u, resp.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// Columns in the query's selection order.
		eq(t, rows[0], []string{"sponsorshipsByYear.year", "sponsorshipsByYear.sponsorships.tier", "sponsorshipsByYear.sponsorships.subject.name", "sponsorshipsByYear.sponsorships.evidence.quote"})
		if len(rows) != 5 || rows[4][2] != "Qualcomm" || rows[4][0] != "2023" {
			t.Fatalf("CSV rows: %q", rows)
		}
	}
	// Bad parameters are refused with a clear error.
	for _, u := range []string{"/q/us-sponsors?colour=red", "/q/nope"} {
		resp, body = getURL(t, srv.URL+u, nil)
		if resp.StatusCode < 400 || !strings.Contains(body, "errors") {
			t.Errorf("%s: %d %s", u, resp.StatusCode, body)
		}
	}
	// Saving something that does not validate, or a mutation, is refused.
	for _, q := range []string{`{ nope }`, `mutation { deleteSavedQuery(name: "x") }`} {
		r := srv.Post(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "bad", query: $q }) { url } }`, map[string]any{"q": q})
		eq(t, r.Code(), "INVALID_ARGUMENT")
	}
	if srv.Graph == nil {
		// The engine's store is behind the server: nothing writes a query
		// the API refuses.
		d := srv.Query(t, `{ savedQueries { name valid } }`, nil)
		eq(t, testenv.Strings(d, "savedQueries", "name"), []string{"us-sponsors"})
		eq(t, testenv.Value(d, "savedQueries.0.valid"), true)
		return
	}
	// A saved query that stopped validating (the schema changed under it) is
	// reported, not served broken.
	if _, err := srv.Graph.PutSavedQuery(storage.SavedQuery{Name: "stale", Query: `{ sponsorsOfOldSchema { name } }`}); err != nil {
		t.Fatal(err)
	}
	resp, body = getURL(t, srv.URL+"/q/stale", nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "SAVED_QUERY_INVALID") {
		t.Fatalf("stale: %d %s", resp.StatusCode, body)
	}
	d := srv.Query(t, `{ savedQueries { name valid problems } }`, nil)
	eq(t, testenv.Strings(d, "savedQueries", "name"), []string{"stale", "us-sponsors"})
	eq(t, testenv.Value(d, "savedQueries.0.valid"), false)
}

// TestPollingCostsA304 is the dashboard's case: polling a saved query that has
// not changed costs a 304 and no store read.
func TestPollingCostsA304(t *testing.T) {
	srv := testenv.Server(t)
	g := srv.Graph
	store := g.KV().(*storage.CountingKV)
	r := srv.Post(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "headline", query: $q }) { url } }`, map[string]any{"q": headlineSaved})
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	resp, _ := getURL(t, srv.URL+"/q/headline", nil)
	etag := resp.Header.Get("ETag")
	hitsBefore := metric(t, srv.URL, `policygraph_response_cache_total{result="not_modified"}`)
	readsBefore := store.Views() // after the scrape, which reads the graph's size
	for i := 0; i < 5; i++ {
		resp, body := getURL(t, srv.URL+"/q/headline", map[string]string{"If-None-Match": etag})
		if resp.StatusCode != http.StatusNotModified || body != "" {
			t.Fatalf("poll %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if got := store.Views() - readsBefore; got != 0 {
		t.Errorf("5 polls cost %d store reads, want 0", got)
	}
	if got := metric(t, srv.URL, `policygraph_response_cache_total{result="not_modified"}`) - hitsBefore; got != 5 {
		t.Errorf("not_modified grew by %v, want 5", got)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	srv := testenv.Server(t)
	body := `{"query":"query Headline { stats { entities } }","operationName":"Headline"}`
	req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, resp.Header.Get("X-Request-Id"), "abc-123")
	srv.Post(t, "", `{ nope }`, nil)
	_, m := getURL(t, srv.URL+"/metrics", nil)
	for _, re := range []string{
		`policygraph_graphql_requests_total\{operation="Headline",status="200"\} 1`,
		`policygraph_graphql_request_duration_seconds_bucket\{operation="Headline",le="`,
		`policygraph_graphql_errors_total\{code="GRAPHQL_VALIDATION_FAILED"\} 1`,
		`policygraph_graph_entities 79`,
		`policygraph_graph_facts 159`,
		`policygraph_graph_version \d+`,
		`policygraph_store_reads_total \d+`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, body := getURL(t, srv.URL+path, nil)
		var v map[string]any
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s has no request ID", path)
		}
	}
}

// TestRepeatedRefusalIsRemembered: a request refused for what it is (here too
// deep) is refused the same way when repeated, and each refusal is counted,
// though after the first it is answered from memory without parsing.
func TestRepeatedRefusalIsRemembered(t *testing.T) {
	srv := testenv.Server(t)
	deep := "id"
	for range 8 {
		deep = "facts { subject { " + deep + " } }"
	}
	q := `{ entity(slug: "waic-2023") { ` + deep + ` } }`
	before := metric(t, srv.URL, `policygraph_graphql_errors_total{code="DEPTH_LIMIT_EXCEEDED"}`)
	var bodies []string
	for range 3 {
		resp, body := (specRequest{method: "POST", accept: gqlResp, contentType: appJSON, body: jsonBody(map[string]any{"query": q})}).do(t, srv.URL)
		if resp.StatusCode != 400 {
			t.Fatalf("status %d: %v", resp.StatusCode, body)
		}
		b, _ := json.Marshal(body)
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] || !strings.Contains(bodies[0], "DEPTH_LIMIT_EXCEEDED") {
		t.Fatalf("refusals differ: %q", bodies)
	}
	if got := metric(t, srv.URL, `policygraph_graphql_errors_total{code="DEPTH_LIMIT_EXCEEDED"}`) - before; got != 3 {
		t.Errorf("DEPTH_LIMIT_EXCEEDED counted %v times, want 3", got)
	}
}
