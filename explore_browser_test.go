package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"policygraph/internal/browsertest"
)

// envUpdateScreenshots set to 1 makes TestExplorerInBrowser copy its
// screenshots into docs/screenshots/, for the README.
const envUpdateScreenshots = "POLICYGRAPH_UPDATE_SCREENSHOTS"

// waicUSQuery is the headline question, as the explorer's preset asks it.
const waicUSQuery = `{ sponsorshipsByYear(series: "waic", sponsorCountry: "US") {
  year events { id name } sponsorships { id tier tierSize { amount } subject { id name } } } }`

// decodeQuery asks the API a question, as any client would, and decodes the
// data into out.
func decodeQuery(t *testing.T, srv *httptest.Server, q string, out any) {
	t.Helper()
	raw, err := json.Marshal(query(t, srv, q, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
}

// TestExplorerInBrowser drives /explore in headless Chromium against the real
// server: the headline preset draws exactly what the API answers, a click on
// Qualcomm shows its Vietnamese quote, the timeline holds the month-precise
// export controls, a diacritic-free search centres Shanghai, and the page
// works at phone width, all with no console error and no request leaving the
// machine. Screenshots: explore-*.png (see internal/browsertest for where);
// with POLICYGRAPH_UPDATE_SCREENSHOTS=1 also docs/screenshots/.
func TestExplorerInBrowser(t *testing.T) {
	srv, _ := newTestServer(t)
	ctx := browsertest.New(t)
	step, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()

	var shots []string
	shot := func(name string) { shots = append(shots, browsertest.Screenshot(t, ctx, name)) }
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(step, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("%s: %v\nconsole errors: %q", what, err, browsertest.ConsoleErrors(ctx))
		}
	}
	eval := func(expr string, out any) {
		t.Helper()
		raw, err := chromedp.Run(step, chromedp.Evaluate[[]byte](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
	}

	if err := chromedp.Do(step, chromedp.Navigate(srv.URL+"/explore")); err != nil {
		t.Fatal(err)
	}
	poll("the explorer did not load", `window.__explorer?.ready === true`)
	var overview int
	eval(`window.__explorer.cy.nodes().length`, &overview)
	if overview < 10 {
		t.Errorf("the overview draws %d nodes", overview)
	}
	var ideLink string
	eval(`document.querySelector(".pg-nav a").getAttribute("href")`, &ideLink)
	if ideLink != "/" {
		t.Errorf("link back to the IDE = %q, want /", ideLink)
	}
	shot("explore-graph")

	// The headline preset draws the API's answer: the editions and the US sponsors.
	var answer struct {
		SponsorshipsByYear []struct {
			Year         int
			Events       []struct{ ID, Name string }
			Sponsorships []struct {
				ID      string
				Tier    string
				Subject struct{ ID, Name string }
			}
		}
	}
	decodeQuery(t, srv, waicUSQuery, &answer)
	var want []string
	var sponsorships int
	for _, y := range answer.SponsorshipsByYear {
		for _, e := range y.Events {
			want = append(want, e.Name)
		}
		for _, s := range y.Sponsorships {
			want = append(want, s.Subject.Name)
			sponsorships++
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Contains(want, "Qualcomm") || !slices.Contains(want, "WAIC 2023") {
		t.Fatalf("the API's answer lacks Qualcomm or WAIC 2023: %v", want)
	}
	if err := chromedp.Do(step, chromedp.Click(chromedp.ID("preset-waic-us"))); err != nil {
		t.Fatal(err)
	}
	poll("the preset did not draw", `!!window.__explorer.preset && window.__explorer.cy.getElementById("`+answer.SponsorshipsByYear[0].Events[0].ID+`").nonempty()`)
	var labels []string
	eval(`window.__explorer.cy.nodes().map(n => n.data("label")).sort()`, &labels)
	if !slices.Equal(labels, want) {
		t.Errorf("preset nodes = %q, want the API's answer %q", labels, want)
	}
	var edgeLabels []string
	eval(`window.__explorer.cy.edges().map(e => e.data("label"))`, &edgeLabels)
	if len(edgeLabels) != sponsorships {
		t.Errorf("preset edges = %q, want %d sponsorships", edgeLabels, sponsorships)
	}
	joined := strings.Join(edgeLabels, "|")
	for _, tier := range []string{"elite partner (1 of 22)", "strategic partner"} {
		if !strings.Contains(joined, tier) {
			t.Errorf("no preset edge says %q: %q", tier, edgeLabels)
		}
	}
	shot("explore-preset")

	// A click on Qualcomm shows its facts and the article's quote.
	// Scroll the graph into view and let Cytoscape.js see the scroll (it
	// caches the container's position) before clicking.
	if _, err := chromedp.Run(step, chromedp.Evaluate[bool](`new Promise(done => {
		window.__explorer.cy.container().scrollIntoView({block: "center"});
		requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
	})`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	var at struct{ X, Y float64 }
	eval(`(() => {
		const cy = window.__explorer.cy;
		const n = cy.nodes().filter(n => n.data("label") === "Qualcomm")[0];
		const p = n.renderedPosition(), r = cy.container().getBoundingClientRect();
		return {x: r.left + p.x, y: r.top + p.y};
	})()`, &at)
	if err := chromedp.Do(step, chromedp.MouseClickXY(at.X, at.Y)); err != nil {
		t.Fatal(err)
	}
	poll("the evidence panel does not show Qualcomm's quote",
		`document.getElementById("evidence").innerText.includes("1 trong 22 “đối tác ưu tú”")`)
	var evidence string
	eval(`document.getElementById("evidence").innerText`, &evidence)
	for _, want := range []string{"Qualcomm", "elite partner", "Sơn Vân", "3 Jul 2023", "Hội nghị AI lớn nhất Trung Quốc"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence panel lacks %q:\n%s", want, evidence)
		}
	}
	shot("explore-evidence")

	// The timeline holds the export controls at month precision, and an item
	// selects its node in the graph.
	var timeline string
	eval(`document.getElementById("timeline").innerText`, &timeline)
	for _, want := range []string{"Sep 2022", "Oct 2022", "US AI chip export controls (October 2022)", "6 Jul 2023 – 8 Jul 2023", "undated"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	var octItem struct {
		Text string
		Node string
	}
	eval(`(() => {
		const b = [...document.querySelectorAll("#timeline .tl-button")].find(b => b.innerText.includes("US AI chip export controls (October 2022)"));
		b.scrollIntoView({block: "center"});
		b.focus();
		return {text: b.innerText, node: b.dataset.node};
	})()`, &octItem)
	if !strings.Contains(octItem.Text, "Oct 2022") {
		t.Errorf("the October 2022 export control is dated %q", octItem.Text)
	}
	if err := chromedp.Do(step, chromedp.KeyEvent("\r")); err != nil { // keyboard: Enter on the focused item
		t.Fatal(err)
	}
	poll("the timeline item did not select its node",
		`window.__explorer.cy.$(":selected").map(n => n.id()).includes("`+octItem.Node+`")`)
	shot("explore-timeline")

	// A search without diacritics finds and centres Shanghai (Thượng Hải).
	if err := chromedp.Do(step,
		chromedp.Click(chromedp.ID("search-input")),
		chromedp.SendKeys(chromedp.ID("search-input"), "thuong hai\r"),
	); err != nil {
		t.Fatal(err)
	}
	poll("search did not select Shanghai",
		`window.__explorer.cy.$("node:selected").map(n => n.data("label")).join() === "Shanghai"`)
	var off struct{ DX, DY float64 }
	eval(`(() => {
		const cy = window.__explorer.cy, p = cy.$("node:selected").renderedPosition();
		return {dx: Math.abs(p.x - cy.width() / 2), dy: Math.abs(p.y - cy.height() / 2)};
	})()`, &off)
	if off.DX > 2 || off.DY > 2 {
		t.Errorf("Shanghai is %.1f,%.1f px off the centre of the graph", off.DX, off.DY)
	}

	// The relation filter leaves only facts of that relation in view.
	if err := chromedp.Do(step, chromedp.Click(chromedp.ID("view-all"))); err != nil {
		t.Fatal(err)
	}
	var filtered struct {
		Visible    int
		Predicates []string
	}
	eval(`(() => {
		const s = document.getElementById("filter-relation");
		s.value = "SPONSORED";
		s.dispatchEvent(new Event("change"));
		const edges = window.__explorer.cy.edges().filter(e => e.style("display") !== "none");
		return {visible: edges.length, predicates: [...new Set(edges.map(e => e.data("predicate")))]};
	})()`, &filtered)
	if filtered.Visible == 0 || !slices.Equal(filtered.Predicates, []string{"SPONSORED"}) {
		t.Errorf("with the relation filter SPONSORED the graph shows %d edges of %q", filtered.Visible, filtered.Predicates)
	}
	eval(`(() => { const s = document.getElementById("filter-relation"); s.value = ""; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))

	// Dates show at the precision the API gives.
	dates, err := chromedp.Run(step, chromedp.Evaluate[[]string](`import("/explore/assets/format.js").then(f => [
		f.formatPartialDate({value: "2022-10", precision: "MONTH"}),
		f.formatPartialDate({value: "2022", precision: "YEAR"}),
		f.formatPartialDate({value: "2023-07-06", precision: "DAY"}),
		f.formatTimestamp("2023-07-03T22:51:00+07:00"),
	])`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Oct 2022", "2022", "6 Jul 2023", "3 Jul 2023"}; !slices.Equal(dates, want) {
		t.Errorf("formatted dates = %q, want %q", dates, want)
	}

	// Phone width: the panels stack.
	if err := chromedp.Do(step, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	poll("the panels do not stack at phone width", `(() => {
		const g = document.querySelector(".graph-panel").getBoundingClientRect();
		const e = document.querySelector(".evidence-panel").getBoundingClientRect();
		const tl = document.querySelector(".timeline-panel").getBoundingClientRect();
		return e.top >= g.bottom && tl.top >= e.bottom && document.documentElement.scrollWidth <= 390;
	})()`)
	shot("explore-phone")

	if errs := browsertest.ConsoleErrors(ctx); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	if reqs := browsertest.ExternalRequests(ctx); len(reqs) > 0 {
		t.Errorf("the page tried to reach the network:\n%s", strings.Join(reqs, "\n"))
	}

	if os.Getenv(envUpdateScreenshots) == "1" {
		dir := filepath.Join("docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range shots {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("copied %d screenshots to %s", len(shots), dir)
	}
}

// TestExplorerRoutes checks the route table serves the explorer beside the
// API and the IDE, and that the two pages link to each other.
func TestExplorerRoutes(t *testing.T) {
	srv, _ := newTestServer(t)
	for path, want := range map[string]string{
		"/explore":                     `href="/"`,
		"/explore/assets/explorer.js":  "sponsorshipsByYear",
		"/explore/assets/api.js":       `sponsorshipsByYear(series: "waic", sponsorCountry: "US")`,
		"/":                            `href="/explore"`,
		"/explore/assets/explorer.css": "@media (max-width: 700px)",
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, body contains %q: %v", path, res.StatusCode, want, strings.Contains(string(body), want))
		}
	}
	res, err := http.Get(srv.URL + "/explore/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /explore/nope = %d, want 404 (not the IDE)", res.StatusCode)
	}
}
