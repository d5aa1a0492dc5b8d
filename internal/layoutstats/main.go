// Command layoutstats measures the layout of one or more checkouts of the
// module: packages, hand-written files and lines, and the largest functions.
// Given two directories it prints them side by side, as issue 10's closing
// note does (before and after):
//
//	git worktree add /tmp/before 9bc76c5
//	go run ./internal/layoutstats /tmp/before .
//
// Hand-written means: Go files that are not generated (no "Code generated
// ... DO NOT EDIT." header, as go generate writes, and not named
// *generated*.go or models_gen.go), and the front ends' own scripts, styles
// and pages (not vendored: nothing under vendor/, nothing named with a
// version, name-1.2.3.min.js); testdata is left out.
package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

func main() {
	top := flag.Int("top", 5, "how many of the largest functions to list")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: layoutstats [-top N] dir [dir...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var all []*Stats
	for _, dir := range flag.Args() {
		s, err := Measure(dir, *top)
		if err != nil {
			fmt.Fprintln(os.Stderr, "layoutstats:", err)
			os.Exit(1)
		}
		all = append(all, s)
	}
	Print(os.Stdout, flag.Args(), all)
}

// Stats is the measure of one checkout.
type Stats struct {
	Packages                 int // go list ./...
	RootGoFiles              int // .go files in the module's root directory
	GoFiles, GoTestFiles     int // hand-written
	GoLines, GoTestLines     int
	GoCode, GoTestCode       int // of those, lines with code: not blank, not only comment
	GeneratedFiles           int
	GeneratedLines           int
	WebFiles, WebLines       int // hand-written .js, .css, .html
	Functions                int // hand-written, non-test
	Largest                  []Func
	RootTestFiles, RootLines int // root directory: _test.go files; lines of all its .go files
}

// Func is a function or method of hand-written, non-test code and its length
// in lines (from func to its closing brace).
type Func struct {
	Name  string // dir.Recv.Name, dir the package's directory
	Lines int
}

var (
	vendored  = regexp.MustCompile(`(^|/)vendor/|-\d+\.\d+\.\d+`)
	generated = regexp.MustCompile(`generated[^/]*\.go$|(^|/)models_gen\.go$`)
)

// Measure measures the checkout in dir, listing the top largest functions.
func Measure(dir string, top int) (*Stats, error) {
	s := &Stats{}
	out, err := goList(dir)
	if err != nil {
		return nil, err
	}
	s.Packages = len(strings.Fields(out))
	fset := token.NewFileSet()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines := bytes.Count(src, []byte("\n"))
		switch ext := filepath.Ext(rel); {
		case ext == ".go":
			return s.goFile(fset, rel, src, lines)
		case (ext == ".js" || ext == ".css" || ext == ".html") && !vendored.MatchString(rel):
			s.WebFiles++
			s.WebLines += lines
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(s.Largest, func(a, b Func) int { return cmp.Or(b.Lines-a.Lines, strings.Compare(a.Name, b.Name)) })
	s.Largest = s.Largest[:min(top, len(s.Largest))]
	return s, nil
}

func goList(dir string) (string, error) {
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list ./... in %s: %v: %s", dir, err, stderr.String())
	}
	return string(out), nil
}

func (s *Stats) goFile(fset *token.FileSet, rel string, src []byte, lines int) error {
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
	if err != nil {
		return err
	}
	inRoot := !strings.Contains(rel, "/")
	test := strings.HasSuffix(rel, "_test.go")
	if inRoot {
		s.RootGoFiles++
		s.RootLines += lines
		if test {
			s.RootTestFiles++
		}
	}
	switch {
	case ast.IsGenerated(f) || generated.MatchString(rel):
		s.GeneratedFiles++
		s.GeneratedLines += lines
		return nil
	case test:
		s.GoTestFiles++
		s.GoTestLines += lines
		s.GoTestCode += codeLines(src)
		return nil
	}
	s.GoFiles++
	s.GoLines += lines
	s.GoCode += codeLines(src)
	pkg := filepath.ToSlash(filepath.Dir(rel)) + "."
	if pkg == ".." {
		pkg = "" // the root's functions go by their own names
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		s.Functions++
		name := fn.Name.Name
		if fn.Recv != nil && len(fn.Recv.List) > 0 {
			name = recvName(fn.Recv.List[0].Type) + "." + name
		}
		n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
		s.Largest = append(s.Largest, Func{Name: pkg + name, Lines: n})
	}
	return nil
}

// codeLines counts the lines of a Go source that hold a token: not blank,
// not only comment.
func codeLines(src []byte) int {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var sc scanner.Scanner
	sc.Init(file, src, nil, 0)
	lines := map[int]bool{}
	for {
		pos, tok, lit := sc.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // inserted at a line's end, not written
		}
		lines[file.Line(pos)] = true
	}
	return len(lines)
}

// recvName is the type name of a receiver: T for T, *T, T[K] and *T[K].
func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

// Print writes the measures of dirs as a Markdown table, one column each,
// then each one's largest functions.
func Print(w io.Writer, dirs []string, all []*Stats) {
	row := func(label string, v func(*Stats) string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, s := range all {
			fmt.Fprintf(w, " %s |", v(s))
		}
		fmt.Fprintln(w)
	}
	num := func(f func(*Stats) int) func(*Stats) string {
		return func(s *Stats) string { return fmt.Sprint(f(s)) }
	}
	fmt.Fprintf(w, "| |")
	for _, d := range dirs {
		fmt.Fprintf(w, " %s |", d)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", len(dirs)))
	row("packages (go list ./...)", num(func(s *Stats) int { return s.Packages }))
	row("hand-written Go files (non-test + test)", func(s *Stats) string {
		return fmt.Sprintf("%d + %d = %d", s.GoFiles, s.GoTestFiles, s.GoFiles+s.GoTestFiles)
	})
	row("hand-written Go lines (non-test + test)", func(s *Stats) string {
		return fmt.Sprintf("%d + %d = %d", s.GoLines, s.GoTestLines, s.GoLines+s.GoTestLines)
	})
	row("of which code: not blank, not only comment (non-test + test)", func(s *Stats) string {
		return fmt.Sprintf("%d + %d = %d", s.GoCode, s.GoTestCode, s.GoCode+s.GoTestCode)
	})
	row("hand-written JS/CSS/HTML files, lines", func(s *Stats) string { return fmt.Sprintf("%d, %d", s.WebFiles, s.WebLines) })
	row("generated Go files, lines", func(s *Stats) string { return fmt.Sprintf("%d, %d", s.GeneratedFiles, s.GeneratedLines) })
	row("root directory: .go files (tests), lines", func(s *Stats) string {
		return fmt.Sprintf("%d (%d), %d", s.RootGoFiles, s.RootTestFiles, s.RootLines)
	})
	row("functions (hand-written, non-test)", num(func(s *Stats) int { return s.Functions }))
	for i, d := range dirs {
		fmt.Fprintf(w, "\nLargest functions, %s:\n", d)
		for _, f := range all[i].Largest {
			fmt.Fprintf(w, "- %s: %d lines\n", f.Name, f.Lines)
		}
	}
}
