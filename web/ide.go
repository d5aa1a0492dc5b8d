package web

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Versions of the vendored npm packages in ide/assets/. They are part of the asset
// file names, which is what lets those files be cached as immutable.
const (
	// GraphiQLVersion is the vendored version of the npm package graphiql.
	GraphiQLVersion = "3.8.3"
	// ReactVersion is the vendored version of the npm packages react and react-dom.
	ReactVersion = "18.3.1"
	// ExplorerVersion is the vendored version of the npm package
	// @graphiql/plugin-explorer, the query builder: the release made with
	// GraphiQLVersion, whose UMD build uses the @graphiql/react inside it.
	ExplorerVersion = "3.2.5"
)

// PlaygroundPath is where GraphQL Playground used to be served by many
// GraphQL servers. IDE answers it with a redirect to the IDE and a note;
// see docs/playground.md for why policygraph does not serve Playground.
const PlaygroundPath = "/playground"

// IDEAssetPrefix is the URL path under which IDE serves the IDE's assets.
const IDEAssetPrefix = "/ide/"

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

// versioned matches asset names that contain a semantic version, such as
// graphiql-3.8.3.min.js.
var versioned = regexp.MustCompile(`-\d+\.\d+\.\d+[.-]`)

// IDE serves the GraphiQL IDE page at "/" and its assets under "/ide/"
// (IDEAssetPrefix). The page sends its GraphQL requests to endpoint, typically
// a path on the same server such as "/graphql". PlaygroundPath redirects to
// "/" (302) with a note on where GraphQL Playground went.
//
// Besides GraphiQL's editor, documentation and history, the IDE has two
// panels for analysts who do not write GraphQL: "Examples", README's
// questions (the list Examples), each opened in a new editor tab with one
// click; and GraphiQL's query builder, @graphiql/plugin-explorer, which
// writes a query as fields are ticked in a tree of the schema. Everything the
// page needs (GraphiQL, React, ReactDOM, the explorer plugin, GraphiQL's CSS
// with its fonts inlined as data: URLs) is vendored under ide/assets/, so
// nothing is loaded from a CDN, and the page's Content-Security-Policy stops
// the browser from connecting anywhere but the serving origin (and the
// endpoint's origin, if the endpoint is an absolute URL). See
// ide/assets/README.md for where the vendored files come from.
func IDE(endpoint string) http.Handler {
	var note bytes.Buffer
	if err := playgroundNote.Execute(&note, endpoint); err != nil {
		panic("web: rendering the Playground note: " + err.Error())
	}
	f := newFrontEnd("ide", "/", IDEAssetPrefix, ideCSP(endpoint), idePageData{
		Prefix:      IDEAssetPrefix,
		GraphiQLJS:  "graphiql-" + GraphiQLVersion + ".min.js",
		GraphiQLCSS: "graphiql-" + GraphiQLVersion + ".min.css",
		ReactJS:     "react-" + ReactVersion + ".production.min.js",
		ReactDOMJS:  "react-dom-" + ReactVersion + ".production.min.js",
		ExplorerJS:  "graphiql-plugin-explorer-" + ExplorerVersion + ".umd.js",
		ExplorerCSS: "graphiql-plugin-explorer-" + ExplorerVersion + ".css",
		Config:      idePageConfig{Endpoint: endpoint, DefaultQuery: DefaultQuery, Examples: pageExamples()},
	}, func(name string) bool { return versioned.MatchString(path.Base(name)) })
	redirect := servePlaygroundNote(endpoint, note.Bytes())
	f.also = map[string]http.HandlerFunc{PlaygroundPath: redirect, PlaygroundPath + "/": redirect}
	return f
}

type idePageData struct {
	Prefix                                       string
	GraphiQLJS, GraphiQLCSS, ReactJS, ReactDOMJS string
	ExplorerJS, ExplorerCSS                      string
	Config                                       idePageConfig
}

// idePageConfig is written into ide/index.html as JSON and read by
// ide/assets/ide.js.
type idePageConfig struct {
	Endpoint     string        `json:"endpoint"`
	DefaultQuery string        `json:"defaultQuery"`
	Examples     []pageExample `json:"examples"`
}

// pageExample is an Example as the page's Examples panel shows it.
type pageExample struct {
	Question  string `json:"question"`
	Operation string `json:"operation"`
	Document  string `json:"document"`
}

func pageExamples() []pageExample {
	out := make([]pageExample, len(Examples))
	for i, e := range Examples {
		out[i] = pageExample{Question: e.Question, Operation: e.Operation, Document: e.Document()}
	}
	return out
}

// ideCSP allows scripts, styles and connections only to the
// serving origin, plus the endpoint's origin if it is an absolute URL.
func ideCSP(endpoint string) string {
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

// playgroundNote is the body of the answer to PlaygroundPath; browsers follow
// the redirect at once, so it is read by curl users and the like.
var playgroundNote = template.Must(template.New("playground").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphQL Playground is now GraphiQL</title></head>
<body>
<p>GraphQL Playground is archived; it was merged into GraphiQL, which this server
serves at <a href="/">/</a>, with a query builder and README's example questions.</p>
<p>To keep using the Playground desktop app, or another GraphQL IDE (Altair,
Insomnia, Postman), point it at this server's GraphQL endpoint, <code>{{.}}</code>.
See docs/playground.md in policygraph's source for the steps, and for why the
last Playground build is not served here.</p>
</body>
</html>
`))

// servePlaygroundNote redirects a GET or HEAD of PlaygroundPath to the IDE,
// with the note as the body. The redirect is temporary (302), so that
// browsers do not keep it should /playground ever serve a page again.
func servePlaygroundNote(endpoint string, note []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "GraphQL Playground is not served here; send GraphQL requests to "+endpoint+" (see docs/playground.md)",
				http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Location", "/")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusFound)
		if r.Method == http.MethodGet {
			w.Write(note)
		}
	}
}
