package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"policygraph/errs"

	"github.com/vektah/gqlparser/v2/ast"
)

// A CSV answer is one table, made from the finished JSON answer of a saved
// query:
//
//   - A table is named by the path of a list of objects in the answer, by
//     response keys ("event.sponsorships"). Its rows follow one chain: a row
//     per element of that list, and its columns are the scalar fields of that
//     element and of the elements of the lists enclosing it (repeated on each
//     row), named by dotted paths, in the query's selection order. A parent
//     whose list on the chain is empty still gets a row, its child columns empty.
//   - Lists of objects off the chain (siblings of the table's list or of a
//     list enclosing it, and lists inside the table's elements) are not in the
//     table: each is a table of its own. So sibling lists never multiply.
//   - Without a table parameter, a query whose lists of objects form one chain
//     (each inside the one before: "sponsorshipsByYear.sponsorships.evidence")
//     is tabulated by its innermost list, and one without lists is one row. A
//     query with lists side by side is refused, CSV_TABLE_AMBIGUOUS, naming them.
//   - Lists of scalars are one cell, their items joined by "; ".
//   - A cell that a spreadsheet would read as a formula (it starts with =, +, -,
//     @, a tab or a carriage return) gets a leading ' (OWASP's advice). A JSON
//     number is left as it is: -5 is a number, not a formula; a string "-5" or
//     a list of numbers gets the ' too.
//   - The table is written twice: once to count its rows and bytes, refusing
//     it (CSV_TOO_LARGE) before the first byte when it passes a cap, or
//     TIMEOUT when the request's time runs out; then streamed to the client
//     with its exact Content-Length, so a cut transfer shows as one (gzipped,
//     see Compress, it is sent chunked, whose last chunk and gzip's trailer
//     show a cut as well).

// csvFormatVersion is part of every CSV ETag: a change to how tables are made
// must not let a client keep a table made the old way.
const csvFormatVersion = "csv2"

// csvField is a field of a query's selection, merged by response key across
// fragments, in the order of first appearance.
type csvField struct {
	key    string
	list   bool        // the field's type is a list
	fields []*csvField // an object's selection; nil for a scalar or enum
}

// maxCSVFields bounds the fields a CSV layout walks, fragments expanded: a
// saved query that spreads fragments into fragments (2^20 fields from a few
// hundred bytes) must not cost the planner more than the API's own limits
// would let the query cost (the default -max-complexity also bounds fields).
const maxCSVFields = 20000

// csvFields merges a selection set's fields by response key; it stops once
// *budget selections (fields, fragments) have been walked, leaving *budget
// negative.
func csvFields(ss ast.SelectionSet, budget *int) []*csvField {
	var out []*csvField
	byKey := map[string]*csvField{}
	var walk func(ss ast.SelectionSet)
	walk = func(ss ast.SelectionSet) {
		for _, sel := range ss {
			if *budget--; *budget < 0 {
				return
			}
			switch sel := sel.(type) {
			case *ast.Field:
				key := sel.Alias
				if key == "" {
					key = sel.Name
				}
				f, ok := byKey[key]
				if !ok {
					f = &csvField{key: key, list: sel.Definition != nil && sel.Definition.Type.Elem != nil}
					byKey[key] = f
					out = append(out, f)
				}
				if len(sel.SelectionSet) > 0 {
					f.fields = mergeCSVFields(f.fields, csvFields(sel.SelectionSet, budget))
				}
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				if sel.Definition != nil {
					walk(sel.Definition.SelectionSet)
				}
			}
		}
	}
	walk(ss)
	return out
}

// mergeCSVFields adds b's fields to a's, by response key, keeping a's order.
func mergeCSVFields(a, b []*csvField) []*csvField {
	if a == nil {
		return b
	}
	byKey := map[string]*csvField{}
	for _, f := range a {
		byKey[f.key] = f
	}
	for _, f := range b {
		if g, ok := byKey[f.key]; ok {
			g.fields = mergeCSVFields(g.fields, f.fields)
			continue
		}
		a = append(a, f)
	}
	return a
}

// csvTables lists the paths of the lists of objects among fields, in selection
// order, and the innermost ones (the lists that hold no list of objects).
func csvTables(fields []*csvField, prefix string) (all, innermost []string) {
	for _, f := range fields {
		if f.fields == nil {
			continue
		}
		path := joinPath(prefix, f.key)
		subAll, subInner := csvTables(f.fields, path)
		if f.list {
			all = append(all, path)
			if len(subInner) == 0 {
				innermost = append(innermost, path)
			}
		}
		all = append(all, subAll...)
		innermost = append(innermost, subInner...)
	}
	return all, innermost
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// csvLayout is how a table is filled from the answer: its columns and, for
// each level of its chain (the answer's data, then an element of each list
// on the chain), the cells that level's element fills.
type csvLayout struct {
	table string // "" for a query without lists
	cols  []string
	root  *csvLevel
}

type csvLevel struct {
	cells []csvCell
	down  []string  // the keys from this level's element to the next level's list
	next  *csvLevel // nil at the innermost level
}

type csvCell struct {
	keys []string // from the level's element to the value
	col  int
}

// csvRequestError is a CSV request refused before anything runs.
type csvRequestError struct {
	code    errs.Code
	message string
	tables  []string
}

// planCSV lays out the table named by table (the default when empty) of the
// operation op.
func planCSV(op *ast.OperationDefinition, table string) (*csvLayout, *csvRequestError) {
	budget := maxCSVFields
	fields := csvFields(op.SelectionSet, &budget)
	if budget < 0 {
		return nil, &csvRequestError{errs.ComplexityLimit,
			fmt.Sprintf("the query selects more than %d fields once fragments are expanded, too many for a CSV table", maxCSVFields), nil}
	}
	all, innermost := csvTables(fields, "")
	if all == nil {
		all = []string{} // listed as none, not null
	}
	switch {
	case table != "":
		found := false
		for _, t := range all {
			found = found || t == table
		}
		if !found {
			return nil, &csvRequestError{errs.CSVTableUnknown, csvTableMessage(fmt.Sprintf("table %q is not a list of objects of this query", table), all), all}
		}
	case len(innermost) > 1:
		return nil, &csvRequestError{errs.CSVTableAmbiguous, csvTableMessage("this query has lists of objects side by side, and a CSV answer is one table: name it with the table parameter", all), all}
	case len(innermost) == 1:
		table = innermost[0]
	}
	l := &csvLayout{table: table, root: &csvLevel{}}
	var chain []string
	if table != "" {
		chain = strings.Split(table, ".")
	}
	l.build(fields, l.root, nil, "", chain)
	return l, nil
}

func csvTableMessage(msg string, tables []string) string {
	if len(tables) == 0 {
		return msg + "; this query has no list of objects"
	}
	return msg + "; its tables are " + strings.Join(tables, ", ")
}

// build lays out fields, reached from the element of level by keys and
// named under prefix; chain is what remains of the table's path from here.
func (l *csvLayout) build(fields []*csvField, level *csvLevel, keys []string, prefix string, chain []string) {
	for _, f := range fields {
		k := append(append([]string(nil), keys...), f.key)
		name := joinPath(prefix, f.key)
		onChain := len(chain) > 0 && chain[0] == f.key
		switch {
		case f.fields == nil:
			level.cells = append(level.cells, csvCell{keys: k, col: len(l.cols)})
			l.cols = append(l.cols, name)
		case !f.list:
			var rest []string
			if onChain {
				rest = chain[1:]
			}
			l.build(f.fields, level, k, name, rest)
		case onChain:
			level.down = k
			level.next = &csvLevel{}
			l.build(f.fields, level.next, nil, name, chain[1:])
		}
		// A list of objects off the chain is another table.
	}
}

// rows calls emit with each row of the table made from data (the answer's
// "data"); rec is reused between calls.
func (l *csvLayout) rows(data any, emit func(rec []string) error) error {
	rec := make([]string, len(l.cols))
	return l.root.rows(data, rec, emit)
}

func (lv *csvLevel) rows(elem any, rec []string, emit func([]string) error) error {
	for _, c := range lv.cells {
		rec[c.col] = csvValue(lookup(elem, c.keys))
	}
	if lv.next == nil {
		return emit(rec)
	}
	items := listItems(lookup(elem, lv.down))
	if len(items) == 0 {
		lv.next.clear(rec)
		return emit(rec)
	}
	for _, it := range items {
		if err := lv.next.rows(it, rec, emit); err != nil {
			return err
		}
	}
	return nil
}

func (lv *csvLevel) clear(rec []string) {
	for ; lv != nil; lv = lv.next {
		for _, c := range lv.cells {
			rec[c.col] = ""
		}
	}
}

// lookup follows keys through objects; nil when one is missing or null.
func lookup(v any, keys []string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// listItems is a list's items (a nested list's, flattened); nil for null.
func listItems(v any) []any {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []any
	for _, x := range l {
		if sub, ok := x.([]any); ok {
			out = append(out, listItems(sub)...)
			continue
		}
		out = append(out, x)
	}
	return out
}

// csvValue is the cell of a JSON value (numbers decoded as json.Number).
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case json.Number:
		return x.String() // a number, even a negative one, is not a formula
	case bool:
		return strconv.FormatBool(x)
	case string:
		return neutralise(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalarText(e)
		}
		return neutralise(strings.Join(parts, "; "))
	}
	return neutralise(scalarText(v))
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// neutralise keeps a spreadsheet from reading a cell as a formula: a cell
// starting with =, +, -, @, tab or carriage return gets a leading '.
func neutralise(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// csvOptions are what the URL asks of a CSV answer.
type csvOptions struct {
	table string
	bom   bool
}

// parseCSVOptions reads the CSV parameters (table, bom) of a /q/ URL.
func parseCSVOptions(table, bom string) (csvOptions, error) {
	o := csvOptions{table: table}
	if bom != "" {
		b, err := strconv.ParseBool(bom)
		if err != nil {
			return o, fmt.Errorf("parameter bom must be true or false (1 or 0), not %q", bom)
		}
		o.bom = b
	}
	return o, nil
}

// etagSuffix tells the CSV form of an answer from its JSON form, and one
// table or BOM choice from another: the CSV ETag is the JSON one with it.
func (o csvOptions) etagSuffix(table string) string {
	sum := sha256.Sum256([]byte(csvFormatVersion + "\x00" + table + "\x00" + strconv.FormatBool(o.bom)))
	return "-csv" + hex.EncodeToString(sum[:4])
}

// csvETag is the ETag of the CSV form whose JSON form has jsonETag.
func csvETag(jsonETag, suffix string) string {
	tag := strings.TrimPrefix(jsonETag, "W/")
	if len(tag) < 2 || !strings.HasSuffix(tag, `"`) {
		return ""
	}
	return tag[:len(tag)-1] + suffix + `"`
}

// jsonIfNoneMatch turns a CSV request's If-None-Match into the JSON form's:
// each ETag of this CSV form becomes its JSON ETag, any other is dropped (a
// JSON ETag must not match the CSV form), * stays.
func jsonIfNoneMatch(header, suffix string) string {
	var out []string
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		if v == "*" {
			out = append(out, v)
			continue
		}
		tag := strings.TrimPrefix(v, "W/")
		if inner, ok := strings.CutSuffix(tag, suffix+`"`); ok && strings.HasPrefix(inner, `"`) && len(inner) > 1 {
			out = append(out, inner+`"`)
		}
	}
	return strings.Join(out, ", ")
}

// csvLimits bound a CSV table; zero means no bound.
type csvLimits struct {
	maxRows  int
	maxBytes int64
}

var (
	errCSVRows  = errors.New("too many rows")
	errCSVBytes = errors.New("too many bytes")
)

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// measure writes the table to nowhere, counting its rows and bytes; it stops
// with errCSVRows or errCSVBytes past a limit, or ctx's error once ctx is done.
func (l *csvLayout) measure(ctx context.Context, data any, o csvOptions, lim csvLimits) (rows int, size int64, err error) {
	cw := &countingWriter{}
	if o.bom {
		cw.n = int64(len(utf8BOM))
	}
	w := csv.NewWriter(cw)
	if err := w.Write(l.cols); err != nil {
		return 0, 0, err
	}
	err = l.rows(data, func(rec []string) error {
		rows++
		if lim.maxRows > 0 && rows > lim.maxRows {
			return errCSVRows
		}
		if rows%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			w.Flush()
			if lim.maxBytes > 0 && cw.n > lim.maxBytes {
				return errCSVBytes
			}
		}
		return w.Write(rec)
	})
	if err != nil {
		return rows, cw.n, err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return rows, cw.n, err
	}
	if lim.maxBytes > 0 && cw.n > lim.maxBytes {
		return rows, cw.n, errCSVBytes
	}
	return rows, cw.n, ctx.Err()
}

const utf8BOM = "\uFEFF"

// write streams the table to w.
func (l *csvLayout) write(w io.Writer, data any, o csvOptions) error {
	if o.bom {
		if _, err := io.WriteString(w, utf8BOM); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(l.cols); err != nil {
		return err
	}
	if err := l.rows(data, cw.Write); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// serveCSV answers the CSV form of a saved query: inner is its request to
// the API.
func serveCSV(w http.ResponseWriter, r, inner *http.Request, api http.Handler, name string, op *ast.OperationDefinition, opts csvOptions, lim csvLimits, timeout time.Duration) {
	addVary(w.Header(), "Accept") // Accept: text/csv chose this form
	layout, rerr := planCSV(op, opts.table)
	if rerr != nil {
		ext := map[string]any{}
		if rerr.tables != nil {
			ext["tables"] = rerr.tables
		}
		writeErrorExt(w, rerr.code, rerr.message, ext)
		return
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		inner = inner.WithContext(ctx)
	}
	suffix := opts.etagSuffix(layout.table)
	inner.Header.Set("Accept", mediaJSON)
	inner.Header.Del("If-None-Match")
	if inm := jsonIfNoneMatch(r.Header.Get("If-None-Match"), suffix); inm != "" {
		inner.Header.Set("If-None-Match", inm)
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, inner)
	addVary(w.Header(), rec.Header().Values("Vary")...)
	if v := rec.Header().Get(HeaderVersion); v != "" {
		w.Header().Set(HeaderVersion, v) // the table is the answer's, at its version
	}
	etag := csvETag(rec.Header().Get("ETag"), suffix)
	if rec.Code == http.StatusNotModified {
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		if v := rec.Header().Get("Cache-Control"); v != "" {
			w.Header().Set("Cache-Control", v)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var resp struct {
		Data   any             `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber() // numbers keep their digits, and stay numbers (csvValue)
	if err := dec.Decode(&resp); err != nil || rec.Code != http.StatusOK || len(resp.Errors) > 0 {
		if v := rec.Header().Get("Retry-After"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.Header().Set("Content-Type", mediaJSON+"; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(max(rec.Code, http.StatusBadRequest))
		w.Write(rec.Body.Bytes())
		return
	}
	rows, size, err := layout.measure(ctx, resp.Data, opts, lim)
	switch {
	case errors.Is(err, errCSVRows):
		writeErrorExt(w, errs.CSVTooLarge, fmt.Sprintf("table %s has more than %d rows, the most this server writes; ask for fewer (a smaller first, a narrower filter)", csvTableName(layout.table), lim.maxRows),
			map[string]any{"maxRows": lim.maxRows})
		return
	case errors.Is(err, errCSVBytes):
		writeErrorExt(w, errs.CSVTooLarge, fmt.Sprintf("table %s is larger than %d bytes, the most this server writes; ask for fewer rows or fields", csvTableName(layout.table), lim.maxBytes),
			map[string]any{"maxBytes": lim.maxBytes})
		return
	case ctx.Err() != nil:
		writeError(w, mediaJSON, errs.Timeout,
			fmt.Sprintf("the request took longer than %s and was stopped; ask for less (fewer or narrower fields, a smaller first)", timeout))
		return
	case err != nil:
		writeError(w, mediaJSON, errs.Internal, "internal error")
		return
	}
	h := w.Header()
	if etag != "" {
		h.Set("ETag", etag)
	}
	if v := rec.Header().Get("Cache-Control"); v != "" {
		h.Set("Cache-Control", v)
	}
	h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	h.Set("Content-Disposition", `inline; filename="`+name+`.csv"`)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Policygraph-Csv-Rows", strconv.Itoa(rows))
	if layout.table != "" {
		h.Set("Policygraph-Csv-Table", layout.table)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	layout.write(w, resp.Data, opts) // an error is the client's going away
}

func csvTableName(table string) string {
	if table == "" {
		return "(the answer)"
	}
	return strconv.Quote(table)
}

// writeErrorExt is writeError (application/json) with more extensions.
func writeErrorExt(w http.ResponseWriter, code errs.Code, msg string, ext map[string]any) {
	w.Header().Set("Content-Type", mediaJSON+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(errs.Status(code))
	w.Write(errs.Body(code, msg, ext))
}
