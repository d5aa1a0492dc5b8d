package web

import (
	"net/http"
	"path"
	"strings"
)

// CytoscapeVersion is the vendored version of the npm package cytoscape. It is
// part of the file name, which lets that file be cached as immutable.
const CytoscapeVersion = "3.35.0"

// Paths the explorer answers.
const (
	// ExplorerPath is the explorer page.
	ExplorerPath = "/explore"
	// ExplorerAssetPrefix is the URL path under which the page's assets are served.
	ExplorerAssetPrefix = "/explore/assets/"
)

// ExplorerEndpoint is the GraphQL endpoint the explorer queries.
const ExplorerEndpoint = "/graphql"

// explorerCSP lets the page load scripts, styles and data only from
// its own origin. Cytoscape.js draws on a canvas and sets element styles via
// the CSSOM, which the policy allows without 'unsafe-inline'.
const explorerCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

// explorerPageData fills explore/index.html.
type explorerPageData struct {
	Prefix      string
	CytoscapeJS string
	Config      explorerPageConfig
}

// explorerPageConfig is written into explore/index.html as JSON and read by
// explore/assets/explorer.js.
type explorerPageConfig struct {
	Endpoint string `json:"endpoint"`
	IDE      string `json:"ide"`
}

// Explorer serves the explorer page at /explore (ExplorerPath) and its assets
// under /explore/assets/ (ExplorerAssetPrefix); /explore/ redirects to
// /explore.
//
// The page asks the API only for bounded pages: it starts from a view (the
// policy overview, the headline preset, one entity and its neighbours),
// fetches a node's neighbours when it is clicked, and draws at most a cap of
// nodes with a "Show more" control, so its first drawing takes a handful of
// requests on a graph of any size. The URL's fragment holds the view, so a
// link reopens the same picture. Its scripts (plain ES modules: explorer.js,
// api.js, format.js, labels.js, state.js, export.js) and the vendored
// Cytoscape.js build (see explore/assets/vendor/README.md) are embedded.
func Explorer() http.Handler {
	f := newFrontEnd("explore", ExplorerPath, ExplorerAssetPrefix, explorerCSP, explorerPageData{
		Prefix:      ExplorerAssetPrefix,
		CytoscapeJS: "vendor/cytoscape-" + CytoscapeVersion + ".min.js",
		Config:      explorerPageConfig{Endpoint: ExplorerEndpoint, IDE: "/"},
	}, func(name string) bool {
		// Only the vendored file's name carries a version.
		return strings.Contains(path.Base(name), "-"+CytoscapeVersion+".")
	})
	f.also = map[string]http.HandlerFunc{ExplorerPath + "/": func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ExplorerPath, http.StatusMovedPermanently)
	}}
	return f
}
