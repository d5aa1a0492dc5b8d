package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// QueryRunner runs a query as GET /graphql would (the HTTP layer's limits,
// cache and time limit), with ctx's pinned snapshot (storage.Pin), and
// returns the answer's body and whether it is an answer to keep (a 200; a
// refusal for the moment, such as SERVER_BUSY, is not).
type QueryRunner func(ctx context.Context, query string, variables map[string]any) (body []byte, ok bool, err error)

// SetQueryRunner gives the resolvers the way to run a saved query, which
// savedQueryLive needs (the HTTP layer owns the transport).
func (r *Resolver) SetQueryRunner(run QueryRunner) { r.runQuery = run }

// liveRetry is how long a live query waits to run again after a run the
// server refused for the moment.
const liveRetry = time.Second

// savedQueryLive answers the saved query name now, then again after each
// change to the graph, pushing an answer only when it differs from the last
// one pushed. One run at a time: changes that commit during a run are
// answered by one more run after it.
func (r *Resolver) savedQueryLive(ctx context.Context, name string, variables *string) (<-chan *model.LiveAnswer, error) {
	if r.runQuery == nil {
		return nil, errs.Errorf(errs.Internal, "", "live queries are not served here")
	}
	q, err := r.graph(ctx).SavedQuery(name)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, errs.Errorf(errs.NotFound, "name", "no saved query named %s", strconv.Quote(name))
	}
	if err != nil {
		return nil, err
	}
	if _, problems := checkSavedQuery(q.Query); problems != nil {
		return nil, errs.Errorf(errs.SavedQueryInvalid, "name", "saved query %s no longer validates against the schema; a curator must update it: %s",
			strconv.Quote(name), strings.Join(problems, "; "))
	}
	var vars map[string]any
	if variables != nil && strings.TrimSpace(*variables) != "" {
		d := json.NewDecoder(strings.NewReader(*variables))
		d.UseNumber()
		if err := d.Decode(&vars); err != nil || vars == nil {
			return nil, &errs.Error{Code: errs.InvalidArgument, Field: "variables", Message: "variables is a JSON object, e.g. {\"country\": \"US\"}"}
		}
	}
	g := r.store
	moved := make(chan struct{}, 1) // a change since the last run began
	start := g.Version()
	go func() {
		// Only the notice matters: a burst of changes leaves one in moved.
		_ = g.Changes(ctx, start, true, func(*storage.Change) error {
			select {
			case moved <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	out := make(chan *model.LiveAnswer, 1)
	go func() {
		defer close(out)
		var last [sha256.Size]byte
		pushed := false
		for {
			pin := storage.Pin(ctx)
			v := g.PinnedVersion(pin)
			body, ok, err := r.runQuery(pin, q.Query, vars)
			if err != nil {
				if ctx.Err() == nil {
					r.loaders(ctx).log.ErrorContext(ctx, "live query ended by an error", "name", name, "err", err)
				}
				return
			}
			// The first answer goes out whatever it is (a refusal tells the
			// client why it waits); then only a changed answer to keep.
			if sum := sha256.Sum256(body); !pushed || ok && sum != last {
				pushed, last = true, sum
				if !ok {
					last = [sha256.Size]byte{}
				}
				select {
				case out <- &model.LiveAnswer{Version: version(v), Answer: string(bytes.TrimSpace(body))}:
				case <-ctx.Done():
					return
				}
			}
			// A run refused for the moment (SERVER_BUSY, TIMEOUT) is tried
			// again shortly, not only after the next change.
			var retry <-chan time.Time
			if !ok {
				retry = time.After(liveRetry)
			}
			select {
			case <-moved:
			case <-retry:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
