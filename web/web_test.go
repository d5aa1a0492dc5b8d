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

// do sends a request with header pairs (name, value, ...) to h.
func do(h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	return do(h, http.MethodGet, path, header...)
}

// frontEnd is what the tests know of one front end.
type frontEnd struct {
	name         string
	h            http.Handler
	page, prefix string
	// csp lists what the page's Content-Security-Policy must say; unsafe
	// whether it may allow an 'unsafe-' source (GraphiQL injects styles).
	csp    []string
	unsafe bool
	// pageBans are strings the page must not hold; pageWants ones it must.
	pageBans, pageWants []string
	// links are the references of the page outside its assets.
	links []string
	// cssBans matches what a stylesheet may not load.
	cssBans *regexp.Regexp
	// reachable are assets (relative to prefix) the page must reach;
	// assets is how many it reaches at least.
	reachable []string
	assets    int
	// big is a large text asset, served gzipped; own an unversioned one.
	big, own string
	// licences are assets that must be served as text, with a string each
	// must hold ("" for any).
	licences map[string]string
	notFound []string
}

var noLoads = regexp.MustCompile(`url\(\s*['"]?(https?:)?//|@import`)

func frontEnds() []frontEnd {
	return []frontEnd{{
		name: "ide", h: web.IDE("/graphql"), page: "/", prefix: web.IDEAssetPrefix,
		csp:      []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"},
		unsafe:   true,
		pageBans: []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr", "/healthz"},
		pageWants: []string{
			"<title>policygraph", `>policygraph<`, `href="/explore"`, ">Explorer<",
			`"endpoint":"/graphql"`,
			`sponsorshipsByYear(series: \"waic\", sponsorCountry: \"US\")`,
			`# Which US firms sponsored WAIC, by year?`,
			`/ide/graphiql-plugin-explorer-` + web.ExplorerVersion + `.umd.js`,
			`"operation":"USSponsorsOfWAICByYear"`,
			`"question":"What the graph holds"`,
		},
		links:   []string{"/explore"},
		cssBans: noLoads,
		// GraphiQL JS+CSS, the explorer plugin's JS+CSS, React, ReactDOM, ide.js, ide.css
		reachable: []string{"ide.js", "ide.css", "graphiql-" + web.GraphiQLVersion + ".min.js", "react-" + web.ReactVersion + ".production.min.js"},
		assets:    8,
		big:       "graphiql-" + web.GraphiQLVersion + ".min.js", own: "ide.js",
		licences: map[string]string{"LICENSES/graphiql.txt": "", "LICENSES/react.txt": "", "LICENSES/INDEX.md": ""},
		notFound: []string{
			"/ide/", "/ide/nope.js", "/ide/graphiql-0.0.1.min.js", "/ide/../index.html",
			"/ide/LICENSES", "/index.html", "/graphiql", "/favicon.ico",
			"/playground/index.html", "/playground/static/js/middleware.js", "/playgroundx",
		},
	}, {
		name: "explorer", h: web.Explorer(), page: web.ExplorerPath, prefix: web.ExplorerAssetPrefix,
		csp:      []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"},
		pageBans: []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr", "style="},
		pageWants: []string{
			`<title>policygraph · Explorer</title>`, `href="/"`, `"endpoint":"/graphql"`,
			`/explore/assets/vendor/cytoscape-` + web.CytoscapeVersion + `.min.js`,
			`type="module" src="/explore/assets/explorer.js"`,
			`id="preset-waic-us"`, `id="search-input"`, `id="evidence"`, `id="timeline"`,
			`name="viewport"`,
		},
		links:     []string{"/"},
		cssBans:   regexp.MustCompile(`url\(|@import`),
		reachable: []string{"explorer.js", "api.js", "format.js", "labels.js", "state.js", "export.js", "explorer.css", "vendor/cytoscape-" + web.CytoscapeVersion + ".min.js"},
		assets:    8,
		big:       "vendor/cytoscape-" + web.CytoscapeVersion + ".min.js", own: "explorer.js",
		licences: map[string]string{"vendor/cytoscape-LICENSE.txt": "Cytoscape Consortium", "vendor/README.md": ""},
		notFound: []string{
			"/explore/assets/", "/explore/assets/nope.js", "/explore/assets/vendor/", "/explore/assets/../index.html",
			"/explore/index.html", "/explore/x", "/explorer", "/", "/explore/assets/vendor/cytoscape-0.0.1.min.js",
		},
	}}
}

// refPattern finds the src and href values of an HTML page, and the relative
// imports of an ES module.
var refPattern = regexp.MustCompile(`(?:src|href)="([^"]*)"|from\s+"([^"]*)"`)

func refs(body string) []string {
	var out []string
	for _, m := range refPattern.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// versioned matches the names of assets that carry a version.
var versioned = regexp.MustCompile(`-\d+\.\d+\.\d+\.`)

func TestPages(t *testing.T) {
	for _, f := range frontEnds() {
		t.Run(f.name, func(t *testing.T) {
			rr := get(f.h, f.page)
			if rr.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", f.page, rr.Code)
			}
			for header, want := range map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"Cache-Control":          "no-cache",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
			} {
				if got := rr.Header().Get(header); got != want {
					t.Errorf("%s = %q, want %q", header, got, want)
				}
			}
			csp := rr.Header().Get("Content-Security-Policy")
			for _, want := range f.csp {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if !f.unsafe && strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
			}
			body := rr.Body.String()
			for _, bad := range f.pageBans {
				if strings.Contains(body, bad) {
					t.Errorf("index.html contains %q", bad)
				}
			}
			for _, want := range f.pageWants {
				if !strings.Contains(body, want) {
					t.Errorf("index.html lacks %q", want)
				}
			}
		})
	}
}

// TestEverythingLocal follows every reference from each page and its own
// scripts: each is one of the front end's assets, served with the right type,
// headers and caching, and none leaves the origin.
func TestEverythingLocal(t *testing.T) {
	for _, f := range frontEnds() {
		t.Run(f.name, func(t *testing.T) {
			seen := map[string]bool{}
			queue := []string{f.page}
			for len(queue) > 0 {
				p := queue[0]
				queue = queue[1:]
				if seen[p] {
					continue
				}
				seen[p] = true
				rr := get(f.h, p)
				if rr.Code != http.StatusOK || rr.Body.Len() == 0 {
					t.Errorf("GET %s = %d with %d bytes", p, rr.Code, rr.Body.Len())
					continue
				}
				if rr.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: no X-Content-Type-Options: nosniff", p)
				}
				ct, cc := rr.Header().Get("Content-Type"), rr.Header().Get("Cache-Control")
				switch {
				case p == f.page:
				case strings.HasSuffix(p, ".js"):
					if ct != "text/javascript; charset=utf-8" {
						t.Errorf("%s: Content-Type = %q", p, ct)
					}
				case strings.HasSuffix(p, ".css"):
					if ct != "text/css; charset=utf-8" {
						t.Errorf("%s: Content-Type = %q", p, ct)
					}
					if f.cssBans.Match(rr.Body.Bytes()) {
						t.Errorf("%s loads something else", p)
					}
				default:
					t.Errorf("%s: unexpected kind of asset", p)
				}
				if versioned.MatchString(p) {
					if !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
						t.Errorf("%s (versioned): Cache-Control = %q", p, cc)
					}
					continue // minified upstream code; its licence header names URLs
				}
				if cc != "no-cache" || rr.Header().Get("ETag") == "" {
					t.Errorf("%s (unversioned): Cache-Control = %q, ETag = %q", p, cc, rr.Header().Get("ETag"))
				}
				if strings.HasSuffix(p, ".js") && regexp.MustCompile(`https?://`).Match(rr.Body.Bytes()) {
					t.Errorf("%s names an absolute URL", p)
				}
				if !strings.HasSuffix(p, ".js") && p != f.page {
					continue
				}
				for _, ref := range refs(rr.Body.String()) {
					switch {
					case strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "#"):
						continue
					case strings.HasPrefix(ref, "./"):
						ref = p[:strings.LastIndex(p, "/")+1] + strings.TrimPrefix(ref, "./")
					case strings.Contains(ref, "//"):
						t.Errorf("%s references %q, not a local path", p, ref)
						continue
					case !strings.HasPrefix(ref, f.prefix):
						if !strings.Contains(strings.Join(f.links, " "), ref) {
							t.Errorf("%s references %q, outside %s", p, ref, f.prefix)
						}
						continue
					}
					queue = append(queue, ref)
				}
			}
			for _, want := range f.reachable {
				if !seen[f.prefix+want] {
					t.Errorf("%s is not reachable from the page (saw %v)", want, seen)
				}
			}
			if n := len(seen) - 1; n < f.assets {
				t.Errorf("the page reaches %d assets, want %d: %v", n, f.assets, seen)
			}
		})
	}
}

func TestGzipAndConditional(t *testing.T) {
	for _, f := range frontEnds() {
		t.Run(f.name, func(t *testing.T) {
			p := f.prefix + f.big
			plain := get(f.h, p)
			zipped := get(f.h, p, "Accept-Encoding", "gzip, br")
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
			if get(f.h, p, "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding") != "" {
				t.Error("gzip used despite q=0")
			}
			if zipped.Header().Get("ETag") == plain.Header().Get("ETag") {
				t.Error("gzip and plain forms share an ETag")
			}
			for _, p := range []string{p, f.prefix + f.own} {
				etag := get(f.h, p).Header().Get("ETag")
				if rr := get(f.h, p, "If-None-Match", etag); rr.Code != http.StatusNotModified {
					t.Errorf("conditional GET %s = %d, want 304", p, rr.Code)
				}
			}
		})
	}
}

func TestLicencesServed(t *testing.T) {
	for _, f := range frontEnds() {
		for p, want := range f.licences {
			rr := get(f.h, f.prefix+p)
			if rr.Code != http.StatusOK || !strings.HasPrefix(rr.Header().Get("Content-Type"), "text/") {
				t.Errorf("GET %s = %d %q", f.prefix+p, rr.Code, rr.Header().Get("Content-Type"))
			}
			if !strings.Contains(rr.Body.String(), want) {
				t.Errorf("%s lacks %q", f.prefix+p, want)
			}
		}
	}
}

func TestNotFound(t *testing.T) {
	for _, f := range frontEnds() {
		for _, p := range f.notFound {
			if rr := get(f.h, p); rr.Code != http.StatusNotFound {
				t.Errorf("%s: GET %s = %d, want 404", f.name, p, rr.Code)
			}
		}
	}
}

func TestMethods(t *testing.T) {
	for _, f := range frontEnds() {
		if rr := do(f.h, http.MethodHead, f.page); rr.Code != http.StatusOK || rr.Body.Len() != 0 {
			t.Errorf("HEAD %s = %d with %d bytes", f.page, rr.Code, rr.Body.Len())
		}
		for _, p := range []string{f.page, f.prefix + f.own} {
			rr := do(f.h, http.MethodPost, p)
			if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("POST %s = %d, Allow %q", p, rr.Code, rr.Header().Get("Allow"))
			}
		}
	}
}

func TestExplorerTrailingSlashRedirects(t *testing.T) {
	rr := get(web.Explorer(), "/explore/")
	if rr.Code != http.StatusMovedPermanently || rr.Header().Get("Location") != "/explore" {
		t.Errorf("GET /explore/ = %d to %q", rr.Code, rr.Header().Get("Location"))
	}
}

func TestIDEEscapesEndpoint(t *testing.T) {
	body := get(web.IDE(`/q"</script><b>`), "/").Body.String()
	if strings.Contains(body, `"</script><b>`) || strings.Contains(body, "<b>") {
		t.Errorf("endpoint not escaped:\n%s", body)
	}
}

func TestIDEAbsoluteEndpointAllowedByCSP(t *testing.T) {
	csp := get(web.IDE("http://127.0.0.1:9999/graphql"), "/").Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' http://127.0.0.1:9999") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}
