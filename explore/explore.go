// Package explore serves the policygraph explorer: a page at /explore that
// draws the knowledge graph, the evidence behind each fact and a timeline of
// events, sanctions and export controls.
//
// The page is a client of the public GraphQL API at /graphql and of nothing
// else, and asks it only for bounded pages: it starts from a view (the
// policy overview, the headline preset, one entity and its neighbours),
// fetches a node's neighbours when it is clicked, and draws at most a cap of
// nodes with a "Show more" control, so its first drawing takes a handful of
// requests on a graph of any size. The URL's fragment holds the view, so a
// link reopens the same picture. Its scripts (plain ES modules: explorer.js,
// api.js, format.js, labels.js, state.js, export.js) and the vendored
// Cytoscape.js build are embedded in the binary; the Content-Security-Policy
// lets the page load and connect only to its own origin, so it works with no
// network access. See assets/vendor/README.md for where the vendored file
// comes from.
package explore

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"path"
	"strings"

	"policygraph/internal/static"
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

// contentSecurityPolicy lets the page load scripts, styles and data only from
// its own origin. Cytoscape.js draws on a canvas and sets element styles via
// the CSSOM, which the policy allows without 'unsafe-inline'.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

//go:embed index.html assets
var files embed.FS

var indexTemplate = template.Must(template.ParseFS(files, "index.html"))

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
	h := &handler{}
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
	h.index = static.NewAsset("index.html", page.Bytes(), static.CacheRevalidate)

	// Only the vendored file's name carries a version.
	h.assets, err = static.Dir(files, "assets", func(name string) string {
		if strings.Contains(path.Base(name), "-"+CytoscapeVersion+".") {
			return static.CacheImmutable
		}
		return static.CacheRevalidate
	})
	if err != nil {
		panic("explore: reading embedded assets: " + err.Error())
	}
	return h
}

type handler struct {
	index  *static.Asset
	assets map[string]*static.Asset // by path relative to assets/
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *static.Asset
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
	a.ServeHTTP(w, r)
}
