package errs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"policygraph/errs"
)

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		code errs.Code
		want int
	}{
		{errs.BadRequest, 400},
		{errs.NotFound, 404},
		{errs.Unauthenticated, 401},
		{errs.DiskFull, 507},
		{errs.Timeout, 503},
		{errs.PersistedQueryNotFound, 200},
		{"NO_SUCH_CODE", 400},
	} {
		if got := errs.Status(tt.code); got != tt.want {
			t.Errorf("Status(%s) = %d, want %d", tt.code, got, tt.want)
		}
	}
	for _, c := range errs.Codes() {
		if errs.Meaning(c) == "" {
			t.Errorf("%s says nothing of when it is given", c)
		}
	}
}

func TestBody(t *testing.T) {
	ext := map[string]any{"tables": []string{"a", "b"}}
	b := errs.Body(errs.CSVTableAmbiguous, "pick one", ext)
	want := `{"errors":[{"extensions":{"code":"CSV_TABLE_AMBIGUOUS","tables":["a","b"]},"message":"pick one"}]}`
	if string(b) != want {
		t.Errorf("Body = %s, want %s", b, want)
	}
	if _, ok := ext["code"]; ok {
		t.Error("Body changed the extensions it was given")
	}
	// What JSON cannot encode is left out, not the whole answer.
	b = errs.Body(errs.Internal, "internal error", map[string]any{"bad": func() {}})
	var v any
	if err := json.Unmarshal(b, &v); err != nil || !strings.Contains(string(b), `"INTERNAL"`) {
		t.Errorf("Body with an unencodable extension = %s (%v)", b, err)
	}
}

func TestCodeOf(t *testing.T) {
	err := fmt.Errorf("create: %w", errs.Errorf(errs.AlreadyExists, "slug", "slug %q is taken", "waic"))
	if got := errs.CodeOf(err); got != errs.AlreadyExists {
		t.Errorf("CodeOf(wrapped) = %q", got)
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Field != "slug" || e.Message != `slug "waic" is taken` {
		t.Errorf("the *Error: %+v", e)
	}
	if got := errs.CodeOf(errors.New("disk on fire")); got != "" {
		t.Errorf("CodeOf(plain error) = %q, want none", got)
	}
}

// TestCodesAreSpelledOnlyHere: no hand-written Go file outside this package
// spells a code of the table as a string literal; they name errs.X. (Tests
// are exempt: they check the wire, where the code is a string.)
func TestCodesAreSpelledOnlyHere(t *testing.T) {
	codes := map[string]bool{}
	for _, c := range errs.Codes() {
		codes[string(c)] = true
	}
	root := moduleRoot(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "errs" && filepath.Dir(path) == root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && codes[s] {
					t.Errorf("%s: the code %s spelled out: name it errs.X", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}
