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
package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"path"
	"strings"
)

// CytoscapeVersion is the vendored version of the npm package cytoscape. It is
// part of the file name, which lets that file be cached as immutable.
const CytoscapeVersion = "3.35.0"

// Paths the handler answers.
const (
	// PagePath is the explorer page.
	ExplorerPath = "/explore"
	// AssetPrefix is the URL path under which the page's assets are served.
	ExplorerAssetPrefix = "/explore/assets/"
)

// ExplorerEndpoint is the GraphQL endpoint the page queries.
const ExplorerEndpoint = "/graphql"

// contentSecurityPolicy lets the page load scripts, styles and data only from
// its own origin. Cytoscape.js draws on a canvas and sets element styles via
// the CSSOM, which the policy allows without 'unsafe-inline'.
const explorerCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

//go:embed explore
var explorerFiles embed.FS

var explorerTemplate = template.Must(template.ParseFS(explorerFiles, "explore/index.html"))

// pageData fills index.html.
type explorerPageData struct {
	Prefix      string
	CytoscapeJS string
	Config      explorerPageConfig
}

// pageConfig is written into index.html as JSON and read by assets/explorer.js.
type explorerPageConfig struct {
	Endpoint string `json:"endpoint"`
	IDE      string `json:"ide"`
}

// Handler serves the explorer page at /explore (PagePath) and its assets
// under /explore/assets/ (AssetPrefix); /explore/ redirects to /explore. Any
// other path, including unknown assets, is answered with 404; methods other
// than GET and HEAD with 405. Text assets are gzip-compressed for clients that
// accept it.
func Explorer() http.Handler {
	h := &explorerHandler{}
	var page bytes.Buffer
	err := explorerTemplate.Execute(&page, explorerPageData{
		Prefix:      ExplorerAssetPrefix,
		CytoscapeJS: "vendor/cytoscape-" + CytoscapeVersion + ".min.js",
		Config:      explorerPageConfig{Endpoint: ExplorerEndpoint, IDE: "/"},
	})
	if err != nil {
		// The template and its data are fixed at compile time.
		panic("explore: rendering index.html: " + err.Error())
	}
	h.index = NewAsset("index.html", page.Bytes(), CacheRevalidate)

	// Only the vendored file's name carries a version.
	h.assets, err = Dir(explorerFiles, "explore/assets", func(name string) string {
		if strings.Contains(path.Base(name), "-"+CytoscapeVersion+".") {
			return CacheImmutable
		}
		return CacheRevalidate
	})
	if err != nil {
		panic("explore: reading embedded assets: " + err.Error())
	}
	return h
}

type explorerHandler struct {
	index  *Asset
	assets map[string]*Asset // by path relative to assets/
}

func (h *explorerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *Asset
	switch p := r.URL.Path; {
	case p == ExplorerPath:
		a = h.index
		w.Header().Set("Content-Security-Policy", explorerCSP)
		w.Header().Set("Referrer-Policy", "no-referrer")
	case p == ExplorerPath+"/":
		http.Redirect(w, r, ExplorerPath, http.StatusMovedPermanently)
		return
	case strings.HasPrefix(p, ExplorerAssetPrefix):
		a = h.assets[strings.TrimPrefix(p, ExplorerAssetPrefix)]
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	a.ServeHTTP(w, r)
}
