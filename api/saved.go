package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/errs"
	"policygraph/graph"
	"policygraph/storage"
)

// SavedQueryOptions bound the CSV answers of SavedQueryHandler.
type SavedQueryOptions struct {
	// CSVMaxRows bounds the rows of a CSV table (the header aside); 0: no bound.
	CSVMaxRows int
	// CSVMaxBytes bounds the bytes of a CSV table; 0: no bound.
	CSVMaxBytes int64
	// Timeout bounds a CSV request, the query and the table's making; 0: no
	// bound. (The query alone is bounded by the API's own limit.)
	Timeout time.Duration
}

// SavedQueryHandler serves GET /q/<name>: it runs the saved query through api
// (so it is cached, ETagged and negotiated like any GET /graphql), taking its
// variables from the URL parameters, and answers JSON, or CSV with
// Accept: text/csv or ?format=csv (one table, see csv.go; table= names it,
// bom=1 starts it with a UTF-8 byte order mark for Excel). A saved query that
// no longer validates is answered 409 with its problems, never run.
func SavedQueryHandler(g *storage.Graph, api http.Handler, o SavedQueryOptions) http.Handler {
	checked := &checkedQueries{g: g, byName: map[string]*checkedQuery{}}
	lim := csvLimits{maxRows: o.CSVMaxRows, maxBytes: o.CSVMaxBytes}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, mediaJSON, errs.MethodNotAllowed, "saved queries are read with GET")
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/q/")
		q, op, problems, err := checked.get(name)
		if errs.CodeOf(err) == errs.NotFound {
			writeError(w, mediaJSON, errs.NotFound, "no saved query named "+strconv.Quote(name))
			return
		}
		if err != nil {
			writeError(w, mediaJSON, errs.Internal, "internal error")
			return
		}
		if problems != nil {
			body := errs.Body(errs.SavedQueryInvalid, "saved query "+strconv.Quote(name)+" no longer validates against the schema; a curator must update it",
				map[string]any{"problems": problems})
			w.Header().Set("Content-Type", mediaJSON+"; charset=utf-8")
			w.WriteHeader(errs.Status(errs.SavedQueryInvalid))
			w.Write(body)
			return
		}
		params := r.URL.Query()
		asCSV := params.Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv")
		opts, err := parseCSVOptions(params.Get("table"), params.Get("bom"))
		if err != nil {
			writeError(w, mediaJSON, errs.BadRequest, err.Error())
			return
		}
		for _, p := range graph.SavedQueryParams {
			params.Del(p)
		}
		vars, err := variablesFromURL(op, params)
		if err != nil {
			writeError(w, mediaJSON, errs.BadRequest, err.Error())
			return
		}
		varJSON, _ := json.Marshal(vars)
		inner := r.Clone(r.Context())
		inner.Method = http.MethodGet // HEAD too: the server drops the body
		inner.URL = &url.URL{Path: "/graphql", RawQuery: url.Values{"query": {q.Query}, "variables": {string(varJSON)}}.Encode()}
		inner.RequestURI = inner.URL.RequestURI()
		if !asCSV {
			api.ServeHTTP(w, inner)
			return
		}
		serveCSV(w, r, inner, api, name, op, opts, lim, o.Timeout)
	})
}

// checkedQueries remembers saved queries and their validation until the graph
// changes, so that polling one costs no store read.
type checkedQueries struct {
	g      *storage.Graph
	mu     sync.Mutex
	byName map[string]*checkedQuery
}

type checkedQuery struct {
	version  uint64
	q        *storage.SavedQuery
	op       *ast.OperationDefinition
	problems []string
}

// maxCheckedQueries bounds the memo; past it, it starts afresh.
const maxCheckedQueries = 1000

func (c *checkedQueries) get(name string) (*storage.SavedQuery, *ast.OperationDefinition, []string, error) {
	v := c.g.Version()
	c.mu.Lock()
	e, ok := c.byName[name]
	c.mu.Unlock()
	if ok && e.version == v {
		return e.q, e.op, e.problems, nil
	}
	q, err := c.g.SavedQuery(name)
	if err != nil {
		return nil, nil, nil, err
	}
	op, problems := graph.CheckSavedQuery(q.Query)
	c.mu.Lock()
	if len(c.byName) >= maxCheckedQueries {
		c.byName = map[string]*checkedQuery{}
	}
	c.byName[name] = &checkedQuery{version: v, q: q, op: op, problems: problems}
	c.mu.Unlock()
	return q, op, problems, nil
}

// variablesFromURL reads each variable of op from the URL parameter of its name,
// converting it to the variable's type (lists: repeat the parameter or separate
// values with commas). Unknown parameters and missing required ones are errors.
func variablesFromURL(op *ast.OperationDefinition, params url.Values) (map[string]any, error) {
	vars := map[string]any{}
	known := map[string]bool{}
	for _, def := range op.VariableDefinitions {
		known[def.Variable] = true
		vals, ok := params[def.Variable]
		if !ok {
			if def.Type.NonNull && def.DefaultValue == nil {
				return nil, fmt.Errorf("parameter %s (%s) is required", def.Variable, def.Type)
			}
			continue
		}
		t := def.Type
		if t.Elem != nil {
			var list []any
			for _, v := range vals {
				for _, part := range strings.Split(v, ",") {
					x, err := scalarFromURL(def.Variable, t.Elem.Name(), part)
					if err != nil {
						return nil, err
					}
					list = append(list, x)
				}
			}
			vars[def.Variable] = list
			continue
		}
		x, err := scalarFromURL(def.Variable, t.Name(), vals[len(vals)-1])
		if err != nil {
			return nil, err
		}
		vars[def.Variable] = x
	}
	var unknown []string
	for p := range params {
		if !known[p] {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown parameter(s) %s; this query takes %s", strings.Join(unknown, ", "), strings.Join(keys(known), ", "))
	}
	return vars, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"no parameters"}
	}
	return out
}

func scalarFromURL(name, typ, v string) (any, error) {
	switch typ {
	case "Int":
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %s must be an integer, not %q", name, v)
		}
		return n, nil
	case "Float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("parameter %s must be a number, not %q", name, v)
		}
		return f, nil
	case "Boolean":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %s must be true or false, not %q", name, v)
		}
		return b, nil
	}
	return v, nil // String, ID, enums and custom scalars travel as strings
}
