package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"policygraph/web"
)

// TestPlaygroundRedirects: /playground, where many GraphQL servers served
// GraphQL Playground, sends browsers to the IDE and tells others where
// Playground went; it serves no Playground page.
func TestPlaygroundRedirects(t *testing.T) {
	h := web.IDE("/graphql")
	for _, p := range []string{web.PlaygroundPath, web.PlaygroundPath + "/"} {
		rr := get(h, p)
		if rr.Code != http.StatusFound || rr.Header().Get("Location") != "/" {
			t.Fatalf("GET %s = %d, Location %q; want 302 to /", p, rr.Code, rr.Header().Get("Location"))
		}
		if ct := rr.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if csp := rr.Header().Get("Content-Security-Policy"); csp != "default-src 'none'" {
			t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
		}
		if cc := rr.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
		body := rr.Body.String()
		for _, want := range []string{"GraphQL Playground is archived", "GraphiQL", `<a href="/">`, "<code>/graphql</code>", "docs/playground.md"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: the note lacks %q:\n%s", p, want, body)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "http") {
			t.Errorf("GET %s: the note loads or links something:\n%s", p, body)
		}
	}

	req := httptest.NewRequest(http.MethodHead, web.PlaygroundPath, nil)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != http.StatusFound || rr.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d body bytes; want 302 and none", rr.Code, rr.Body.Len())
	}
	// A Playground pointed at /playground as its endpoint posts queries there.
	req = httptest.NewRequest(http.MethodPost, web.PlaygroundPath, strings.NewReader(`{"query":"{ stats { facts } }"}`))
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" ||
		!strings.Contains(rr.Body.String(), "send GraphQL requests to /graphql") {
		t.Errorf("POST = %d, Allow %q: %q", rr.Code, rr.Header().Get("Allow"), rr.Body.String())
	}
	// The note names the endpoint the handler serves, escaped.
	if body := get(web.IDE(`/q"<b>`), web.PlaygroundPath).Body.String(); strings.Contains(body, "<b>") {
		t.Errorf("endpoint not escaped in the note:\n%s", body)
	}
	for _, p := range []string{"/playground/index.html", "/playground/static/js/middleware.js", "/playgroundx"} {
		if rr := get(h, p); rr.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rr.Code)
		}
	}
}
