package api_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"policygraph/api"
)

// TestCompressLeavesStreamsAlone: a request for a stream, though it accepts
// gzip, reaches the handler with a writer that sends each event when it is
// flushed, uncompressed; gzhttp would buffer and compress it.
func TestCompressLeavesStreamsAlone(t *testing.T) {
	next := make(chan struct{})
	h := api.Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 2 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("a stream cannot flush: %v", err)
			}
			if i == 0 {
				<-next // the client has read the first event
			}
		}
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		close(next)
		t.Fatalf("a stream was sent with Content-Encoding %q", ce)
	}
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != "data: 0\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	close(next)
	rest := new(strings.Builder)
	rd.WriteTo(rest)
	if rest.String() != "\ndata: 1\n\n" {
		t.Errorf("the rest of the stream: %q", rest)
	}
}
