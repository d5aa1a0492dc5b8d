// Command slicepatch points gqlgen's generated list marshalling and field
// scheduling at the graph package's executionContext.marshalSlice and
// resolveField
// (graph/slice.go says why): `go generate
// ./graph` runs it after gqlgen. It rewrites the calls in place and is
// idempotent; it fails when gqlgen's generated code no longer has the call
// it rewrites, so a gqlgen upgrade that changes it is noticed.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// rewrites are the calls rewritten, each to a function of graph/slice.go.
var rewrites = []struct{ from, to string }{
	{"graphql.MarshalSliceConcurrently(", "ec.marshalSlice("},
	{"out.ResolveConcurrently(ec.OperationContext, &deferred, i,", "ec.resolveField(ctx, out, field, &deferred, i,"},
}

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "slicepatch:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.generated.go"))
	if err != nil {
		return err
	}
	calls := make([]int, len(rewrites))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out := b
		for i, r := range rewrites {
			calls[i] += bytes.Count(out, []byte(r.from)) + bytes.Count(out, []byte(r.to))
			out = bytes.ReplaceAll(out, []byte(r.from), []byte(r.to))
		}
		if !bytes.Equal(out, b) {
			if err := os.WriteFile(f, out, 0o644); err != nil {
				return err
			}
		}
	}
	for i, r := range rewrites {
		if calls[i] == 0 {
			return fmt.Errorf("no %s in %d generated files under %s: gqlgen changed its generated code; see graph/slice.go", r.from, len(files), dir)
		}
	}
	return nil
}
