package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// MediaNDJSON is the media type of the change stream: newline-delimited
// JSON, one object a line.
const MediaNDJSON = "application/x-ndjson"

// ChangesOptions configure ChangesHandler.
type ChangesOptions struct {
	// Gzip compresses the stream for clients that accept gzip, each line
	// flushed through the compressor as it is written.
	Gzip bool
	// Logger logs what goes wrong in the store (nil: slog.Default).
	Logger *slog.Logger
}

// ChangesHandler serves GET /changes: the graph's change log as
// newline-delimited JSON (docs/changes.md is the format). Parameters:
//
//   - since=V: the changes after version V (absent: after the head, that is
//     only new ones); a consumer resumes with the last version it saw;
//   - follow=1: after the log, each new change as it commits, until the
//     client goes, the server shuts down or the stream's lifetime passes;
//     without it the stream ends at the head;
//   - include=records: the whole records of each change on its line;
//   - store=ID: the store the consumer's versions belong to; another store's
//     versions mean nothing here: 410 VERSION_GONE.
//
// The first line is a header {"store","since","head"}; each change a line
// {"version","at","kinds",...IDs}; an idle stream a {"heartbeat"} line every
// StreamOptions.Heartbeat; the last line {"end","since"} says why it ended and
// where to resume (a stream without it was cut: resume from the last
// version seen). A since older than the log keeps is 410 VERSION_GONE before
// any line; a bad parameter 400 BAD_REQUEST; past the stream bound, 429
// TOO_MANY_STREAMS. The route is outside the request guard (Limits.Guard):
// no query time limit, no buffering; streams bounds it instead.
func ChangesHandler(g *storage.Graph, streams *Streams, o ChangesOptions) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveChanges(w, r, g, streams, o.Logger)
	}))
	if o.Gzip {
		// gzhttp holds the first bytes until it has CompressMinBytes or a
		// flush: a refusal (one small body) goes out plain, and the stream,
		// flushed at each line, gzipped from its header line on.
		h = gzipWrapper()(h)
	}
	return h
}

// changesQuery is a /changes request's parameters.
type changesQuery struct {
	since    uint64
	hasSince bool
	follow   bool
	records  bool
	store    uuid.UUID
}

func parseChangesQuery(r *http.Request) (changesQuery, error) {
	var q changesQuery
	v := r.URL.Query()
	if s := v.Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, fmt.Errorf("since=%q is not a version (a whole number, 0 or more)", s)
		}
		q.since, q.hasSince = n, true
	}
	if s := v.Get("follow"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, fmt.Errorf("follow=%q is not 1, 0, true or false", s)
		}
		q.follow = b
	}
	switch s := v.Get("include"); s {
	case "":
	case "records":
		q.records = true
	default:
		return q, fmt.Errorf("include=%q: the one thing a line can include is records", s)
	}
	if s := v.Get("store"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			return q, fmt.Errorf("store=%q is not a store ID (a UUID, the header line's store)", s)
		}
		q.store = id
	}
	return q, nil
}

// The lines of the stream.
type (
	changesHeader struct {
		Store uuid.UUID `json:"store"`
		Since uint64    `json:"since"`
		Head  uint64    `json:"head"`
	}
	changeLine struct {
		Version             uint64         `json:"version"`
		At                  time.Time      `json:"at"`
		Kinds               []string       `json:"kinds"`
		Reset               bool           `json:"reset,omitempty"`
		Entities            []uuid.UUID    `json:"entities,omitempty"`
		Sources             []uuid.UUID    `json:"sources,omitempty"`
		Facts               []uuid.UUID    `json:"facts,omitempty"`
		Revisions           []revisionRef  `json:"revisions,omitempty"`
		SavedQueries        []string       `json:"savedQueries,omitempty"`
		DeletedSavedQueries []string       `json:"deletedSavedQueries,omitempty"`
		Records             *changeRecords `json:"records,omitempty"`
	}
	revisionRef struct {
		Entity uuid.UUID `json:"entity"`
		Seq    int       `json:"seq"`
	}
	changeRecords struct {
		Entities     []*storage.Node       `json:"entities,omitempty"`
		Sources      []storage.SourceText  `json:"sources,omitempty"`
		Facts        []*storage.Fact       `json:"facts,omitempty"`
		Revisions    []*storage.Revision   `json:"revisions,omitempty"`
		SavedQueries []*storage.SavedQuery `json:"savedQueries,omitempty"`
	}
	heartbeatLine struct {
		Heartbeat time.Time `json:"heartbeat"`
	}
	endLine struct {
		End   string `json:"end"`
		Since uint64 `json:"since"`
	}
	errorLine struct {
		Error struct {
			Code    errs.Code `json:"code"`
			Message string    `json:"message"`
		} `json:"error"`
	}
)

// Why a stream ended, on its last line.
const (
	endHead     = "head"     // without follow: every change up to the head was sent
	endShutdown = "shutdown" // the server is shutting down: resume elsewhere, or once it is back
	endLifetime = "lifetime" // the stream reached -stream-lifetime: resume at once
)

// newChangeLine is the line of change c.
func newChangeLine(c *storage.Change, records bool) *changeLine {
	l := &changeLine{Version: c.Version, At: c.At, Reset: c.Reset}
	if c.Reset {
		l.Kinds = []string{"reset"}
		return l
	}
	for _, n := range c.Nodes {
		l.Entities = append(l.Entities, n.ID)
	}
	for _, t := range c.Texts {
		l.Sources = append(l.Sources, t.ID)
	}
	for _, f := range c.Facts {
		l.Facts = append(l.Facts, f.ID)
	}
	for _, r := range c.Revisions {
		l.Revisions = append(l.Revisions, revisionRef{Entity: r.Node, Seq: r.Seq})
	}
	for _, q := range c.Saved {
		l.SavedQueries = append(l.SavedQueries, q.Name)
	}
	l.DeletedSavedQueries = c.DeleteSaved
	for _, k := range []struct {
		name string
		n    int
	}{{"entity", len(c.Nodes)}, {"source", len(c.Texts)}, {"fact", len(c.Facts)}, {"revision", len(c.Revisions)},
		{"savedQuery", len(c.Saved)}, {"savedQueryDeleted", len(c.DeleteSaved)}} {
		if k.n > 0 {
			l.Kinds = append(l.Kinds, k.name)
		}
	}
	if l.Kinds == nil {
		l.Kinds = []string{}
	}
	if records {
		l.Records = &changeRecords{Entities: c.Nodes, Sources: c.Texts, Facts: c.Facts, Revisions: c.Revisions, SavedQueries: c.Saved}
	}
	return l
}

// encodeLine is v as one line of JSON.
func encodeLine(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// The lines are this file's types over storage's records, which encode.
		panic(fmt.Sprintf("encode a change stream line: %v", err))
	}
	return buf.Bytes()
}

// errStreamEnded stops Graph.Changes when the stream's context has ended.
var errStreamEnded = errors.New("stream ended")

func serveChanges(w http.ResponseWriter, r *http.Request, g *storage.Graph, streams *Streams, log *slog.Logger) {
	q, err := parseChangesQuery(r)
	if err != nil {
		writeError(w, mediaJSON, errs.BadRequest, err.Error())
		return
	}
	head := g.Version()
	if q.store != uuid.Nil && q.store != g.StoreID() {
		writeError(w, mediaJSON, errs.VersionGone, fmt.Sprintf("store=%s: this server holds store %s, whose versions are not that store's: read the graph again, then follow from its version", q.store, g.StoreID()))
		return
	}
	if !q.hasSince {
		q.since = head
	}
	if q.since > head {
		writeError(w, mediaJSON, errs.InvalidArgument, fmt.Sprintf("since=%d is ahead of the graph's version, %d", q.since, head))
		return
	}
	w.Header().Set("Content-Type", MediaNDJSON)
	w.Header().Set("Cache-Control", "no-store")
	// The version the header line gives as its head.
	w.Header().Set(HeaderVersion, VersionHeader(g.StoreID().String(), head))
	w.Header().Set("X-Accel-Buffering", "no") // a proxy such as nginx passes each line on at once
	if r.Method == http.MethodHead {
		return
	}
	st, ok := streams.Start(w, r)
	if !ok {
		return
	}
	defer st.Close()

	last := q.since
	started := false
	stopBeat := func() {}
	defer func() { stopBeat() }()
	// start writes the header line, the first: once a since older than the
	// log keeps would have been refused.
	start := func() error {
		if started {
			return nil
		}
		started = true
		w.WriteHeader(http.StatusOK)
		if err := st.Write(encodeLine(changesHeader{Store: g.StoreID(), Since: q.since, Head: head})); err != nil {
			return err
		}
		stopBeat = st.KeepAlive(func() []byte { return encodeLine(heartbeatLine{Heartbeat: time.Now().UTC()}) })
		return nil
	}
	if q.since == head {
		// Nothing to check against the log: the header goes out at once.
		if start() != nil {
			return
		}
	}
	err = g.Changes(st.Context(), q.since, q.follow, func(c *storage.Change) error {
		if st.Context().Err() != nil {
			return errStreamEnded
		}
		if err := start(); err != nil {
			return err
		}
		if err := st.Write(encodeLine(newChangeLine(c, q.records))); err != nil {
			return err
		}
		last = c.Version
		return nil
	})
	if errors.Is(err, errStreamEnded) {
		err = nil
	}
	stopBeat()
	if err != nil {
		var e *errs.Error
		isCoded := errors.As(err, &e)
		switch {
		case st.Context().Err() != nil && st.Ended() == nil:
			return // the client went away (or a write to it failed)
		case !isCoded:
			log.ErrorContext(r.Context(), "change stream", "err", err, "since", q.since, "last", last)
		}
		code, msg := errs.Internal, "internal error"
		if isCoded {
			code, msg = e.Code, e.Message
		}
		if !started {
			writeError(w, mediaJSON, code, msg)
			return
		}
		var line errorLine
		line.Error.Code, line.Error.Message = code, msg
		st.Write(encodeLine(line))
		return
	}
	if start() != nil {
		return
	}
	end := endHead
	switch st.Ended() {
	case ErrShuttingDown:
		end = endShutdown
	case ErrLifetime:
		end = endLifetime
	default:
		if q.follow || st.Context().Err() != nil {
			return // the client went away
		}
	}
	st.Write(encodeLine(endLine{End: end, Since: last}))
}
