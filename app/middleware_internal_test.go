package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// failingFlusher is a ResponseWriter whose flushes fail, as a connection's
// do once its peer is gone.
type failingFlusher struct{ *httptest.ResponseRecorder }

var errFlush = errors.New("flush failed")

func (failingFlusher) FlushError() error { return errFlush }

// TestStatusRecorderPassesFlushErrorsOn: a stream flushing through the
// logging middleware's writer learns that a flush failed (it then ends),
// rather than writing on into a dead connection.
func TestStatusRecorderPassesFlushErrorsOn(t *testing.T) {
	rec := &statusRecorder{ResponseWriter: failingFlusher{httptest.NewRecorder()}, status: http.StatusOK}
	if err := http.NewResponseController(rec).Flush(); !errors.Is(err, errFlush) {
		t.Fatalf("Flush through the recorder = %v, want the writer's %v", err, errFlush)
	}
}
