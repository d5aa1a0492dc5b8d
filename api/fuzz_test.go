package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzHandler sends random bodies to the real /graphql handler, with the write
// token: whatever arrives, the answer is JSON with a 2xx or 4xx status (or 503
// for a timeout), never a crash or another 5xx. The seeds under
// testdata/fuzz/FuzzHandler run as a plain test.
func FuzzHandler(f *testing.F) {
	for _, q := range wellBehaved {
		b, _ := json.Marshal(map[string]any{"query": q})
		f.Add(b, "application/json")
	}
	f.Add([]byte(`{"query":"mutation($in: AddFactInput!) { addFact(input: $in) { id } }","variables":{"in":{"subject":"qualcomm","predicate":"SPONSORED","object":"waic-2019","evidence":[{"source":"waic-2023-article","quote":"Qualcomm"}]}}}`), "application/json")
	f.Add([]byte(`{"query":"{ entities(first: 2, after: \"AAAA\") { totalCount } }"}`), "application/json")
	f.Add([]byte(`{"query": "{ stats`), "application/json")
	f.Add([]byte("\xff\xfe"), "application/json")
	f.Add([]byte(`query=%7Bstats%7Bentities%7D%7D`), "application/x-www-form-urlencoded")
	f.Add([]byte(`{"query":"{ stats { entities } }"}`), "text/plain")
	g := seeded(f)
	a := newAPI(f, g, nil)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code < 500 && rec.Code != http.StatusBadRequest && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d with a body that is not JSON for %q: %q", rec.Code, body, rec.Body)
		}
	})
}
