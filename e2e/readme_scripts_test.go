package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"policygraph/internal/browsertest"
	"policygraph/internal/testenv"
)

// readmeBase is the address README's examples call; tests swap in their server's.
const readmeBase = "http://localhost:8080"

// scriptRE finds a runnable example (```sh run or ```python run) and the ```text
// block after it that shows its output.
var scriptRE = regexp.MustCompile("(?s)```(sh|python) run\n(.*?)```\n\n```text\n(.*?)```")

// TestReadmeScripts runs the shell and Python examples of README.md and
// docs/*.md, page by page and in order, against a live server (one a page),
// and checks each printed what its page shows (-update rewrites it).
func TestReadmeScripts(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "python3"} {
		testenv.RequireTool(t, tool, "README's examples that use "+tool)
	}
	found := map[string]int{}
	for _, page := range docPages(t) {
		if !scriptRE.Match(readPage(t, page)) {
			continue
		}
		srv := testenv.Server(t)
		found[page] = checkOutputs(t, page, scriptRE, 3, func(i int, sub [][]byte) ([]byte, bool) {
			lang, code := string(sub[1]), string(sub[2])
			code = strings.ReplaceAll(code, readmeBase, srv.URL)
			var cmd *exec.Cmd
			if lang == "sh" {
				cmd = exec.Command("bash", "-euo", "pipefail", "-c", code)
			} else {
				cmd = exec.Command("python3", "-c", code)
			}
			cmd.Env = append(os.Environ(), "TOKEN="+testenv.Token)
			got, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s, example %d (%s) failed: %v\n%s\n%s", page, i+1, lang, err, code, got)
			}
			return bytes.ReplaceAll(got, []byte(srv.URL), []byte(readmeBase)), true
		}, bytes.Equal)
	}
	// curl and jq, Python; saving a query and its CSV, polling it.
	atLeast(t, "runnable examples", map[string]int{"docs/scripting.md": 2, "docs/dashboards.md": 2, "docs/changes.md": 1}, found)
}

var dashboardRE = regexp.MustCompile("(?s)```html run\n(.*?)```")

// TestReadmeDashboard serves the dashboard page of docs/dashboards.md from
// another origin, allowed by CORS, opens it in Chromium and checks it charts
// the saved query.
func TestReadmeDashboard(t *testing.T) {
	const doc = "docs/dashboards.md"
	m := dashboardRE.FindSubmatch(readPage(t, doc))
	if m == nil {
		t.Fatal(doc + " has no ```html run dashboard")
	}
	var page []byte
	dash := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(dash.Close)
	srv := testenv.Server(t, "-cors-origins", dash.URL)
	page = bytes.ReplaceAll(m[1], []byte(readmeBase), []byte(srv.URL))
	r := srv.Post(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "sponsors-per-year", query: $q }) { url } }`,
		map[string]any{"q": `query SponsorsPerYear($country: String) { timeSeries(filter: {predicates: [SPONSORED], series: "waic", subjectCountry: $country}) { points { year subjects } } }`})
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}

	ctx := browsertest.New(t)
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(dash.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(step, chromedp.Poll[bool](`document.querySelectorAll("#chart rect").length === 5`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the chart has no bars: %v\nconsole errors: %q", err, browsertest.ConsoleErrors(ctx))
	}
	labels, err := chromedp.Run(step, chromedp.Evaluate[string](`[...document.querySelectorAll("#chart text")].map(t => t.textContent).join(" ")`))
	if err != nil {
		t.Fatal(err)
	}
	// A bar a year from 2019 to 2023: 3 sponsors in 2019 (IBM, Microsoft, AWS), 19 in 2023.
	for _, want := range []string{"2019", "2020", "2023", "3", "19"} {
		if !strings.Contains(" "+labels+" ", " "+want+" ") {
			t.Errorf("chart labels %q lack %q", labels, want)
		}
	}
	// A sponsor added through the API redraws the chart, without a reload.
	org := testenv.Value(srv.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": "Live Sponsor"}}).Data, "createEntity.id")
	srv.Must(t, testenv.Token, addFactMutation, map[string]any{"in": map[string]any{"subject": org, "predicate": "SPONSORED", "object": "waic-2023", "tier": "STRATEGIC_PARTNER",
		"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": "Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này"}}}})
	if _, err := chromedp.Run(step, chromedp.Poll[bool](`[...document.querySelectorAll("#chart text")].some(t => t.textContent === "20")`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the chart did not redraw 2023's 20 sponsors: %v\nconsole errors: %q", err, browsertest.ConsoleErrors(ctx))
	}
	browsertest.Screenshot(t, ctx, "readme-dashboard")
	if errs := browsertest.ConsoleErrors(ctx); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
