// Package explore serves the policygraph explorer: a page at /explore that
// draws the knowledge graph, the evidence behind each fact and a timeline of
// events, sanctions and export controls.
//
// The page is a client of the public GraphQL API at /graphql and of nothing
// else. Its scripts (plain ES modules) and the vendored Cytoscape.js build are
// embedded in the binary; the Content-Security-Policy lets the page load and
// connect only to its own origin, so it works with no network access. See
// assets/vendor/README.md for where the vendored file comes from.
package explore

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// CytoscapeVersion is the vendored version of the npm package cytoscape. It is
// part of the file name, which lets that file be cached as immutable.
const CytoscapeVersion = "3.35.0"

// Paths the handler answers.
const (
	// PagePath is the explorer page.
	PagePath = "/explore"
	// AssetPrefix is the URL path under which the page's assets are served.
	AssetPrefix = "/explore/assets/"
)

// Endpoint is the GraphQL endpoint the page queries.
const Endpoint = "/graphql"

// Cache-Control values: the versioned vendor file never changes; everything
// else is revalidated (cheaply, via its ETag) on every use.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// contentSecurityPolicy lets the page load scripts, styles and data only from
// its own origin. Cytoscape.js draws on a canvas and sets element styles via
// the CSSOM, which the policy allows without 'unsafe-inline'.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

//go:embed index.html assets
var files embed.FS

var indexTemplate = template.Must(template.ParseFS(files, "index.html"))

var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".md":   "text/markdown; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// pageData fills index.html.
type pageData struct {
	Prefix      string
	CytoscapeJS string
	Config      pageConfig
}

// pageConfig is written into index.html as JSON and read by assets/explorer.js.
type pageConfig struct {
	Endpoint string `json:"endpoint"`
	IDE      string `json:"ide"`
}

// Handler serves the explorer page at /explore (PagePath) and its assets
// under /explore/assets/ (AssetPrefix); /explore/ redirects to /explore. Any
// other path, including unknown assets, is answered with 404; methods other
// than GET and HEAD with 405. Text assets are gzip-compressed for clients that
// accept it.
func Handler() http.Handler {
	h := &handler{assets: make(map[string]*asset)}
	var page bytes.Buffer
	err := indexTemplate.Execute(&page, pageData{
		Prefix:      AssetPrefix,
		CytoscapeJS: "vendor/cytoscape-" + CytoscapeVersion + ".min.js",
		Config:      pageConfig{Endpoint: Endpoint, IDE: "/"},
	})
	if err != nil {
		// The template and its data are fixed at compile time.
		panic("explore: rendering index.html: " + err.Error())
	}
	h.index = newAsset("index.html", page.Bytes(), cacheRevalidate)

	sub, err := fs.Sub(files, "assets")
	if err != nil {
		panic("explore: " + err.Error())
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
		if strings.Contains(path.Base(name), "-"+CytoscapeVersion+".") {
			cache = cacheImmutable
		}
		h.assets[name] = newAsset(name, data, cache)
		return nil
	})
	if err != nil {
		panic("explore: reading embedded assets: " + err.Error())
	}
	return h
}

type handler struct {
	index  *asset
	assets map[string]*asset // by path relative to assets/
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *asset
	switch p := r.URL.Path; {
	case p == PagePath:
		a = h.index
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
	case p == PagePath+"/":
		http.Redirect(w, r, PagePath, http.StatusMovedPermanently)
		return
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

func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		if len(a.data) < 1024 || a.contentType == "application/octet-stream" {
			return
		}
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
	if gz := a.gzipped(); gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
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
