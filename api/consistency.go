package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"policygraph/errs"
)

// Consistency a client can rely on, through any server of a cluster:
//
//   - every GraphQL response carries HeaderVersion, "<store ID>:<version>",
//     the version of the graph it was answered at (the request's pinned
//     snapshot); a response to a mutation carries the version its last
//     write produced;
//   - a request with HeaderMinVersion ("<store ID>:<version>", or a bare
//     version) is answered once the server's read model has reached that
//     version: the server waits up to MinVersionWait (-min-version-wait),
//     then answers 503 VERSION_NOT_REACHED with Retry-After; a store ID that
//     is not the server's is 410 VERSION_GONE (the versions of another store
//     say nothing about this one).
//
// So a client that sends the version its write's response gave reads its
// own write on any server: read-your-writes.
const (
	HeaderVersion    = "Policygraph-Version"
	HeaderMinVersion = "Policygraph-Min-Version"
)

// DefaultMinVersionWait bounds how long a request waits for the version it
// asks for (-min-version-wait).
const DefaultMinVersionWait = 2 * time.Second

// VersionHeader is the value of HeaderVersion for version v of store.
func VersionHeader(store string, v uint64) string { return store + ":" + strconv.FormatUint(v, 10) }

// minVersion reads a request's HeaderMinVersion: ok is false without one;
// err is an INVALID_ARGUMENT for one that does not parse, or VERSION_GONE
// for one of another store than store.
func minVersion(r *http.Request, store string) (v uint64, ok bool, err *errs.Error) {
	h := strings.TrimSpace(r.Header.Get(HeaderMinVersion))
	if h == "" {
		return 0, false, nil
	}
	num := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if id := h[:i]; !strings.EqualFold(id, store) {
			return 0, true, &errs.Error{Code: errs.VersionGone, Field: HeaderMinVersion, Message: fmt.Sprintf(
				"%s names store %s; this server holds store %s, whose versions are not that store's: read the graph again and use the version its response gives", HeaderMinVersion, id, store)}
		}
		num = h[i+1:]
	}
	v, perr := strconv.ParseUint(num, 10, 64)
	if perr != nil {
		return 0, true, &errs.Error{Code: errs.InvalidArgument, Field: HeaderMinVersion, Message: fmt.Sprintf(
			"%s is %q; want <store ID>:<version> as %s gives, or a version", HeaderMinVersion, h, HeaderVersion)}
	}
	return v, true, nil
}

// VersionWaiter waits, bounded, for a graph's version (Graph.WaitVersion).
type VersionWaiter func(ctx context.Context, v uint64) bool

// awaitMinVersion holds a request with HeaderMinVersion until the graph has
// reached it, at most wait; it answers the request itself (and returns
// false) when it cannot go on.
func awaitMinVersion(w http.ResponseWriter, r *http.Request, media, store string, wait time.Duration, reach VersionWaiter) (ok bool, code errs.Code) {
	v, asked, err := minVersion(r, store)
	if !asked {
		return true, ""
	}
	if err != nil {
		writeError(w, media, err.Code, err.Message)
		return false, err.Code
	}
	if wait <= 0 {
		wait = DefaultMinVersionWait
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	if reach(ctx, v) {
		return true, ""
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
	writeError(w, media, errs.VersionNotReached,
		fmt.Sprintf("this server has not reached version %d within %s; retry after the Retry-After delay, or on another server", v, wait))
	return false, errs.VersionNotReached
}
