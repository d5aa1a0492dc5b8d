package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"policygraph/internal/browsertest"
)

// TestIDERunsTheHeadlineQuery opens the GraphQL IDE of the real server in
// headless Chromium with every non-loopback request blocked, runs the query it
// opens with, and finds the answer and its quote in the result pane.
func TestIDERunsTheHeadlineQuery(t *testing.T) {
	srv, _ := newTestServer(t)
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
