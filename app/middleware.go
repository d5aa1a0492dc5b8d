package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"policygraph/internal/logctx"
)

// requestID gives every request an ID (the client's X-Request-Id when it is
// sane, else a new one), in the response header and in the request's context,
// from which every line logged with that context takes it (logctx.Handler).
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = uuid.NewString()
			r.Header["X-Request-Id"] = []string{id} // the canonical key: no Set needed
		}
		w.Header()["X-Request-Id"] = []string{id}
		next.ServeHTTP(w, r.WithContext(logctx.WithRequestID(r.Context(), id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// logRequests logs one structured line per request (its ID comes from the
// context, see requestID).
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		// LogAttrs: typed attributes, no boxing of each value into an any.
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.String("took", time.Since(start).String()))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush flushes what was written to the connection, through the writers
// under it: a stream's each line (gzhttp and gqlgen's SSE transport assert
// http.Flusher on the writer they are given, where Unwrap is not enough).
func (s *statusRecorder) Flush() { _ = s.FlushError() }

// FlushError is Flush with its error: http.ResponseController.Flush asks
// for it before Flush, and stops at the first writer that has either, so
// without it a stream would never learn that a flush failed.
func (s *statusRecorder) FlushError() error {
	return http.NewResponseController(s.ResponseWriter).Flush()
}
