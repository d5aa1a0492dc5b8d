package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"policygraph/internal/browsertest"
	"policygraph/internal/testenv"
	"policygraph/web"
)

// TestIDERunsTheHeadlineQuery opens the GraphQL IDE of the real server in
// headless Chromium with every non-loopback request blocked, runs the query it
// opens with, and finds the answer and its quote in the result pane.
func TestIDERunsTheHeadlineQuery(t *testing.T) {
	srv := testenv.Server(t)
	ctx := browsertest.New(t)
	step, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	if err := chromedp.Do(step,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-container")),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
	); err != nil {
		t.Fatalf("GraphiQL did not render: %v\nconsole errors: %q", err, browsertest.ConsoleErrors(ctx))
	}
	// GraphiQL validates against the schema it introspects; wait until the
	// editor holds the default query, then run it.
	if _, err := chromedp.Run(step, chromedp.Poll[bool](
		`(document.querySelector(".graphiql-query-editor")?.innerText ?? "").includes("sponsorshipsByYear")`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the headline query is not in the editor: %v", err)
	}
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(".graphiql-execute-button"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(step, chromedp.Poll[bool](
		`(document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? "").includes("ELITE_PARTNER")`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		pane, _ := chromedp.Run(step, chromedp.Text(chromedp.CSS(".graphiql-response")))
		t.Fatalf("no answer in the response pane: %v\npane: %q\nconsole errors: %q", err, pane, browsertest.ConsoleErrors(ctx))
	}
	// The result pane is an editor that renders only the lines in view; read its whole text.
	pane, err := chromedp.Run(step, chromedp.Evaluate[string](`document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue()`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Amazon Web Services", "IBM", "Microsoft", "Qualcomm", "ELITE_PARTNER", `"amount": 22`, "1 trong 22 “đối tác ưu tú”"} {
		if !strings.Contains(pane, want) {
			t.Errorf("response pane lacks %q", want)
		}
	}
	browsertest.Screenshot(t, ctx, "ide")
	if errs := browsertest.ConsoleErrors(ctx); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	if reqs := browsertest.ExternalRequests(ctx); len(reqs) > 0 {
		t.Errorf("the page tried to reach the network:\n%s", strings.Join(reqs, "\n"))
	}
}

// queryEditorText and responseText read the whole text of GraphiQL's query
// editor and result pane (CodeMirror renders only the lines in view).
const (
	queryEditorText = `(document.querySelector(".graphiql-query-editor .CodeMirror")?.CodeMirror?.getValue() ?? "")`
	responseText    = `(document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? "")`
)

// TestIDEExamplesAndQueryBuilder opens the IDE as an analyst who writes no
// GraphQL would: the Examples panel is open on a first visit and lists
// README's questions; one click opens an example in a new tab, named after
// it, and running it shows the answer; then the query builder (GraphiQL's
// explorer plugin) writes a query into the editor as its fields are ticked,
// and that query runs too. All with no console error, no CSP violation and
// no request leaving the machine.
func TestIDEExamplesAndQueryBuilder(t *testing.T) {
	srv := testenv.Server(t)
	ctx := browsertest.New(t)
	step, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	poll := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(step, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			editor, _ := chromedp.Run(step, chromedp.Evaluate[string](queryEditorText))
			browsertest.Screenshot(t, ctx, "ide-failure")
			t.Fatalf("%s: %v\neditor:\n%s\nconsole errors: %q", what, err, editor, browsertest.ConsoleErrors(ctx))
		}
	}

	if err := chromedp.Do(step,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
	); err != nil {
		t.Fatalf("GraphiQL did not render: %v\nconsole errors: %q", err, browsertest.ConsoleErrors(ctx))
	}

	// A first visit opens the Examples panel, listing README's questions in order.
	poll("the Examples panel is not open", `document.querySelectorAll(".pg-examples .pg-example").length > 0`)
	listed, err := chromedp.Run(step, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(".pg-examples .pg-example")).map(b => b.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range web.Examples {
		want = append(want, e.Question)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("the Examples panel lists\n%q\nwant\n%q", listed, want)
	}
	browsertest.Screenshot(t, ctx, "ide-examples")

	// One click opens an example in a new tab named after it; running it answers.
	ex := web.Examples[3] // the 2023 strategic partners, and which of them the US sanctions
	tabs := `document.querySelectorAll(".graphiql-tab").length`
	before, err := chromedp.Run(step, chromedp.Evaluate[int](tabs))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(`.pg-example[data-operation="`+ex.Operation+`"]`))); err != nil {
		t.Fatal(err)
	}
	poll("the example is not in the editor", queryEditorText+` === `+jsString(ex.Document()))
	poll("the example did not open in a new tab named after it",
		tabs+` === `+strconv.Itoa(max(before, 1)+1)+
			` && document.querySelector(".graphiql-tab-active")?.textContent.includes(`+jsString(ex.Operation)+`)`)
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(".graphiql-execute-button"))); err != nil {
		t.Fatal(err)
	}
	poll("no answer to the example", responseText+`.includes("US sanctions on SenseTime")`)
	answer, err := chromedp.Run(step, chromedp.Evaluate[string](responseText))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Huawei", "US sanctions on Huawei", "Alibaba"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the example's answer lacks %q", want)
		}
	}
	// A second click on the same example goes back to its tab rather than
	// opening another.
	n, err := chromedp.Run(step, chromedp.Evaluate[int](tabs))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(step,
		chromedp.Click(chromedp.CSS(`.pg-example[data-operation="`+web.Examples[0].Operation+`"]`)),
	); err != nil {
		t.Fatal(err)
	}
	poll("the headline example did not open", queryEditorText+` === `+jsString(web.Examples[0].Document()))
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(`.pg-example[data-operation="`+ex.Operation+`"]`))); err != nil {
		t.Fatal(err)
	}
	poll("the example's tab is not active again", queryEditorText+` === `+jsString(ex.Document()))
	if got, err := chromedp.Run(step, chromedp.Evaluate[int](tabs)); err != nil || got != n+1 {
		t.Errorf("after opening the headline and the example again there are %d tabs (err %v), want %d", got, err, n+1)
	}

	// The query builder: in a new, emptied tab, ticking sponsorshipsByYear
	// and then its field sponsorships writes the query into the editor.
	if err := chromedp.Do(step,
		chromedp.Click(chromedp.CSS(`button[aria-label="Show Query builder"]`)),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-explorer-root")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Add tab"]`)),
	); err != nil {
		t.Fatalf("opening the query builder: %v\nconsole errors: %q", err, browsertest.ConsoleErrors(ctx))
	}
	// Empty the new tab's editor as select-all and delete would.
	if _, err := chromedp.Run(step, chromedp.Evaluate[bool](
		`document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(""), true`)); err != nil {
		t.Fatal(err)
	}
	// The builder follows the editor: wait until it shows the empty
	// document (an operation it names MyQuery, nothing ticked).
	poll("the query builder does not follow the emptied editor",
		`document.querySelector(".graphiql-explorer-root .graphiql-operation-title-bar input")?.value === "MyQuery"`)
	// A field of the tree is a node (.graphiql-explorer-node) holding its
	// name (a click ticks it) and its arguments, in a box
	// (.graphiql-explorer-NAME) that also holds its own fields once ticked.
	node := func(path ...string) string {
		sel := []string{".graphiql-explorer-root"}
		for _, name := range path[:len(path)-1] {
			sel = append(sel, `.graphiql-explorer-`+name)
		}
		return strings.Join(append(sel, `.graphiql-explorer-node.graphiql-explorer-`+path[len(path)-1]), " ")
	}
	field := func(path ...string) string {
		return node(path...) + ` > [data-field-name="` + path[len(path)-1] + `"]`
	}
	click := func(sel string) {
		t.Helper()
		poll("the query builder does not show "+sel, `document.querySelector(`+jsString(sel)+`) !== null`)
		if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("clicking %s: %v", sel, err)
		}
	}
	click(field("sponsorshipsByYear"))
	poll("ticking sponsorshipsByYear did not write it into the editor", queryEditorText+`.includes("sponsorshipsByYear")`)
	// Its argument sponsorCountry: tick it, then type the country.
	country := node("sponsorshipsByYear") + ` > .graphiql-explorer-graphql-arguments > [data-arg-name="sponsorCountry"]`
	click(country + " > span")
	poll("sponsorCountry has no input", `document.querySelector(`+jsString(country+" input")+`) !== null`)
	if err := chromedp.Do(step, chromedp.SendKeys(chromedp.CSS(country+" input"), "US")); err != nil {
		t.Fatal(err)
	}
	click(field("sponsorshipsByYear", "year"))
	click(field("sponsorshipsByYear", "sponsorships"))
	click(field("sponsorshipsByYear", "sponsorships", "tier"))
	poll("the ticked fields are not in the editor",
		`/sponsorshipsByYear\(sponsorCountry:\s*"US"\)\s*\{\s*year\s+sponsorships\s*\{\s*tier\s*\}\s*\}/.test(`+queryEditorText+`)`)
	built, err := chromedp.Run(step, chromedp.Evaluate[string](queryEditorText))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the query builder wrote:\n%s", built)
	browsertest.Screenshot(t, ctx, "ide-query-builder")
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(".graphiql-execute-button"))); err != nil {
		t.Fatal(err)
	}
	poll("no answer to the built query", responseText+`.includes("\"ELITE_PARTNER\"")`)
	answer, err = chromedp.Run(step, chromedp.Evaluate[string](responseText))
	if err != nil {
		t.Fatal(err)
	}
	// US sponsors only: the strategic partners of 2019 and Qualcomm in 2023.
	for _, want := range []string{`"year": 2019`, `"year": 2023`, `"STRATEGIC_PARTNER"`} {
		if !strings.Contains(answer, want) {
			t.Errorf("the built query's answer lacks %s:\n%s", want, answer)
		}
	}
	for _, bad := range []string{`"errors"`, `"GOVERNMENT_CO_SPONSOR"`} {
		if strings.Contains(answer, bad) {
			t.Errorf("the built query's answer has %s:\n%s", bad, answer)
		}
	}

	if errs := browsertest.ConsoleErrors(ctx); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	if reqs := browsertest.ExternalRequests(ctx); len(reqs) > 0 {
		t.Errorf("the page tried to reach the network:\n%s", strings.Join(reqs, "\n"))
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
