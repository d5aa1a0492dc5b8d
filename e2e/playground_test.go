package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"policygraph/internal/testenv"
)

// TestPlaygroundRedirectsToTheIDE: the server's route table sends
// /playground, where GraphQL Playground users look for an IDE, to the IDE at
// / (302, with a note naming /graphql and docs/playground.md); with the IDE
// turned off there is nothing to send them to, so it is a 404 like /.
func TestPlaygroundRedirectsToTheIDE(t *testing.T) {
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	on := testenv.Handler(t, testenv.Seeded(t))
	rec := get(on, "/playground")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/" {
		t.Fatalf("GET /playground = %d, Location %q; want 302 to /", rec.Code, rec.Header().Get("Location"))
	}
	for _, want := range []string{"<code>/graphql</code>", "docs/playground.md"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("the note lacks %q:\n%s", want, rec.Body)
		}
	}
	if got := get(on, "/").Code; got != http.StatusOK {
		t.Errorf("GET / (where /playground leads) = %d", got)
	}
	off := testenv.Handler(t, testenv.Seeded(t), "-ide=false")
	if got := get(off, "/playground").Code; got != http.StatusNotFound {
		t.Errorf("IDE off: GET /playground = %d, want 404", got)
	}
}
