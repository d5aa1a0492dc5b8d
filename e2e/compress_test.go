package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"policygraph/internal/testenv"
)

// pageQuery is a 200-entity page with every fact's evidence: the issue's
// entities(first:200){...evidence}, about 100 kB as it is.
const pageQuery = `{ entities(first: 200) { nodes { id slug name facts { id evidence { quote gloss } } } } }`

// namesQuery is a saved query whose CSV table is 200 rows.
const namesQuery = `{ entities(first: 200) { nodes { id slug name } } }`

// rawGet sends a request as a client that handles the encoding itself: the
// body comes back as it travelled (Go's client only decompresses for
// itself when it set Accept-Encoding).
func rawGet(t *testing.T, method, u string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func varies(h http.Header, name string) bool {
	for _, line := range h.Values("Vary") {
		for _, v := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(v), name) {
				return true
			}
		}
	}
	return false
}

// TestCompressedAnswersDecodeToTheSameBytes: an answer of /graphql or /q/
// (JSON and CSV) to a client that accepts gzip is gzip, varies by
// Accept-Encoding, and decodes to the very bytes sent to a client that does
// not; a small answer is sent as it is.
func TestCompressedAnswersDecodeToTheSameBytes(t *testing.T) {
	srv := testenv.Server(t)
	srv.Must(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "us-sponsors", query: $q }) { url } }`, map[string]any{"q": headlineSaved})
	srv.Must(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "names", query: $q }) { url } }`, map[string]any{"q": namesQuery})
	cases := []struct {
		name, url string
		small     bool
	}{
		{"headline", gqlGET(srv.URL, headlineQuery), false},
		{"200-entity page", gqlGET(srv.URL, pageQuery), false},
		{"saved query", srv.URL + "/q/us-sponsors", false},
		{"saved query as CSV", srv.URL + "/q/names?format=csv", false},
		{"small answer", gqlGET(srv.URL, "{ __typename }"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain, plainBody := rawGet(t, http.MethodGet, c.url, map[string]string{"Accept-Encoding": "identity"})
			zipped, zippedBody := rawGet(t, http.MethodGet, c.url, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
			if plain.StatusCode != http.StatusOK || zipped.StatusCode != http.StatusOK {
				t.Fatalf("status %d and %d: %s", plain.StatusCode, zipped.StatusCode, testenv.Clip(string(plainBody)))
			}
			if ce := plain.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("identity request answered with Content-Encoding %q", ce)
			}
			if !varies(zipped.Header, "Accept-Encoding") || !varies(plain.Header, "Accept-Encoding") {
				t.Errorf("Vary %q and %q, want Accept-Encoding in both", plain.Header.Values("Vary"), zipped.Header.Values("Vary"))
			}
			if c.small {
				if ce := zipped.Header.Get("Content-Encoding"); ce != "" || !bytes.Equal(zippedBody, plainBody) {
					t.Errorf("a %d-byte answer was sent with Content-Encoding %q", len(plainBody), ce)
				}
				return
			}
			if len(plainBody) < 1024 {
				t.Fatalf("the answer is %d bytes: not a large one", len(plainBody))
			}
			if ce := zipped.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", ce)
			}
			if got := gunzip(t, zippedBody); !bytes.Equal(got, plainBody) {
				t.Errorf("the gzip answer decodes to %d bytes that differ from the %d sent as they are", len(got), len(plainBody))
			}
			if len(zippedBody) >= len(plainBody) {
				t.Errorf("gzip sent %d bytes for %d", len(zippedBody), len(plainBody))
			}
			if plain.Header.Get("Content-Type") != zipped.Header.Get("Content-Type") {
				t.Errorf("Content-Type %q and %q", plain.Header.Get("Content-Type"), zipped.Header.Get("Content-Type"))
			}
		})
	}
	t.Run("POST", func(t *testing.T) {
		body := `{"query":` + jsonString(pageQuery) + `}`
		post := func(ae string) (*http.Response, []byte) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Encoding", ae)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		_, plainBody := post("identity")
		zipped, zippedBody := post("gzip")
		if zipped.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, zippedBody), plainBody) {
			t.Errorf("POST: Content-Encoding %q, or the answer decodes to other bytes", zipped.Header.Get("Content-Encoding"))
		}
	})
	t.Run("HEAD", func(t *testing.T) { // the header fields of the GET, no body
		for _, u := range []string{srv.URL + "/q/us-sponsors", srv.URL + "/q/names?format=csv"} {
			for _, ae := range []string{"gzip", "identity"} {
				h := map[string]string{"Accept-Encoding": ae}
				head, b := rawGet(t, http.MethodHead, u, h)
				get, _ := rawGet(t, http.MethodGet, u, h)
				if head.StatusCode != http.StatusOK || len(b) != 0 {
					t.Errorf("HEAD %s (%s): %d with %d bytes", u, ae, head.StatusCode, len(b))
				}
				for _, f := range []string{"ETag", "Content-Encoding", "Content-Type", "Vary"} {
					if hv, gv := strings.Join(head.Header.Values(f), ", "), strings.Join(get.Header.Values(f), ", "); hv != gv {
						t.Errorf("HEAD %s (%s): %s %q, GET %q", u, ae, f, hv, gv)
					}
				}
			}
		}
	})
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestETagsPerEncoding: the gzip and the identity answer of one GET carry
// different strong ETags (RFC 9110 §8.8.3), each answered 304 when sent back
// with the same encoding and 200 with the other; a small answer, sent as it
// is to a client that accepts gzip, keeps the gzip tag so that its 304 does
// not depend on its size.
func TestETagsPerEncoding(t *testing.T) {
	srv := testenv.Server(t)
	srv.Must(t, testenv.Token, `mutation($q: String!) { saveQuery(input: { name: "us-sponsors", query: $q }) { url } }`, map[string]any{"q": headlineSaved})
	for name, u := range map[string]string{
		"headline":           gqlGET(srv.URL, headlineQuery),
		"small answer":       gqlGET(srv.URL, "{ __typename }"),
		"saved query":        srv.URL + "/q/us-sponsors",
		"saved query as CSV": srv.URL + "/q/us-sponsors?format=csv&table=" + url.QueryEscape("sponsorshipsByYear.sponsorships"),
	} {
		t.Run(name, func(t *testing.T) {
			const gz, id = "gzip", "identity"
			tags := map[string]string{}
			for _, ae := range []string{gz, id} {
				resp, b := rawGet(t, http.MethodGet, u, map[string]string{"Accept-Encoding": ae})
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", ae, resp.StatusCode, testenv.Clip(string(b)))
				}
				tags[ae] = resp.Header.Get("ETag")
			}
			if tags[gz] == "" || tags[id] == "" || tags[gz] == tags[id] {
				t.Fatalf("ETags %q (gzip) and %q (identity): want two different ones", tags[gz], tags[id])
			}
			if strings.HasPrefix(tags[gz], "W/") || strings.HasPrefix(tags[id], "W/") {
				t.Errorf("weak ETags %q, %q", tags[gz], tags[id])
			}
			for _, c := range []struct {
				ae, inm string
				want    int
			}{
				{gz, tags[gz], http.StatusNotModified},
				{id, tags[id], http.StatusNotModified},
				{gz, tags[id], http.StatusOK},
				{id, tags[gz], http.StatusOK},
				{gz, `"nothing", ` + tags[gz], http.StatusNotModified},
				{gz, "W/" + tags[gz], http.StatusNotModified}, // If-None-Match compares weakly
				{gz, "*", http.StatusNotModified},
			} {
				resp, b := rawGet(t, http.MethodGet, u, map[string]string{"Accept-Encoding": c.ae, "If-None-Match": c.inm})
				if resp.StatusCode != c.want {
					t.Errorf("%s with If-None-Match %s: %d, want %d", c.ae, c.inm, resp.StatusCode, c.want)
					continue
				}
				if got := resp.Header.Get("ETag"); got != tags[c.ae] {
					t.Errorf("%s with If-None-Match %s: %d with ETag %q, want %q", c.ae, c.inm, resp.StatusCode, got, tags[c.ae])
				}
				if c.want == http.StatusNotModified && (len(b) != 0 || resp.Header.Get("Content-Encoding") != "") {
					t.Errorf("304 with %d bytes, Content-Encoding %q", len(b), resp.Header.Get("Content-Encoding"))
				}
			}
		})
	}
}

// TestGzipOff: -gzip=false sends every answer as it is, with identity tags.
func TestGzipOff(t *testing.T) {
	srv := testenv.Server(t, "-gzip=false")
	u := gqlGET(srv.URL, pageQuery)
	plain, plainBody := rawGet(t, http.MethodGet, u, map[string]string{"Accept-Encoding": "identity"})
	zipped, zippedBody := rawGet(t, http.MethodGet, u, map[string]string{"Accept-Encoding": "gzip"})
	if zipped.Header.Get("Content-Encoding") != "" || !bytes.Equal(plainBody, zippedBody) {
		t.Errorf("with -gzip=false: Content-Encoding %q", zipped.Header.Get("Content-Encoding"))
	}
	if plain.Header.Get("ETag") != zipped.Header.Get("ETag") {
		t.Errorf("with -gzip=false the ETags differ: %q, %q", plain.Header.Get("ETag"), zipped.Header.Get("ETag"))
	}
}

// TestGzipFormIsTheSameCachedOrNot: an answer the response cache serves is
// gzipped once and its gzip form kept; the bytes sent are the same as those
// of an answer gzipped as it is sent (cache off), so one -gzip ETag names
// one sequence of bytes.
func TestGzipFormIsTheSameCachedOrNot(t *testing.T) {
	cached, uncached := testenv.Server(t), testenv.Server(t, "-cache-size", "0")
	gz := map[string]string{"Accept-Encoding": "gzip"}
	var bodies [][]byte
	var tags []string
	for _, srv := range []*testenv.Service{cached, uncached} {
		for range 3 { // a miss, then hits (cached): the form made, then the one kept
			resp, b := rawGet(t, http.MethodGet, gqlGET(srv.URL, pageQuery), gz)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
			}
			if cl := resp.Header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(b)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(b))
			}
			bodies = append(bodies, b)
			tags = append(tags, resp.Header.Get("ETag"))
		}
	}
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) || tags[i] != tags[0] {
			t.Errorf("answer %d: %d gzip bytes with ETag %s; answer 0: %d with %s", i, len(bodies[i]), tags[i], len(bodies[0]), tags[0])
		}
	}
	_, plain := rawGet(t, http.MethodGet, gqlGET(cached.URL, pageQuery), map[string]string{"Accept-Encoding": "identity"})
	if !bytes.Equal(gunzip(t, bodies[0]), plain) {
		t.Error("the kept gzip form decodes to other bytes than the answer")
	}
	// The form is kept, and counted: the response cache holds the answer and
	// its gzip form (another query, asked as it is first, then gzipped).
	other := gqlGET(cached.URL, strings.Replace(pageQuery, "first: 200", "first: 199", 1))
	const held = `policygraph_cache_bytes{cache="response"}`
	before := metric(t, cached.URL, held)
	_, answer := rawGet(t, http.MethodGet, other, map[string]string{"Accept-Encoding": "identity"})
	withAnswer := metric(t, cached.URL, held)
	_, form := rawGet(t, http.MethodGet, other, gz)
	withForm := metric(t, cached.URL, held)
	if withAnswer-before < float64(len(answer)) || withForm-withAnswer != float64(len(form)) {
		t.Errorf("the response cache held %v bytes, then %v with a %d-byte answer, then %v with its %d-byte gzip form",
			before, withAnswer, len(answer), withForm, len(form))
	}
}
