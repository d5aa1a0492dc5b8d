package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// checkedTexts remembers checkSavedQuery's verdict by query text: the schema is
// fixed for the life of the process, so a text's verdict never changes.
var checkedTexts, _ = lru.New[string, checkedText](1000) // fails only for a size <= 0

type checkedText struct {
	op       *ast.OperationDefinition
	problems []string
}

// checkSavedQuery validates a saved query's text against the schema: it must
// hold exactly one operation, a query. It returns that operation, or the problems.
func checkSavedQuery(text string) (*ast.OperationDefinition, []string) {
	if c, ok := checkedTexts.Get(text); ok {
		return c.op, c.problems
	}
	op, problems := validateSavedQuery(text)
	checkedTexts.Add(text, checkedText{op, problems})
	return op, problems
}

// CheckSavedQuery is checkSavedQuery for the HTTP layer's /q/ endpoint.
func CheckSavedQuery(text string) (*ast.OperationDefinition, []string) { return checkSavedQuery(text) }

func validateSavedQuery(text string) (*ast.OperationDefinition, []string) {
	doc, errs := gqlparser.LoadQueryWithRules(parsedSchema, text, nil) // nil: the default rules
	if len(errs) > 0 {
		problems := make([]string, len(errs))
		for i, e := range errs {
			problems[i] = e.Message
		}
		return nil, problems
	}
	if len(doc.Operations) != 1 {
		return nil, []string{fmt.Sprintf("a saved query holds exactly one operation, not %d", len(doc.Operations))}
	}
	op := doc.Operations[0]
	if op.Operation != ast.Query {
		return nil, []string{"a saved query must be a query, not a " + string(op.Operation)}
	}
	for _, v := range op.VariableDefinitions {
		if slices.Contains(SavedQueryParams, v.Variable) {
			return nil, []string{fmt.Sprintf("variable $%s: the URL parameters %s of /q/ are not variables; rename it", v.Variable, strings.Join(SavedQueryParams, ", "))}
		}
	}
	return op, nil
}

func (r *Resolver) saveQuery(ctx context.Context, in model.SaveQueryInput) (*model.SavedQuery, error) {
	if _, problems := checkSavedQuery(in.Query); problems != nil {
		return nil, &errs.Error{Code: errs.InvalidArgument, Field: "query", Message: "the query does not validate: " + strings.Join(problems, "; ")}
	}
	q, err := r.graph(ctx).PutSavedQuery(storage.SavedQuery{Name: in.Name, Query: in.Query, Description: str(in.Description), CreatedBy: actor(ctx)})
	return model.NewSavedQuery(q), err
}

func (r *Resolver) savedQueryVariables(q *model.SavedQuery) []*model.SavedQueryVariable {
	op, _ := checkSavedQuery(q.Query)
	out := []*model.SavedQueryVariable{}
	if op == nil {
		return out
	}
	for _, v := range op.VariableDefinitions {
		sv := &model.SavedQueryVariable{Name: v.Variable, Type: v.Type.String()}
		if v.DefaultValue != nil {
			s := v.DefaultValue.String()
			sv.DefaultValue = &s
		}
		out = append(out, sv)
	}
	return out
}

// The URL parameters of /q/ that are not variables: a saved query may not
// declare variables of these names.
var SavedQueryParams = []string{"format", "table", "bom"}

// InvalidSavedQuery is a stored saved query that no longer validates against
// the schema (a field it names was removed or changed), with the problems.
type InvalidSavedQuery struct {
	Name     string
	Problems []string
}

// CheckSavedQueries validates every saved query g stores against the current
// schema, as the service does at start: it returns how many it checked and
// those that no longer validate, by name. savedQueries lists the same ones
// as valid: false, and /q/ answers them SAVED_QUERY_INVALID.
func CheckSavedQueries(g *storage.Graph) (checked int, invalid []InvalidSavedQuery, err error) {
	qs, err := g.SavedQueries()
	if err != nil {
		return 0, nil, fmt.Errorf("list saved queries: %w", err)
	}
	for _, q := range qs {
		if _, problems := checkSavedQuery(q.Query); problems != nil {
			invalid = append(invalid, InvalidSavedQuery{Name: q.Name, Problems: problems})
		}
	}
	return len(qs), invalid, nil
}
