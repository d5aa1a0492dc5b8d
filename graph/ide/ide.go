// Package ide serves the GraphiQL IDE for policygraph's GraphQL endpoint.
//
// Everything the page needs (GraphiQL, React, ReactDOM, GraphiQL's CSS with
// its fonts inlined as data: URLs) is vendored under assets/ and embedded in
// the binary, so the IDE works with no network access: nothing is loaded from
// a CDN, and the page's Content-Security-Policy stops the browser from
// connecting anywhere but the serving origin (and the endpoint's origin, if
// the endpoint is an absolute URL). See assets/README.md for where the
// vendored files come from and how to refresh them.
package ide

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Versions of the vendored npm packages in assets/. They are part of the asset
// file names, which is what lets those files be cached as immutable.
const (
	// GraphiQLVersion is the vendored version of the npm package graphiql.
	GraphiQLVersion = "3.8.3"
	// ReactVersion is the vendored version of the npm packages react and react-dom.
	ReactVersion = "18.3.1"
)

// AssetPrefix is the URL path under which Handler serves the IDE's assets.
const AssetPrefix = "/ide/"

// DefaultQuery is the query pre-filled in the editor of a browser that has no
// saved GraphiQL tabs yet.
const DefaultQuery = `# Which US firms sponsored WAIC, by year?
{
  sponsorshipsByYear(series: "waic", sponsorCountry: "US") {
    year
    events { name }
    sponsorships {
      tier
      tierSize { amount }
      subject { name ... on Organization { country } }
      evidence { quote gloss source { title } }
    }
  }
}
`

// Cache-Control values: files whose names carry a version never change;
// everything else is revalidated (cheaply, via its ETag) on every use.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

//go:embed index.html assets
var files embed.FS

var indexTemplate = template.Must(template.ParseFS(files, "index.html"))

// versioned matches asset names that contain a semantic version, such as
// graphiql-3.8.3.min.js.
var versioned = regexp.MustCompile(`-\d+\.\d+\.\d+[.-]`)

var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".md":   "text/markdown; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// Handler serves the GraphiQL IDE page at "/" and its assets under "/ide/"
// (AssetPrefix). The page sends its GraphQL requests to endpoint, typically a
// path on the same server such as "/graphql".
//
// The page itself is served with "Cache-Control: no-cache"; assets whose names
// carry a version with a year-long immutable Cache-Control, the others with
// no-cache and an ETag. Text assets are gzip-compressed for clients that
// accept it. Any other path, including unknown assets, is answered with 404;
// methods other than GET and HEAD with 405.
func Handler(endpoint string) http.Handler {
	h := &handler{assets: make(map[string]*asset)}

	var page bytes.Buffer
	err := indexTemplate.Execute(&page, pageData{
		Prefix:      AssetPrefix,
		GraphiQLJS:  "graphiql-" + GraphiQLVersion + ".min.js",
		GraphiQLCSS: "graphiql-" + GraphiQLVersion + ".min.css",
		ReactJS:     "react-" + ReactVersion + ".production.min.js",
		ReactDOMJS:  "react-dom-" + ReactVersion + ".production.min.js",
		Config:      pageConfig{Endpoint: endpoint, DefaultQuery: DefaultQuery},
	})
	if err != nil {
		// The template and its data are fixed at compile time.
		panic("ide: rendering index.html: " + err.Error())
	}
	h.index = newAsset("index.html", page.Bytes(), cacheRevalidate)
	h.csp = contentSecurityPolicy(endpoint)

	sub, err := fs.Sub(files, "assets")
	if err != nil {
		panic("ide: " + err.Error())
	}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		cache := cacheRevalidate
		if versioned.MatchString(path.Base(name)) {
			cache = cacheImmutable
		}
		h.assets[name] = newAsset(name, data, cache)
		return nil
	})
	if err != nil {
		panic("ide: reading embedded assets: " + err.Error())
	}
	return h
}

type pageData struct {
	Prefix                                       string
	GraphiQLJS, GraphiQLCSS, ReactJS, ReactDOMJS string
	Config                                       pageConfig
}

// pageConfig is written into index.html as JSON and read by assets/ide.js.
type pageConfig struct {
	Endpoint     string `json:"endpoint"`
	DefaultQuery string `json:"defaultQuery"`
}

// contentSecurityPolicy allows scripts, styles and connections only to the
// serving origin, plus the endpoint's origin if it is an absolute URL.
func contentSecurityPolicy(endpoint string) string {
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		switch u.Scheme {
		case "http", "https":
			connect += " " + u.Scheme + "://" + u.Host
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		// GraphiQL's components inject <style> elements at run time.
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'self'",
	}, "; ")
}

type handler struct {
	index  *asset
	assets map[string]*asset // by path relative to assets/
	csp    string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *asset
	switch p := r.URL.Path; {
	case p == "/":
		a = h.index
		w.Header().Set("Content-Security-Policy", h.csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
	case strings.HasPrefix(p, AssetPrefix):
		a = h.assets[strings.TrimPrefix(p, AssetPrefix)]
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	a.serve(w, r)
}

// asset is one file served by the handler, with its lazily built gzip form.
type asset struct {
	name, contentType, cacheControl, etag string
	data                                  []byte

	gzipOnce sync.Once
	gzipData []byte // nil when compression does not pay
}

func newAsset(name string, data []byte, cacheControl string) *asset {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	return &asset{
		name:         name,
		contentType:  ct,
		cacheControl: cacheControl,
		etag:         `"` + hex.EncodeToString(sum[:12]) + `"`,
		data:         data,
	}
}

func (a *asset) compressible() bool {
	return len(a.data) >= 1024 && a.contentType != "application/octet-stream"
}

func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.data) // writes to a bytes.Buffer do not fail
		zw.Close()
		if buf.Len() < len(a.data)*9/10 {
			a.gzipData = buf.Bytes()
		}
	})
	return a.gzipData
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", a.cacheControl)
	hdr.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.data, a.etag
	if a.compressible() {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if gz := a.gzipped(); gz != nil {
				hdr.Set("Content-Encoding", "gzip")
				body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
			}
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
