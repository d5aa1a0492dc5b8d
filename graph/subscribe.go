package graph

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// This file holds the subscriptions' logic: each follows the change log
// (storage.Graph.Changes) from a version and turns each change into the
// events its subscriber asked for.

// eventBuffer is how many events a subscription holds for a subscriber that
// reads slower than changes come; past it the change log's reader waits.
const eventBuffer = 64

// errEndStream ends a subscription's stream without an error (after a reset).
var errEndStream = errors.New("end of stream")

// parseSince decodes a since argument: the version to replay after. Without
// one, the stream starts at the graph's version now.
func parseSince(g *storage.Graph, since *string) (uint64, error) {
	head := g.Version()
	if since == nil {
		return head, nil
	}
	v, err := strconv.ParseUint(*since, 10, 64)
	if err != nil {
		return 0, &errs.Error{Code: errs.InvalidArgument, Field: "since", Message: "since is a version, a whole number as stats { version } gives it, e.g. \"42\""}
	}
	if v > head {
		return 0, errs.Errorf(errs.InvalidArgument, "since", "version %d is ahead of the graph's, %d", v, head)
	}
	return v, nil
}

// follow streams what events makes of each change after the version since
// (see parseSince), the changes the log keeps first, then each one as it
// commits, until ctx ends or events says to stop (errEndStream). An error
// that the log gives before the first change (VERSION_GONE: since is older
// than the log keeps) is returned, not streamed; one after it ends the
// stream and is logged.
func follow[T any](ctx context.Context, r *Resolver, since *string, events func(*storage.Change) ([]T, error)) (<-chan T, error) {
	g := r.store
	after, err := parseSince(g, since)
	if err != nil {
		return nil, err
	}
	replay := after < g.Version()
	out := make(chan T, eventBuffer)
	started := make(chan error, 1)
	go func() {
		defer close(out)
		first := true
		start := func(err error) {
			if first {
				first = false
				started <- err
			}
		}
		err := g.Changes(ctx, after, true, func(c *storage.Change) error {
			start(nil)
			evs, err := events(c)
			for _, ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return err
		})
		start(err)
		if err != nil && !errors.Is(err, errEndStream) && ctx.Err() == nil && !first {
			r.loaders(ctx).log.ErrorContext(ctx, "subscription ended by an error", "err", err)
		}
	}()
	if replay {
		// Changes answers VERSION_GONE before the first change, or sends it.
		if err := <-started; err != nil {
			return nil, err
		}
	}
	return out, nil
}

// version formats a version as the schema shows it.
func version(v uint64) string { return strconv.FormatUint(v, 10) }

// factEvent is the event of one fact the change c put.
func factEvent(rd model.Reader, c *storage.Change, f *storage.Fact) *model.FactEvent {
	ev := &model.FactEvent{Version: version(c.Version), At: c.At, Change: model.FactChangeAdded, Fact: model.NewFact(rd, f)}
	if f.Retraction != nil {
		ev.Change = model.FactChangeRetracted
	}
	return ev
}

// factChanges follows the facts that pass filter.
func (r *Resolver) factChanges(ctx context.Context, filter *model.FactFilter, since *string) (<-chan *model.FactEvent, error) {
	q, err := r.factQuery(ctx, filter)
	if err != nil {
		return nil, err
	}
	if err := q.Check("filter"); err != nil {
		return nil, err
	}
	return follow(ctx, r, since, func(c *storage.Change) ([]*model.FactEvent, error) {
		if c.Reset {
			return nil, errEndStream
		}
		if len(c.Facts) == 0 {
			return nil, nil
		}
		// A retraction is judged by the fact's other fields: the filter's
		// scope (includeRetracted) is about what a list shows, not about
		// what a subscriber is told.
		list := make([]*storage.Fact, len(c.Facts))
		for i, f := range c.Facts {
			if f.Retraction != nil {
				cp := *f
				cp.Retraction = nil
				f = &cp
			}
			list[i] = f
		}
		kept, err := r.graph(ctx).FilterFacts(list, q)
		if err != nil {
			return nil, err
		}
		pass := make(map[uuid.UUID]bool, len(kept))
		for _, f := range kept {
			pass[f.ID] = true
		}
		var evs []*model.FactEvent
		for _, f := range c.Facts { // in the change's order
			if pass[f.ID] {
				evs = append(evs, factEvent(r.liveRd(ctx), c, f))
			}
		}
		return evs, nil
	})
}

// entityChanges follows the changes to the entity id (an ID or a slug).
func (r *Resolver) entityChanges(ctx context.Context, id string, since *string) (<-chan *model.EntityEvent, error) {
	node, err := r.ref(ctx, "id", &id)
	if err != nil {
		return nil, err
	}
	return follow(ctx, r, since, func(c *storage.Change) ([]*model.EntityEvent, error) {
		if c.Reset {
			return nil, errEndStream
		}
		ev := &model.EntityEvent{Version: version(c.Version), At: c.At, Facts: []*model.FactEvent{}}
		touched := false
		for _, n := range c.Nodes {
			if n.ID == node {
				ev.Updated, touched = true, true
			}
		}
		for _, rev := range c.Revisions {
			if rev.Node == node {
				ev.Revision, touched = &model.EntityRevision{Revision: rev}, true
			}
		}
		for _, f := range c.Facts {
			if f.Subject == node || f.Object == node {
				ev.Facts, touched = append(ev.Facts, factEvent(r.liveRd(ctx), c, f)), true
			}
		}
		if !touched {
			return nil, nil
		}
		n, err := r.graph(ctx).Node(node)
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			return nil, err
		}
		if n != nil && n.Retraction == nil {
			ev.Entity = model.View(r.liveRd(ctx), n)
		}
		return []*model.EntityEvent{ev}, nil
	})
}

// versionChanges follows the graph's versions.
func (r *Resolver) versionChanges(ctx context.Context, since *string) (<-chan *model.VersionEvent, error) {
	return follow(ctx, r, since, func(c *storage.Change) ([]*model.VersionEvent, error) {
		return []*model.VersionEvent{{Version: version(c.Version), At: c.At, Reset: c.Reset, Facts: len(c.Facts), Entities: len(c.Nodes)}}, nil
	})
}
