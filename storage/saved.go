package storage

import (
	"regexp"
	"strings"
	"time"

	"policygraph/errs"
)

// SavedQuery is a named, parameterised GraphQL query that anyone can run at a
// stable URL (/q/<name>). Storage keeps it; the GraphQL layer validates it.
type SavedQuery struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Query       string    `json:"query"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
}

var savedNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// MaxSavedQueryLen bounds the text of a saved query.
const MaxSavedQueryLen = 20000

// PutSavedQuery creates or replaces the saved query with q.Name, keeping the
// creation time of one it replaces. Returns an *errs.Error INVALID_ARGUMENT for a bad
// name or an empty or oversize query.
func (g *Graph) PutSavedQuery(q SavedQuery) (*SavedQuery, error) {
	if err := validateSavedQuery(&q); err != nil {
		return nil, err
	}
	err := g.update(func(w writer) error {
		q.UpdatedAt = g.now()
		q.CreatedAt = q.UpdatedAt
		if old, err := w.SavedQuery(q.Name); err == nil {
			q.CreatedAt = old.CreatedAt
		} else if errs.CodeOf(err) != errs.NotFound {
			return err
		}
		return w.setSaved(&q)
	})
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// validateSavedQuery checks what storage knows of a saved query: its name and
// the size and text of its query and description (the GraphQL layer checks
// that the query is valid).
func validateSavedQuery(q *SavedQuery) error {
	if !savedNameRE.MatchString(q.Name) {
		return errs.Errorf(errs.InvalidArgument, "name", "a saved query's name is 1 to 64 lowercase letters, digits and hyphens: %q", q.Name)
	}
	if strings.TrimSpace(q.Query) == "" {
		return errs.Errorf(errs.InvalidArgument, "query", "the query must not be empty")
	}
	if err := CheckText("query", q.Query, MaxSavedQueryLen); err != nil {
		return err
	}
	return CheckText("description", q.Description, MaxTextLen)
}

// SavedQuery returns the saved query with the name, or an *errs.Error NOT_FOUND.
func (g *Graph) SavedQuery(name string) (q *SavedQuery, err error) {
	err = g.view(func(s Snapshot) error { q, err = s.SavedQuery(name); return err })
	return q, err
}

// SavedQueries lists the saved queries by name.
func (g *Graph) SavedQueries() (out []*SavedQuery, err error) {
	err = g.view(func(s Snapshot) error {
		return s.SavedQueries(func(q *SavedQuery) error { out = append(out, q); return nil })
	})
	return out, err
}

// DeleteSavedQuery removes a saved query. Returns an *errs.Error NOT_FOUND.
func (g *Graph) DeleteSavedQuery(name string) error {
	return g.update(func(w writer) error {
		if _, err := w.SavedQuery(name); err != nil {
			return err
		}
		return w.deleteSaved(name)
	})
}
