package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzhttp/writer/gzkp"
	"github.com/klauspost/compress/gzip"
)

// CompressMinBytes is the smallest answer Compress gzips. Below it gzip saves
// little (its header and trailer alone are 18 bytes, and a short JSON answer
// has few repeats to remove) and the answer fits in one packet either way, so
// compressing costs CPU for no fewer round trips. It is gzhttp's own default.
const CompressMinBytes = gzhttp.DefaultMinSize

// gzipETagSuffix marks the entity tag of a response to a request that
// negotiated gzip (see Compress).
const gzipETagSuffix = "-gzip"

// Compress gzips the answers of next for clients that accept gzip
// (Accept-Encoding), when they are CompressMinBytes or longer, and adds Vary:
// Accept-Encoding. Requests for a stream (IsStream) reach next with the
// ResponseWriter unwrapped, never buffered until the threshold nor compressed.
// A HEAD request gets the header fields its GET would (RFC 9110 §9.3.2): the
// same ETag, and Content-Encoding: gzip (without Content-Length) when the
// answer would be compressed; gzhttp itself leaves HEAD alone.
//
// Entity tags stay correct per encoding (RFC 9110 §8.8.3: a content coding
// makes a different representation, whose strong tag must differ). When a
// request negotiated gzip, every ETag next sets gets the suffix -gzip, whether
// the answer was long enough to be compressed or not: what tag an answer gets
// then depends on the request and the answer's identity tag alone, so a 304,
// which carries no body, gets the same tag as the 200 it stands for. The
// request's If-None-Match is rewritten for next into identity tags: a -gzip
// tag loses its suffix, and a tag without it, which names an identity answer,
// is dropped. next (the transport, the CSV form of /q/) compares and makes
// identity tags only.
func Compress(next http.Handler) http.Handler {
	gz := gzipWrapper()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !negotiatedGzip(w) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&gzipTagWriter{ResponseWriter: w}, withIdentityTags(r))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case IsStream(r):
			next.ServeHTTP(w, r)
		case r.Method == http.MethodHead:
			addVary(w.Header(), "Accept-Encoding")
			if gzipQ(r.Header.Get("Accept-Encoding")) <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(&gzipTagWriter{ResponseWriter: w, head: true}, withIdentityTags(r))
		default:
			gz.ServeHTTP(w, r)
		}
	})
}

// gzipWrapper is gzhttp's wrapper as the server uses it: gzip only, from
// CompressMinBytes (Compress, and the change stream's own).
func gzipWrapper() func(http.Handler) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(CompressMinBytes), gzhttp.EnableZstd(false))
	if err != nil {
		panic(fmt.Sprintf("gzhttp options: %v", err)) // fixed options: a programming error
	}
	return wrap
}

// withIdentityTags is r, or a copy of it whose If-None-Match lists the
// identity tags of its gzip tags (identityTags).
func withIdentityTags(r *http.Request) *http.Request {
	inm := r.Header.Values("If-None-Match")
	if len(inm) == 0 {
		return r
	}
	r2 := *r
	r2.Header = r.Header.Clone()
	if tags := identityTags(strings.Join(inm, ",")); tags != "" {
		r2.Header.Set("If-None-Match", tags)
	} else {
		r2.Header.Del("If-None-Match")
	}
	return &r2
}

// gzipQ is the quality an Accept-Encoding header gives gzip, 0 when it names
// none: the rule gzhttp follows for GET.
func gzipQ(header string) float64 {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		return q
	}
	return 0
}

// negotiatedGzip reports whether gzhttp chose gzip for the request whose
// writer w is: it passes its compressing writer then, a plain one otherwise.
func negotiatedGzip(w http.ResponseWriter) bool {
	switch w.(type) {
	case *gzhttp.GzipResponseWriter, gzhttp.GzipResponseWriterWithCloseNotify:
		return true
	}
	return false
}

// gzipTagWriter suffixes the ETag of the response, before its header is
// written, with gzipETagSuffix. For a HEAD request (head) it also sets the
// Content-Encoding the GET's answer would have: gzip when its Content-Length
// reaches CompressMinBytes (as gzhttp decides for a GET).
type gzipTagWriter struct {
	http.ResponseWriter
	head   bool
	tagged bool
}

func (w *gzipTagWriter) tag(code int) {
	if w.tagged {
		return
	}
	w.tagged = true
	h := w.Header()
	if e := h.Get("ETag"); e != "" {
		h.Set("ETag", gzipETag(e))
	}
	if !w.head || code != http.StatusOK || h.Get("Content-Encoding") != "" {
		return
	}
	if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil && n >= CompressMinBytes && gzhttp.DefaultContentTypeFilter(h.Get("Content-Type")) {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length") // the gzip form's length is not known without making it
	}
}

func (w *gzipTagWriter) WriteHeader(code int) {
	if code >= 200 {
		w.tag(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *gzipTagWriter) Write(p []byte) (int, error) {
	w.tag(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *gzipTagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// gzipETag is the tag of the gzip form of the answer whose identity tag is
// tag (weak or strong): the suffix goes inside the quotes.
func gzipETag(tag string) string {
	i := strings.LastIndexByte(tag, '"')
	if i <= 0 {
		return tag // not an entity tag: left as it is
	}
	return tag[:i] + gzipETagSuffix + tag[i:]
}

// identityTags turns an If-None-Match list sent with a request that
// negotiated gzip into the identity tags next compares: each -gzip tag
// without its suffix; * stays; any other tag is dropped, since no answer to
// this request carries it.
func identityTags(header string) string {
	var out []string
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		if v == "*" {
			out = append(out, v)
			continue
		}
		if inner, ok := strings.CutSuffix(v, gzipETagSuffix+`"`); ok && strings.Contains(inner, `"`) {
			out = append(out, inner+`"`)
		}
	}
	return strings.Join(out, ", ")
}

// compressing reports whether w writes, through the writers wrapped around
// it since, to Compress's gzip writer for a GET or POST: an answer written
// to it already gzipped (with Content-Encoding: gzip) is sent as it is.
func compressing(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case *gzipTagWriter:
			return !x.head
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}

// gzipBody is body gzipped with the writer and level gzhttp uses, so that an
// answer gzipped once and kept is the same bytes gzhttp would send.
func gzipBody(body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw := gzkp.NewWriter(&buf, gzip.DefaultCompression)
	zw.Write(body) // a bytes.Buffer does not fail
	zw.Close()
	return buf.Bytes()
}
