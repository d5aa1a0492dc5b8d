package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// TestRestartReadsTheModelFile runs the real binary three times on one
// directory: the first run writes the read model's file at its shutdown;
// the second starts from it (no build from the store), takes a write and is
// killed with SIGKILL before it writes another file; the third starts from
// the first run's file, replays the write the log holds after it, and
// answers it. Each time check -model finds the directory sound, and a file
// damaged on disk is not trusted.
func TestRestartReadsTheModelFile(t *testing.T) {
	dir := t.TempDir()
	create := func(p *testenv.Process, name string) {
		t.Helper()
		p.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": name}})
	}
	has := func(p *testenv.Process, slug string) {
		t.Helper()
		got := p.Query(t, `query($s: String) { entity(slug: $s) { slug } }`, map[string]any{"s": slug})
		if testenv.Value(got, "entity.slug") != slug {
			t.Fatalf("entity %q after the restart: %v\n%s", slug, got, p.Stdout)
		}
	}
	wait := func(p *testenv.Process, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(p.Stdout.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", want, p.Stdout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	p := testenv.StartBinary(t, dir)
	create(p, "Before The File")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if logs := p.Stdout.String(); !strings.Contains(logs, `"why":"shutdown"`) {
		t.Fatalf("no model file written at shutdown:\n%s", logs)
	}
	checkDir(t, dir)

	p = testenv.StartBinary(t, dir)
	wait(p, "read model loaded from its file")
	if logs := p.Stdout.String(); !strings.Contains(logs, `"replayed":0`) {
		t.Fatalf("the restart after a clean shutdown replayed changes:\n%s", logs)
	}
	has(p, "before-the-file")
	create(p, "After The File")
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done
	checkDir(t, dir)

	p = testenv.StartBinary(t, dir)
	wait(p, "read model loaded from its file")
	if logs := p.Stdout.String(); !strings.Contains(logs, `"replayed":1`) {
		t.Fatalf("the restart after a kill did not replay the write after the file:\n%s", logs)
	}
	has(p, "before-the-file")
	has(p, "after-the-file")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if logs := p.Stdout.String(); !strings.Contains(logs, `"why":"shutdown"`) {
		t.Fatalf("a run that replayed changes wrote no model file at shutdown:\n%s", logs)
	}

	// Damage every model file: the next start builds from the store.
	files, _ := filepath.Glob(filepath.Join(dir, "model", "*.pgm"))
	if len(files) == 0 {
		t.Fatal("no model file")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 1
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p = testenv.StartBinary(t, dir)
	wait(p, "model file skipped")
	wait(p, `"why":"built from the store"`)
	has(p, "after-the-file")
	if strings.Contains(p.Stdout.String(), "read model loaded from its file") {
		t.Fatalf("a damaged file was used:\n%s", p.Stdout)
	}
}
