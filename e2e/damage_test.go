package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// dirDigest fingerprints every file under dir: its path, size, and a hash of
// its data extents with their offsets (Badger preallocates its logs sparse:
// reading their holes would read gigabytes of zeros).
func dirDigest(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		h := sha256.New()
		for off := int64(0); off < fi.Size(); {
			start, err := f.Seek(off, 3) // SEEK_DATA
			if err != nil {
				break // ENXIO: holes to the end
			}
			end, err := f.Seek(start, 4) // SEEK_HOLE
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "@%d:", start)
			if _, err := io.Copy(h, io.NewSectionReader(f, start, end-start)); err != nil {
				return err
			}
			off = end
		}
		out[rel] = fmt.Sprintf("%s %d bytes %x", fi.Mode(), fi.Size(), h.Sum(nil)[:12])
		return nil
	})
	if err != nil {
		t.Fatalf("digest %s: %v", dir, err)
	}
	return out
}

// assertSameDigest fails the test when dir no longer matches before.
func assertSameDigest(t testing.TB, dir string, before map[string]string, after string) {
	t.Helper()
	now := dirDigest(t, dir)
	var diffs []string
	for name, d := range before {
		if now[name] != d {
			diffs = append(diffs, fmt.Sprintf("%s: %s -> %q", name, d, now[name]))
		}
	}
	for name, d := range now {
		if _, ok := before[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: new, %s", name, d))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Errorf("%s changed the data directory:\n%s", after, strings.Join(diffs, "\n"))
	}
}

// runBinary runs the binary with args and returns its combined output and
// exit error.
func runBinary(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Binary(t), args...)
	cmd.Env = append(os.Environ(), "POLICYGRAPH_ADDR=", "POLICYGRAPH_TOKEN=", "POLICYGRAPH_DATA=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// serveRefuses starts the server on dir and returns what it said when it
// exited without listening; a server that starts fails the test.
func serveRefuses(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, started := tryServe(t, dir, args...)
	if started {
		t.Errorf("serve %v started on %s:\n%s", args, dir, out)
	}
	return out
}

// tryServe runs serve on dir until it listens (then stops it: started) or
// exits (its output; an exit 0 is an error), and returns what it wrote.
func tryServe(t *testing.T, dir string, args ...string) (output string, started bool) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), append([]string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-token", testenv.Token}, args...)...)
	cmd.Env = append(os.Environ(), "POLICYGRAPH_ADDR=", "POLICYGRAPH_TOKEN=")
	out := testenv.NewLineWriter()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("serve %v exited 0, want a refusal", args)
			}
			return out.String(), false
		case line := <-out.Lines:
			if strings.Contains(line, `"msg":"listening"`) {
				cmd.Process.Signal(syscall.SIGTERM)
				<-done
				return out.String(), true
			}
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("serve %v neither started nor exited", args)
		}
	}
}

// storeWithWrites makes a store with the binary: seeded, n entities written
// and acknowledged, then stopped with sig (SIGTERM: a clean close, the data
// in tables; SIGKILL: the data still in the memtable log). It returns the
// directory and the written entities' IDs.
func storeWithWrites(t *testing.T, n int, sig syscall.Signal) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	p := testenv.StartBinary(t, dir)
	var ids []string
	for i := range n {
		r := testenv.At(p.URL).Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": fmt.Sprintf("Damage Test Org %d", i)}})
		var e struct{ ID string }
		if err := r.Decode("createEntity", &e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	<-p.Done
	return dir, ids
}

// largest returns the largest file under dir whose name ends with ext.
func largest(t *testing.T, dir, ext string) string {
	t.Helper()
	var best string
	var size int64 = -1
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ext) && fi.Size() > size {
			best, size = filepath.Join(dir, e.Name()), fi.Size()
		}
	}
	if best == "" {
		t.Fatalf("no %s file in %s", ext, dir)
	}
	return best
}

// writtenEnd is where the data of a preallocated (sparse) log ends.
func writtenEnd(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var end int64
	for off := int64(0); off < fi.Size(); {
		start, err := f.Seek(off, 3) // SEEK_DATA
		if err != nil {
			break
		}
		stop, err := f.Seek(start, 4) // SEEK_HOLE
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, stop-start)
		if _, err := f.ReadAt(b, start); err != nil {
			t.Fatal(err)
		}
		if n := len(strings.TrimRight(string(b), "\x00")); n > 0 {
			end = start + int64(n)
		}
		off = stop
	}
	return end
}

// flipBytes inverts n bytes of the file at off.
func flipBytes(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xff
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// noPanic fails the test if out shows a Go panic.
func noPanic(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("%s panicked:\n%s", what, out[:min(len(out), 3000)])
	}
}

// A data directory whose MANIFEST is gone still holds the store's tables:
// no command may start a new store over them (Badger would delete them).
func TestNoCommandStartsAStoreOverADirectoryWithoutManifest(t *testing.T) {
	dir, _ := storeWithWrites(t, 20, syscall.SIGTERM)
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	before := dirDigest(t, dir)
	for _, args := range [][]string{{"-seed=true"}, {"-seed=false"}} {
		out := serveRefuses(t, dir, args...)
		if !strings.Contains(out, dir) || !strings.Contains(out, "no MANIFEST") {
			t.Errorf("serve %v: %s", args, out)
		}
		assertSameDigest(t, dir, before, fmt.Sprintf("serve %v", args))
	}
	for _, args := range [][]string{
		{"seed", "-data", dir},
		{"import", "-data", dir},
		{"export", "-data", dir},
		{"check", "-data", dir},
		{"backup", "-data", dir, "-out", filepath.Join(t.TempDir(), "b")},
	} {
		out, err := runBinary(t, args...)
		if err == nil || !strings.Contains(out, dir) {
			t.Errorf("%s: %v: %s", args[0], err, out)
		}
		assertSameDigest(t, dir, before, args[0])
	}
	// An empty directory, or one the file system keeps its own in, is fine.
	empty := t.TempDir()
	os.Mkdir(filepath.Join(empty, "lost+found"), 0o700)
	p := testenv.StartBinary(t, empty)
	testenv.At(p.URL).Must(t, "", `{ stats { entities } }`, nil)
}

// A damaged or cut table: serve refuses, check lists it (exit 1), backup
// fails; none panics, and none changes a byte of the directory.
func TestDamagedTablesAreRefusedNotServed(t *testing.T) {
	for _, damage := range []string{"flipped", "cut"} {
		t.Run(damage, func(t *testing.T) {
			dir, _ := storeWithWrites(t, 30, syscall.SIGTERM)
			sst := largest(t, dir, ".sst")
			fi, _ := os.Stat(sst)
			if damage == "flipped" {
				flipBytes(t, sst, fi.Size()/3, 400)
			} else if err := os.Truncate(sst, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			before := dirDigest(t, dir)
			name := filepath.Base(sst)
			out := serveRefuses(t, dir)
			noPanic(t, "serve", out)
			if !strings.Contains(out, name) || !strings.Contains(out, "damaged") {
				t.Errorf("serve on a %s table: %s", damage, out)
			}
			assertSameDigest(t, dir, before, "serve")

			out, err := runBinary(t, "check", "-data", dir)
			noPanic(t, "check", out)
			if err == nil || !strings.Contains(out, name+":") {
				t.Errorf("check on a %s table: %v\n%s", damage, err, out)
			}
			assertSameDigest(t, dir, before, "check")

			backup := filepath.Join(t.TempDir(), "backup")
			out, err = runBinary(t, "backup", "-data", dir, "-out", backup)
			noPanic(t, "backup", out)
			if _, statErr := os.Stat(backup); err == nil || statErr == nil || !strings.Contains(out, name) {
				t.Errorf("backup of a %s table: %v\n%s", damage, err, out)
			}
			assertSameDigest(t, dir, before, "backup")
		})
	}
	// Without -verify a cut table is still an error (its index does not
	// read), not a panic.
	dir, _ := storeWithWrites(t, 5, syscall.SIGTERM)
	sst := largest(t, dir, ".sst")
	fi, _ := os.Stat(sst)
	os.Truncate(sst, fi.Size()-100)
	out := serveRefuses(t, dir, "-verify=false")
	noPanic(t, "serve -verify=false", out)
	if !strings.Contains(out, filepath.Base(sst)) {
		t.Errorf("serve -verify=false on a cut table: %s", out)
	}
}

// Flipped bytes in the middle of a log after acknowledged writes: Badger
// would replay up to them and drop every write after, silently. serve
// refuses; check reports the log (exit 1); neither changes the directory.
// With -verify=false the server starts, without those writes (the escape
// hatch when the loss is accepted).
func TestDamagedLogIsRefusedNotTruncated(t *testing.T) {
	t.Run("memtable log", func(t *testing.T) {
		dir, ids := storeWithWrites(t, 60, syscall.SIGKILL)
		mem := largest(t, dir, ".mem")
		flipBytes(t, mem, writtenEnd(t, mem)/2, 16)
		before := dirDigest(t, dir)
		out := serveRefuses(t, dir)
		if !strings.Contains(out, filepath.Base(mem)) || !strings.Contains(out, "committed transactions") {
			t.Errorf("serve on a damaged log: %s", out)
		}
		assertSameDigest(t, dir, before, "serve")
		out, err := runBinary(t, "check", "-data", dir)
		noPanic(t, "check", out)
		if err == nil || !strings.Contains(out, filepath.Base(mem)+": damaged log") {
			t.Errorf("check on a damaged log: %v\n%s", err, out)
		}
		assertSameDigest(t, dir, before, "check")

		// Without the check, what happens is Badger's: it replays up to the
		// damage and drops what follows, or, when the flipped bytes fall in
		// an entry's header (where they fall depends on the records'
		// random IDs), it refuses the log itself. Either way no panic, and
		// no server that reports every write.
		if out, started := tryServe(t, dir, "-verify=false", "-seed=false"); !started {
			noPanic(t, "serve -verify=false", out)
			if !strings.Contains(out, filepath.Base(mem)) {
				t.Errorf("serve -verify=false refused the damaged log without naming it: %s", out)
			}
			t.Logf("-verify=false: Badger refused the damaged log itself: the damage hit an entry's header")
			return
		}
		p := testenv.StartBinary(t, dir, "-verify=false", "-seed=false")
		r := testenv.At(p.URL).Must(t, "", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
		var found []*struct{ ID string }
		r.Decode("nodes", &found)
		present := 0
		for _, n := range found {
			if n != nil {
				present++
			}
		}
		if present == len(ids) {
			t.Errorf("with -verify=false all %d writes survived a damaged log: the damage did not test what it should", len(ids))
		}
		t.Logf("-verify=false: %d of %d acknowledged writes survive the damaged log", present, len(ids))
	})
	t.Run("value log", func(t *testing.T) {
		// Values of 1 MiB and more live in the value log: two long sources.
		dir := filepath.Join(t.TempDir(), "data")
		p := testenv.StartBinary(t, dir, "-max-body", "8000000")
		for i := range 2 {
			text := strings.Repeat(fmt.Sprintf("Source %d, a long text. ", i), 60000)
			p.Must(t, testenv.Token, `mutation($in: AddSourceInput!) { addSource(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"title": fmt.Sprintf("Long %d", i), "language": "en", "text": text}})
		}
		p.Cmd.Process.Signal(syscall.SIGKILL)
		<-p.Done
		vlog := largest(t, dir, ".vlog")
		if end := writtenEnd(t, vlog); end < 2<<20 {
			t.Fatalf("the value log holds %d bytes, want both sources", end)
		}
		flipBytes(t, vlog, 1<<19, 16) // inside the first source's text
		before := dirDigest(t, dir)
		out := serveRefuses(t, dir)
		if !strings.Contains(out, filepath.Base(vlog)) {
			t.Errorf("serve on a damaged value log: %s", out)
		}
		out, err := runBinary(t, "check", "-data", dir)
		noPanic(t, "check", out)
		if err == nil || !strings.Contains(out, filepath.Base(vlog)+": damaged log") {
			t.Errorf("check on a damaged value log: %v\n%s", err, out)
		}
		assertSameDigest(t, dir, before, "serve and check")
	})
}

// check changes nothing in the directory it checks: after a clean stop, and
// right after a kill -9 under writes, when the log has a torn tail and Badger
// would truncate it on open.
func TestCheckChangesNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			p := testenv.StartBinary(t, dir)
			w := newWriter()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			for c := range 4 {
				go func() { w.stream(ctx, p.URL, fmt.Sprintf("c%d", c)); done <- struct{}{} }()
			}
			time.Sleep(300 * time.Millisecond)
			p.Cmd.Process.Signal(sig)
			<-p.Done
			cancel()
			for range 4 {
				<-done
			}
			before := dirDigest(t, dir)
			out, err := runBinary(t, "check", "-data", dir)
			if err != nil {
				t.Fatalf("check: %v\n%s", err, out)
			}
			assertSameDigest(t, dir, before, "check")
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".data.check-*")); len(leftovers) > 0 {
				t.Errorf("check left its copy behind: %q", leftovers)
			}
		})
	}
}

// check refuses a directory a server holds, rather than checking files that
// are being written.
func TestCheckRefusesARunningServersStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	testenv.StartBinary(t, dir)
	out, err := runBinary(t, "check", "-data", dir)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, "in use") {
		t.Errorf("check of a running server's store: %v\n%s", err, out)
	}
}
