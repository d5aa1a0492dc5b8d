// Command slicepatch points gqlgen's generated list marshalling at the
// graph package's marshalSlice (graph/slice.go says why): `go generate
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

const (
	from = "graphql.MarshalSliceConcurrently("
	to   = "marshalSlice("
)

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
	calls := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		n := bytes.Count(b, []byte(from))
		calls += n + bytes.Count(b, []byte(to))
		if n == 0 {
			continue
		}
		if err := os.WriteFile(f, bytes.ReplaceAll(b, []byte(from), []byte(to)), 0o644); err != nil {
			return err
		}
	}
	if calls == 0 {
		return fmt.Errorf("no %s in %d generated files under %s: gqlgen changed how it marshals lists; see graph/slice.go", from, len(files), dir)
	}
	return nil
}
