package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchScaleKeepCreatesDir runs `bench -scale -keep DIR` through the
// binary with a DIR that does not exist yet: the bench creates it and keeps
// the generated export and store there.
func TestBenchScaleKeepCreatesDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and serves a generated graph")
	}
	keep := filepath.Join(t.TempDir(), "not", "yet")
	out, err := exec.Command(buildBinary(t), "bench", "-scale", "-sizes", "1000", "-scale-d", "50ms", "-keep", keep).CombinedOutput()
	if err != nil {
		t.Fatalf("bench -scale -keep %s: %v\n%s", keep, err, out)
	}
	if !strings.Contains(string(out), "| 1") {
		t.Errorf("no result row:\n%s", out)
	}
	for _, name := range []string{"synth-1000.jsonl", "data-1000"} {
		if _, err := os.Stat(filepath.Join(keep, name)); err != nil {
			t.Errorf("-keep %s: %v", keep, err)
		}
	}
}
