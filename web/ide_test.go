package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"policygraph/web"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

// assetRefs returns the src and href values of index.html.
func assetRefs(html string) []string {
	var refs []string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		refs = append(refs, m[1])
	}
	return refs
}

func TestIndex(t *testing.T) {
	h := web.IDE("/graphql")
	rr := get(t, h, "/")
	if rr.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rr.Code)
	}
	if ct := rr.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if cc := rr.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", cc)
	}
	csp := rr.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	body := rr.Body.String()
	for _, bad := range []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, ref := range assetRefs(body) {
		if strings.Contains(ref, "//") {
			t.Errorf("index.html references %q, not a local path", ref)
		}
	}
	for _, want := range []string{
		"<title>policygraph", `>policygraph<`, `href="/explore"`, ">Explorer<",
		`"endpoint":"/graphql"`,
		`sponsorshipsByYear(series: \"waic\", sponsorCountry: \"US\")`,
		`# Which US firms sponsored WAIC, by year?`,
		`/ide/graphiql-plugin-explorer-` + web.ExplorerVersion + `.umd.js`,
		`"operation":"USSponsorsOfWAICByYear"`,
		`"question":"What the graph holds"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(body, "/healthz") {
		t.Error("index.html links /healthz")
	}
}

func TestIndexEscapesEndpoint(t *testing.T) {
	body := get(t, web.IDE(`/q"</script><b>`), "/").Body.String()
	if strings.Contains(body, `"</script><b>`) || strings.Contains(body, "<b>") {
		t.Errorf("endpoint not escaped:\n%s", body)
	}
}

func TestAbsoluteEndpointAllowedByCSP(t *testing.T) {
	csp := get(t, web.IDE("http://127.0.0.1:9999/graphql"), "/").Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' http://127.0.0.1:9999") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestAssetsReferencedByIndex(t *testing.T) {
	h := web.IDE("/graphql")
	refs := assetRefs(get(t, h, "/").Body.String())
	var n int
	for _, ref := range refs {
		if strings.HasPrefix(ref, "data:") || !strings.HasPrefix(ref, web.IDEAssetPrefix) {
			if ref != "/explore" && !strings.HasPrefix(ref, "data:") {
				t.Errorf("unexpected reference %q", ref)
			}
			continue
		}
		n++
		rr := get(t, h, ref)
		if rr.Code != http.StatusOK {
			t.Errorf("GET %s = %d", ref, rr.Code)
			continue
		}
		ct := rr.Header().Get("Content-Type")
		switch {
		case strings.HasSuffix(ref, ".js"):
			if ct != "text/javascript; charset=utf-8" {
				t.Errorf("%s: Content-Type = %q", ref, ct)
			}
		case strings.HasSuffix(ref, ".css"):
			if ct != "text/css; charset=utf-8" {
				t.Errorf("%s: Content-Type = %q", ref, ct)
			}
			if regexp.MustCompile(`url\(\s*['"]?(https?:)?//`).Match(rr.Body.Bytes()) || bytes.Contains(rr.Body.Bytes(), []byte("@import")) {
				t.Errorf("%s loads something from elsewhere", ref)
			}
		default:
			t.Errorf("%s: unexpected kind of asset", ref)
		}
		if rr.Body.Len() == 0 {
			t.Errorf("%s: empty body", ref)
		}
		if rr.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", ref)
		}
		cc := rr.Header().Get("Cache-Control")
		if regexp.MustCompile(`-\d+\.\d+\.\d+\.`).MatchString(ref) {
			if !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("%s (versioned): Cache-Control = %q", ref, cc)
			}
		} else if cc != "no-cache" || rr.Header().Get("ETag") == "" {
			t.Errorf("%s (unversioned): Cache-Control = %q, ETag = %q", ref, cc, rr.Header().Get("ETag"))
		}
	}
	if n != 8 { // GraphiQL JS+CSS, the explorer plugin's JS+CSS, React, ReactDOM, ide.js, ide.css
		t.Errorf("index.html references %d assets (%q), want 8", n, refs)
	}
}

func TestUnknownPaths404(t *testing.T) {
	h := web.IDE("/graphql")
	for _, p := range []string{
		"/ide/", "/ide/nope.js", "/ide/graphiql-0.0.1.min.js", "/ide/../index.html",
		"/ide/LICENSES", "/index.html", "/graphiql", "/favicon.ico",
	} {
		if rr := get(t, h, p); rr.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rr.Code)
		}
	}
}

func TestIDEMethodNotAllowed(t *testing.T) {
	rr := httptest.NewRecorder()
	web.IDE("/graphql").ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q", rr.Code, rr.Header().Get("Allow"))
	}
}

func TestLicencesServed(t *testing.T) {
	h := web.IDE("/graphql")
	for _, p := range []string{"/ide/LICENSES/graphiql.txt", "/ide/LICENSES/react.txt", "/ide/LICENSES/INDEX.md"} {
		rr := get(t, h, p)
		if rr.Code != http.StatusOK || !strings.HasPrefix(rr.Header().Get("Content-Type"), "text/") {
			t.Errorf("GET %s = %d %q", p, rr.Code, rr.Header().Get("Content-Type"))
		}
	}
}

func TestGzipAndConditional(t *testing.T) {
	h := web.IDE("/graphql")
	p := web.IDEAssetPrefix + "graphiql-" + web.GraphiQLVersion + ".min.js"
	plain := get(t, h, p)
	zipped := get(t, h, p, "Accept-Encoding", "gzip, br")
	if zipped.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip not used: %v", zipped.Header())
	}
	if zipped.Body.Len() >= plain.Body.Len()/2 {
		t.Errorf("gzip body %d bytes, plain %d", zipped.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Errorf("gunzipped body differs from the plain one (err %v)", err)
	}
	if get(t, h, p, "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding") != "" {
		t.Error("gzip used despite q=0")
	}
	if zipped.Header().Get("ETag") == plain.Header().Get("ETag") {
		t.Error("gzip and plain forms share an ETag")
	}
	if rr := get(t, h, p, "If-None-Match", plain.Header().Get("ETag")); rr.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rr.Code)
	}
}

// TestPlaygroundRedirects: /playground, where many GraphQL servers served
// GraphQL Playground, sends browsers to the IDE and tells others where
// Playground went; it serves no Playground page.
func TestPlaygroundRedirects(t *testing.T) {
	h := web.IDE("/graphql")
	for _, p := range []string{web.PlaygroundPath, web.PlaygroundPath + "/"} {
		rr := get(t, h, p)
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
	if body := get(t, web.IDE(`/q"<b>`), web.PlaygroundPath).Body.String(); strings.Contains(body, "<b>") {
		t.Errorf("endpoint not escaped in the note:\n%s", body)
	}
	for _, p := range []string{"/playground/index.html", "/playground/static/js/middleware.js", "/playgroundx"} {
		if rr := get(t, h, p); rr.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rr.Code)
		}
	}
}
