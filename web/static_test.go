package web_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"policygraph/web"
)

// Bodies of different kinds: text that compresses well, text too short to be
// worth compressing, and random bytes (served under a text name) that gzip
// cannot shrink by a tenth.
var (
	bigText   = []byte(strings.Repeat("function f() { return 42; }\n", 200))
	smallText = []byte("body { margin: 0 }\n")
	noise     = randomBytes(4096)
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func serve(a http.Handler, method string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/x", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rr := httptest.NewRecorder()
	a.ServeHTTP(rr, req)
	return rr
}

func TestContentType(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"app.css", "text/css; charset=utf-8"},
		{"index.html", "text/html; charset=utf-8"},
		{"vendor/lib-1.2.3.min.js", "text/javascript; charset=utf-8"},
		{"config.json", "application/json"},
		{"README.md", "text/markdown; charset=utf-8"},
		{"LICENSES/react.txt", "text/plain; charset=utf-8"},
		{"font.woff2", "application/octet-stream"},
		{"LICENSE", "application/octet-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := web.ContentType(tc.name); got != tc.want {
				t.Errorf("ContentType(%q) = %q, want %q", tc.name, got, tc.want)
			}
			rr := serve(web.NewAsset(tc.name, smallText, web.CacheRevalidate), http.MethodGet)
			if got := rr.Header().Get("Content-Type"); got != tc.want {
				t.Errorf("served Content-Type = %q, want %q", got, tc.want)
			}
			if got := rr.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

func TestCacheControl(t *testing.T) {
	for _, cc := range []string{web.CacheImmutable, web.CacheRevalidate} {
		rr := serve(web.NewAsset("a.js", smallText, cc), http.MethodGet)
		if got := rr.Header().Get("Cache-Control"); got != cc {
			t.Errorf("Cache-Control = %q, want %q", got, cc)
		}
	}
}

func TestGzipNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name           string
		file           string
		data           []byte
		acceptEncoding string
		wantGzip       bool
		wantVary       bool // the asset has a gzip form, so every response varies
	}{
		{"big text, gzip", "a.js", bigText, "gzip", true, true},
		{"big text, gzip among others", "a.js", bigText, "br, GZIP;q=0.5, deflate", true, true},
		{"big text, two headers", "a.js", bigText, "br\x00gzip", true, true},
		{"big text, gzip q=0", "a.js", bigText, "gzip;q=0", false, true},
		{"big text, gzip q = 0.000", "a.js", bigText, "gzip; q = 0.000", false, true},
		{"big text, no gzip", "a.js", bigText, "br, deflate", false, true},
		{"big text, no header", "a.js", bigText, "", false, true},
		{"small text", "a.css", smallText, "gzip", false, false},
		{"incompressible", "a.txt", noise, "gzip", false, false},
		{"unknown type", "a.bin", bigText, "gzip", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := web.NewAsset(tc.file, tc.data, web.CacheRevalidate)
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			for _, v := range strings.Split(tc.acceptEncoding, "\x00") {
				if v != "" {
					req.Header.Add("Accept-Encoding", v)
				}
			}
			rr := httptest.NewRecorder()
			a.ServeHTTP(rr, req)
			if rr.Code != http.StatusOK {
				t.Fatalf("status %d", rr.Code)
			}
			gotGzip := rr.Header().Get("Content-Encoding") == "gzip"
			if gotGzip != tc.wantGzip {
				t.Errorf("Content-Encoding = %q, want gzip %v", rr.Header().Get("Content-Encoding"), tc.wantGzip)
			}
			if gotVary := rr.Header().Get("Vary") == "Accept-Encoding"; gotVary != tc.wantVary {
				t.Errorf("Vary = %q, want Accept-Encoding %v", rr.Header().Get("Vary"), tc.wantVary)
			}
			body := rr.Body.Bytes()
			if gotGzip {
				if len(body) >= len(tc.data)*9/10 {
					t.Errorf("gzip body is %d bytes of %d", len(body), len(tc.data))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, tc.data) {
				t.Error("body differs from the asset's data")
			}
		})
	}
}

func TestConditional(t *testing.T) {
	a := web.NewAsset("a.js", bigText, web.CacheRevalidate)
	plain := serve(a, http.MethodGet).Header().Get("ETag")
	zipped := serve(a, http.MethodGet, "Accept-Encoding", "gzip").Header().Get("ETag")
	if plain == "" || !strings.HasPrefix(plain, `"`) || !strings.HasSuffix(plain, `"`) {
		t.Fatalf("ETag = %q, want a strong ETag", plain)
	}
	if zipped == plain {
		t.Fatalf("gzip and plain forms share the ETag %q", plain)
	}
	if other := serve(web.NewAsset("a.js", smallText, web.CacheRevalidate), http.MethodGet).Header().Get("ETag"); other == plain {
		t.Errorf("different data share the ETag %q", plain)
	}
	for _, tc := range []struct {
		name           string
		method         string
		acceptEncoding string
		ifNoneMatch    string
		want           int
	}{
		{"plain matches", http.MethodGet, "", plain, http.StatusNotModified},
		{"plain matches on HEAD", http.MethodHead, "", plain, http.StatusNotModified},
		{"plain in a list", http.MethodGet, "", `"nope", ` + plain, http.StatusNotModified},
		{"wildcard", http.MethodGet, "", "*", http.StatusNotModified},
		{"gzip matches", http.MethodGet, "gzip", zipped, http.StatusNotModified},
		{"plain tag, gzip form", http.MethodGet, "gzip", plain, http.StatusOK},
		{"gzip tag, plain form", http.MethodGet, "", zipped, http.StatusOK},
		{"stale", http.MethodGet, "", `"stale"`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := serve(a, tc.method, "Accept-Encoding", tc.acceptEncoding, "If-None-Match", tc.ifNoneMatch)
			if rr.Code != tc.want {
				t.Errorf("status %d, want %d", rr.Code, tc.want)
			}
			if rr.Code == http.StatusNotModified && rr.Body.Len() != 0 {
				t.Errorf("304 with a %d-byte body", rr.Body.Len())
			}
		})
	}
}

func TestHead(t *testing.T) {
	a := web.NewAsset("a.js", bigText, web.CacheImmutable)
	for _, ae := range []string{"", "gzip"} {
		get := serve(a, http.MethodGet, "Accept-Encoding", ae)
		head := serve(a, http.MethodHead, "Accept-Encoding", ae)
		if head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD (Accept-Encoding %q) = %d with %d bytes, want 200 and none", ae, head.Code, head.Body.Len())
		}
		for _, h := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Cache-Control", "ETag", "Vary", "X-Content-Type-Options"} {
			if head.Header().Get(h) != get.Header().Get(h) {
				t.Errorf("Accept-Encoding %q: HEAD %s = %q, GET %q", ae, h, head.Header().Get(h), get.Header().Get(h))
			}
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	a := web.NewAsset("a.js", bigText, web.CacheImmutable)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		t.Run(m, func(t *testing.T) {
			rr := serve(a, m, "Accept-Encoding", "gzip")
			if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s = %d, Allow %q", m, rr.Code, rr.Header().Get("Allow"))
			}
			if rr.Header().Get("ETag") != "" || rr.Header().Get("Content-Encoding") != "" {
				t.Errorf("%s answered with the asset's headers: %v", m, rr.Header())
			}
		})
	}
}

func TestDir(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":                     {Data: smallText},
		"assets/app.js":                  {Data: bigText},
		"assets/vendor/lib-1.2.3.min.js": {Data: smallText},
		"assets/vendor/README.md":        {Data: smallText},
	}
	assets, err := web.Dir(fsys, "assets", func(name string) string {
		if strings.Contains(name, "-1.2.3.") {
			return web.CacheImmutable
		}
		return web.CacheRevalidate
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"app.js":                  web.CacheRevalidate,
		"vendor/lib-1.2.3.min.js": web.CacheImmutable,
		"vendor/README.md":        web.CacheRevalidate,
	}
	if len(assets) != len(want) {
		t.Errorf("Dir returned %d assets, want %d", len(assets), len(want))
	}
	for name, cc := range want {
		a, ok := assets[name]
		if !ok {
			t.Errorf("no asset %q", name)
			continue
		}
		rr := serve(a, http.MethodGet)
		if got := rr.Header().Get("Cache-Control"); got != cc {
			t.Errorf("%s: Cache-Control = %q, want %q", name, got, cc)
		}
		if got, want := rr.Header().Get("Content-Type"), web.ContentType(name); got != want {
			t.Errorf("%s: Content-Type = %q, want %q", name, got, want)
		}
		if !bytes.Equal(rr.Body.Bytes(), fsys["assets/"+name].Data) {
			t.Errorf("%s: body differs from the file", name)
		}
	}
}

func TestDirErrors(t *testing.T) {
	for _, dir := range []string{"../x", "missing"} {
		if _, err := web.Dir(fstest.MapFS{"a.js": {Data: smallText}}, dir, func(string) string { return "" }); err == nil {
			t.Errorf("Dir(%q) succeeded", dir)
		}
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	a := web.NewAsset("a.js", bigText, web.CacheRevalidate)
	done := make(chan []byte)
	for range 8 {
		go func() { done <- serve(a, http.MethodGet, "Accept-Encoding", "gzip").Body.Bytes() }()
	}
	first := <-done
	for range 7 {
		if !bytes.Equal(<-done, first) {
			t.Error("concurrent first requests got different bodies")
		}
	}
}

func ExampleNewAsset() {
	a := web.NewAsset("app.css", []byte("body { margin: 0 }\n"), web.CacheRevalidate)

	rr := httptest.NewRecorder()
	a.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/app.css", nil))
	fmt.Println(rr.Code, rr.Header().Get("Content-Type"), rr.Header().Get("Cache-Control"))
	fmt.Print(rr.Body)
	// Output:
	// 200 text/css; charset=utf-8 no-cache
	// body { margin: 0 }
}
