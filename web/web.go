// Package web serves policygraph's browser front ends, both embedded in the
// binary with every file they need: the GraphiQL IDE at / (IDE, with README's
// questions as examples and a query builder; /playground redirects to it) and
// the explorer at /explore (Explorer), which draws the graph, the evidence
// behind each fact and a timeline. Both are clients of the public GraphQL
// endpoint and of nothing else.
//
// Each front end is a page rendered once from its template, served with a
// Content-Security-Policy that keeps the browser on the serving origin, and
// its assets under a URL prefix; every file is an Asset (static.go): a strong
// ETag, gzip for text that shrinks, and a year-long immutable Cache-Control
// for files whose names carry a version.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
)

// files are the front ends' pages and assets: ide/ and explore/, each an
// index.html template and an assets/ directory.
//
//go:embed ide explore
var files embed.FS

// frontEnd is one browser front end: a page at path, rendered once, served with
// its Content-Security-Policy; its assets under assetPrefix; and a few other
// exact paths (redirects). Any other path, including unknown assets, is
// answered with 404; methods other than GET and HEAD with 405.
type frontEnd struct {
	path, assetPrefix, csp string
	page                   *Asset
	assets                 map[string]*Asset // by path relative to assets/
	also                   map[string]http.HandlerFunc
}

// newFrontEnd renders dir/index.html with data and reads the assets under
// dir/assets; those whose names immutable accepts are served as
// CacheImmutable, the others as CacheRevalidate. The templates, data and
// assets are fixed at compile time, so an error here is a bug: it panics.
func newFrontEnd(dir, path, assetPrefix, csp string, data any, immutable func(name string) bool) *frontEnd {
	var page bytes.Buffer
	if err := template.Must(template.ParseFS(files, dir+"/index.html")).Execute(&page, data); err != nil {
		panic("web: rendering " + dir + "/index.html: " + err.Error())
	}
	assets, err := Dir(files, dir+"/assets", func(name string) string {
		if immutable(name) {
			return CacheImmutable
		}
		return CacheRevalidate
	})
	if err != nil {
		panic("web: reading embedded assets: " + err.Error())
	}
	return &frontEnd{path: path, assetPrefix: assetPrefix, csp: csp, page: NewAsset("index.html", page.Bytes(), CacheRevalidate), assets: assets}
}

func (f *frontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *Asset
	switch p := r.URL.Path; {
	case p == f.path:
		a = f.page
		w.Header().Set("Content-Security-Policy", f.csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
	case strings.HasPrefix(p, f.assetPrefix):
		a = f.assets[strings.TrimPrefix(p, f.assetPrefix)]
	case f.also[p] != nil:
		f.also[p](w, r)
		return
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	a.ServeHTTP(w, r)
}
