package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"policygraph/internal/synth"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

// TestImportWithinBudget imports a synthetic graph through the binary twice:
// with a budget that holds it all, and with the least budget, under which it
// sorts runs on disk and merges them. Both stores export the same bytes.
func TestImportWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a 20,000-node graph twice")
	}
	dir := t.TempDir()
	export := filepath.Join(dir, "graph.jsonl")
	f, err := os.Create(export)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := synth.Generate(f, 20000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(testenv.Binary(t), args...)
		cmd.Env = append(os.Environ(), "GOMEMLIMIT=", "POLICYGRAPH_IMPORT_MEMORY=")
		if stdin != "" {
			in, err := os.Open(stdin)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			cmd.Stdin = in
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}
	whole := run(export, "import", "-data", filepath.Join(dir, "whole"), "-import-memory", "1GiB")
	if strings.Contains(whole, "sorted runs") {
		t.Fatalf("a 1GiB budget spilled a 20,000-node graph: %s", whole)
	}
	small := run(export, "import", "-data", filepath.Join(dir, "small"), "-import-memory", "128MiB")
	if !strings.Contains(small, "sorted runs on disk, merged") {
		t.Fatalf("the least budget did not spill, so this test tests nothing: %s", small)
	}
	// The peak follows the budget. RSS also counts the pages of the tables
	// the import wrote through memory maps (about the store's 20MiB here) and
	// the binary; a generous bound, which the import before budgets (445MiB
	// for this graph) far exceeded. (The import reports its own VmHWM: a
	// child's rusage counts its parent's memory, shared until exec.)
	m := regexp.MustCompile(`peak RSS (\S+)`).FindStringSubmatch(small)
	if m == nil {
		t.Fatalf("the import did not report its peak RSS: %s", small)
	}
	peak, err := storage.ParseBytes(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if limit := int64(256 << 20); peak > limit {
		t.Errorf("the import with a 128MiB budget peaked at %s RSS, over %s", m[1], storage.FormatBytes(limit))
	}
	t.Logf("peak RSS with a 128MiB budget: %s", m[1])
	a := run("", "export", "-data", filepath.Join(dir, "whole"))
	b := run("", "export", "-data", filepath.Join(dir, "small"))
	if a != b || len(a) == 0 {
		t.Errorf("the two imports export different graphs (%d and %d bytes)", len(a), len(b))
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "small"))
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("the import left %s in the data directory", e.Name())
		}
	}
	// A budget under the minimum is refused before anything is written.
	cmd := exec.Command(testenv.Binary(t), "import", "-data", filepath.Join(dir, "tiny"), "-import-memory", "1MiB")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "minimum") {
		t.Errorf("import -import-memory 1MiB = %v: %s", err, out)
	}
}
