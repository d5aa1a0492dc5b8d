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

func getExplorer(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

// refs returns the src and href values of an HTML page, and the relative
// imports of an ES module.
var refPattern = regexp.MustCompile(`(?:src|href)="([^"]*)"|from\s+"([^"]*)"`)

func refs(body string) []string {
	var out []string
	for _, m := range refPattern.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

func TestPage(t *testing.T) {
	rr := getExplorer(t, web.Explorer(), http.MethodGet, "/explore")
	if rr.Code != http.StatusOK {
		t.Fatalf("GET /explore = %d", rr.Code)
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
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	body := rr.Body.String()
	for _, bad := range []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr", "style="} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, want := range []string{
		`<title>policygraph · Explorer</title>`, `href="/"`, `"endpoint":"/graphql"`,
		`/explore/assets/vendor/cytoscape-` + web.CytoscapeVersion + `.min.js`,
		`type="module" src="/explore/assets/explorer.js"`,
		`id="preset-waic-us"`, `id="search-input"`, `id="evidence"`, `id="timeline"`,
		`name="viewport"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}

// TestEverythingLocal follows every reference from the page and its scripts:
// each is served from /explore/assets/ with the right type, and none leaves
// the origin.
func TestEverythingLocal(t *testing.T) {
	h := web.Explorer()
	seen := map[string]bool{}
	queue := []string{"/explore"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		rr := getExplorer(t, h, http.MethodGet, p)
		if rr.Code != http.StatusOK {
			t.Errorf("GET %s = %d", p, rr.Code)
			continue
		}
		ct := rr.Header().Get("Content-Type")
		switch {
		case strings.HasSuffix(p, ".js"):
			if ct != "text/javascript; charset=utf-8" {
				t.Errorf("%s: Content-Type = %q", p, ct)
			}
		case strings.HasSuffix(p, ".css"):
			if ct != "text/css; charset=utf-8" {
				t.Errorf("%s: Content-Type = %q", p, ct)
			}
			if regexp.MustCompile(`url\(|@import`).Match(rr.Body.Bytes()) {
				t.Errorf("%s loads something else", p)
			}
		}
		if strings.Contains(p, "/vendor/") {
			continue // minified upstream code; its licence header names URLs
		}
		if strings.HasSuffix(p, ".js") && regexp.MustCompile(`https?://`).Match(rr.Body.Bytes()) {
			t.Errorf("%s names an absolute URL", p)
		}
		for _, ref := range refs(rr.Body.String()) {
			switch {
			case ref == "/" || strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "#"):
				continue
			case strings.HasPrefix(ref, "./"):
				ref = p[:strings.LastIndex(p, "/")+1] + strings.TrimPrefix(ref, "./")
			case !strings.HasPrefix(ref, web.ExplorerAssetPrefix):
				t.Errorf("%s references %q, outside %s", p, ref, web.ExplorerAssetPrefix)
				continue
			}
			queue = append(queue, ref)
		}
	}
	for _, want := range []string{"explorer.js", "api.js", "format.js", "labels.js", "state.js", "export.js", "explorer.css", "vendor/cytoscape-" + web.CytoscapeVersion + ".min.js"} {
		if !seen[web.ExplorerAssetPrefix+want] {
			t.Errorf("%s is not reachable from the page (saw %v)", want, seen)
		}
	}
}

func TestCaching(t *testing.T) {
	h := web.Explorer()
	vendored := web.ExplorerAssetPrefix + "vendor/cytoscape-" + web.CytoscapeVersion + ".min.js"
	if cc := getExplorer(t, h, http.MethodGet, vendored).Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("%s: Cache-Control = %q, want immutable", vendored, cc)
	}
	own := getExplorer(t, h, http.MethodGet, web.ExplorerAssetPrefix+"explorer.js")
	etag := own.Header().Get("ETag")
	if own.Header().Get("Cache-Control") != "no-cache" || etag == "" {
		t.Errorf("explorer.js: Cache-Control %q, ETag %q", own.Header().Get("Cache-Control"), etag)
	}
	if rr := getExplorer(t, h, http.MethodGet, web.ExplorerAssetPrefix+"explorer.js", "If-None-Match", etag); rr.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rr.Code)
	}
}

func TestGzip(t *testing.T) {
	h := web.Explorer()
	p := web.ExplorerAssetPrefix + "vendor/cytoscape-" + web.CytoscapeVersion + ".min.js"
	plain := getExplorer(t, h, http.MethodGet, p)
	zipped := getExplorer(t, h, http.MethodGet, p, "Accept-Encoding", "gzip")
	if zipped.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip not used: %v", zipped.Header())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Errorf("gunzipped body differs from the plain one (err %v)", err)
	}
	if getExplorer(t, h, http.MethodGet, p, "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding") != "" {
		t.Error("gzip used despite q=0")
	}
}

func TestLicenceAndReadmeServed(t *testing.T) {
	h := web.Explorer()
	for _, p := range []string{"vendor/cytoscape-LICENSE.txt", "vendor/README.md"} {
		rr := getExplorer(t, h, http.MethodGet, web.ExplorerAssetPrefix+p)
		if rr.Code != http.StatusOK || !strings.HasPrefix(rr.Header().Get("Content-Type"), "text/") {
			t.Errorf("GET %s = %d %q", p, rr.Code, rr.Header().Get("Content-Type"))
		}
	}
	if body := getExplorer(t, h, http.MethodGet, web.ExplorerAssetPrefix+"vendor/cytoscape-LICENSE.txt").Body.String(); !strings.Contains(body, "Cytoscape Consortium") {
		t.Error("the licence is not Cytoscape's")
	}
}

func TestNotFound(t *testing.T) {
	h := web.Explorer()
	for _, p := range []string{
		"/explore/assets/", "/explore/assets/nope.js", "/explore/assets/vendor/", "/explore/assets/../index.html",
		"/explore/index.html", "/explore/x", "/explorer", "/", "/explore/assets/vendor/cytoscape-0.0.1.min.js",
	} {
		if rr := getExplorer(t, h, http.MethodGet, p); rr.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rr.Code)
		}
	}
}

func TestTrailingSlashRedirects(t *testing.T) {
	rr := getExplorer(t, web.Explorer(), http.MethodGet, "/explore/")
	if rr.Code != http.StatusMovedPermanently || rr.Header().Get("Location") != "/explore" {
		t.Errorf("GET /explore/ = %d to %q", rr.Code, rr.Header().Get("Location"))
	}
}

func TestMethods(t *testing.T) {
	h := web.Explorer()
	if rr := getExplorer(t, h, http.MethodHead, "/explore"); rr.Code != http.StatusOK {
		t.Errorf("HEAD /explore = %d", rr.Code)
	}
	for _, p := range []string{"/explore", web.ExplorerAssetPrefix + "explorer.js"} {
		rr := getExplorer(t, h, http.MethodPost, p)
		if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s = %d, Allow %q", p, rr.Code, rr.Header().Get("Allow"))
		}
	}
}
