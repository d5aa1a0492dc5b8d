package ide_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"policygraph/graph/ide"
	"policygraph/internal/browsertest"
)

// cannedSponsor is what the fake endpoint answers the default query with.
const cannedSponsor = "Canned Test Sponsor Inc."

// fakeGraphQL stands in for policygraph's /graphql: it answers GraphiQL's
// introspection query with testdata/introspection.json (generated from
// testdata/schema.graphql) and any query for sponsorshipsByYear with canned
// data. It records the queries it was sent.
type fakeGraphQL struct {
	introspection []byte

	mu      sync.Mutex
	queries []string
}

func (f *fakeGraphQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Query         string          `json:"query"`
		OperationName string          `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, req.Query)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/graphql-response+json")
	switch {
	case strings.Contains(req.Query, "__schema"):
		w.Write(f.introspection)
	case strings.Contains(req.Query, "sponsorshipsByYear"):
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"sponsorshipsByYear": []any{map[string]any{
				"year": 2024,
				"sponsorships": []any{map[string]any{
					"tier":     "strategic partner",
					"sponsor":  map[string]any{"name": cannedSponsor},
					"evidence": []any{map[string]any{"quote": "a canned quote", "gloss": "a canned gloss"}},
				}},
			}},
		}})
	default:
		w.Write([]byte(`{"errors":[{"message":"the fake endpoint only knows sponsorshipsByYear"}]}`))
	}
}

func (f *fakeGraphQL) sawQuery(substr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.queries {
		if strings.Contains(q, substr) {
			return true
		}
	}
	return false
}

// TestIDEInBrowser loads the IDE in headless Chromium with no network, runs
// the pre-filled query and checks the response shows, with no console error
// and no request leaving the machine. It saves the screenshot ide.png (see
// internal/browsertest for where).
func TestIDEInBrowser(t *testing.T) {
	introspection, err := os.ReadFile("testdata/introspection.json")
	if err != nil {
		t.Fatal(err)
	}
	gql := &fakeGraphQL{introspection: introspection}
	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	mux.Handle("/", ide.Handler("/graphql"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx := browsertest.New(t)
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(step,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-container")),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
	); err != nil {
		t.Fatalf("GraphiQL did not render: %v\nconsole errors: %q", err, browsertest.ConsoleErrors(ctx))
	}
	title, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(".pg-header")))
	if err != nil || !strings.Contains(title, "policygraph") || !strings.Contains(title, "Explorer") {
		t.Errorf("header = %q (err %v), want policygraph and Explorer", title, err)
	}
	if _, err := chromedp.Run(step, chromedp.Poll[bool](
		`(document.querySelector(".graphiql-query-editor")?.innerText ?? "").includes("sponsorshipsByYear")`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the default query is not in the editor: %v", err)
	}
	// GraphiQL introspects the endpoint as it boots; wait for the schema so
	// the run below is validated against it.
	for deadline := time.Now().Add(20 * time.Second); !gql.sawQuery("__schema"); {
		if time.Now().After(deadline) {
			t.Fatal("GraphiQL sent no introspection query")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(".graphiql-execute-button"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(step, chromedp.Poll[bool](
		`(document.querySelector(".graphiql-response")?.innerText ?? "").includes(`+jsString(cannedSponsor)+`)`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		resp, _ := chromedp.Run(step, chromedp.Text(chromedp.CSS(".graphiql-response")))
		t.Fatalf("the response pane does not show the result: %v\nresponse pane: %q\nconsole errors: %q",
			err, resp, browsertest.ConsoleErrors(ctx))
	}
	if !gql.sawQuery(`sponsorshipsByYear(series: "waic", sponsorCountry: "US")`) {
		t.Error("the endpoint never received the default query")
	}

	browsertest.Screenshot(t, ctx, "ide")
	if errs := browsertest.ConsoleErrors(ctx); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	if reqs := browsertest.ExternalRequests(ctx); len(reqs) > 0 {
		t.Errorf("the page tried to reach the network:\n%s", strings.Join(reqs, "\n"))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
