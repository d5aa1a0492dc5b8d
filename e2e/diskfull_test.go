package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// mountTmpfs mounts a tmpfs of the size at a new directory, unmounted when the
// test ends. It skips (fails under POLICYGRAPH_REQUIRE_TOOLS=1, as CI sets)
// where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs (%v; it needs root or CAP_SYS_ADMIN): the full-disk test does not run", err)
		if os.Getenv("POLICYGRAPH_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// freeSpace is what statfs says unprivileged users may still write on dir's disk.
func freeSpace(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// ballast fills dir's disk with files until it has about leave bytes free
// (leave 0: until the disk is full) and returns a func that removes them.
func ballast(t *testing.T, dir string, leave int64) func() {
	t.Helper()
	f, err := os.CreateTemp(dir, "ballast-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i) // tmpfs keeps zeros as they are; no matter, but no holes either
	}
	for {
		n := freeSpace(t, dir) - leave
		if n <= 0 {
			break
		}
		if _, err := f.Write(chunk[:min(n, int64(len(chunk)))]); err != nil {
			if errors.Is(err, syscall.ENOSPC) && leave == 0 {
				break
			}
			t.Fatalf("ballast: %v", err)
		}
	}
	name := f.Name()
	return func() {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
}

// graphQL posts a query asking for application/graphql-response+json and
// returns the status and the first error's code ("" for none).
func graphQL(t *testing.T, url, query string) (int, string, string) {
	t.Helper()
	c := &testenv.Client{URL: url, Accept: "application/graphql-response+json", HTTP: &http.Client{Timeout: 30 * time.Second}}
	r := c.Post(t, testenv.Token, query, nil)
	return r.Status, r.Code(), r.Raw
}

// TestFullDiskRefusesWritesAndServesReads runs the binary on a small tmpfs
// (larger than its memtable) with a watermark, fills the disk with ballast and
// checks that writes are refused with 507 DISK_FULL while reads go on, that
// the server survives a disk filled to the last byte, that writes resume once
// the ballast is gone, and that a restart under the watermark serves reads
// (read-only) instead of crashing. Without the watermark Badger writes its
// memory-mapped log on a full disk and the kernel kills it with SIGBUS.
func TestFullDiskRefusesWritesAndServesReads(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	data := filepath.Join(disk, "data")
	args := []string{"-memtable-size", "4MiB", "-min-free-disk", "24MiB"}
	n := 0
	write := func(p *testenv.Process) (int, string, string) {
		n++
		return graphQL(t, p.URL, fmt.Sprintf(`mutation { createEntity(input: {kind: ORGANIZATION, name: "Firm %d"}) { id } }`, n))
	}
	wantWrite := func(p *testenv.Process, status int, code string) {
		t.Helper()
		if s, c, raw := write(p); s != status || c != code {
			t.Fatalf("write %d with %s free: status %d code %q, want %d %q: %s", n, fmtBytes(freeSpace(t, disk)), s, c, status, code, raw)
		}
	}
	wantRead := func(p *testenv.Process) {
		t.Helper()
		if s, c, raw := graphQL(t, p.URL, `{ entity(slug: "firm-1") { name } }`); s != http.StatusOK || c != "" || !strings.Contains(raw, "Firm 1") {
			t.Fatalf("read with %s free: status %d code %q: %s", fmtBytes(freeSpace(t, disk)), s, c, raw)
		}
	}
	alive := func(p *testenv.Process) {
		t.Helper()
		select {
		case err := <-p.Done:
			t.Fatalf("the server died: %v\n%s", err, p.Stdout.String())
		default:
		}
	}

	p := testenv.StartBinary(t, data, args...)
	for range 3 {
		wantWrite(p, http.StatusOK, "")
	}
	wantRead(p)

	// Under the watermark: writes refused, reads answered.
	removeSome := ballast(t, disk, 12<<20)
	for range 5 {
		wantWrite(p, http.StatusInsufficientStorage, "DISK_FULL")
		wantRead(p)
	}
	// The disk full to the last byte (another program filled it): still no crash.
	removeRest := ballast(t, disk, 0)
	for range 5 {
		wantWrite(p, http.StatusInsufficientStorage, "DISK_FULL")
		wantRead(p)
	}
	alive(p)
	// Space back: writes resume.
	removeRest()
	removeSome()
	wantWrite(p, http.StatusOK, "")
	acked := n

	// A restart under the watermark opens the store read-only: reads, no crash.
	removeSome = ballast(t, disk, 12<<20)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.Done; err != nil {
		t.Fatalf("shutdown: %v\n%s", err, p.Stdout.String())
	}
	p = testenv.StartBinary(t, data, args...)
	if !strings.Contains(p.Stdout.String(), "read-only") {
		t.Errorf("the server did not log that it opened the store read-only:\n%s", p.Stdout.String())
	}
	wantRead(p)
	wantWrite(p, http.StatusInsufficientStorage, "DISK_FULL")
	if s, _, raw := graphQL(t, p.URL, fmt.Sprintf(`{ entity(slug: "firm-%d") { name } }`, acked)); s != http.StatusOK || !strings.Contains(raw, fmt.Sprintf("Firm %d", acked)) {
		t.Errorf("the last acknowledged write is missing after the restart: %s", raw)
	}
	alive(p)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.Done; err != nil {
		t.Fatalf("shutdown: %v\n%s", err, p.Stdout.String())
	}

	// Space back and a restart: writes again, and the store is sound.
	removeSome()
	p = testenv.StartBinary(t, data, args...)
	wantWrite(p, http.StatusOK, "")
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.Done; err != nil {
		t.Fatalf("shutdown: %v\n%s", err, p.Stdout.String())
	}
	if out, err := exec.Command(testenv.Binary(t), "check", "-data", data).CombinedOutput(); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
}

func fmtBytes(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }
