package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The cold-start benchmark (issue 11): for each store directory, the serve
// child's time from exec to the headline's first answer, with the read
// model built from the store and read from its file (DATA/model), each with
// -verify=false and -verify=true; its CPU time to then, its RSS then and its
// peak RSS; and the file's size. It changes the directories (their model
// files): give copies.
//
//	go build -o /tmp/b ./cmd/bench && /tmp/b -cold-start /tmp/s/data-1000,/tmp/s/data-1000000

// coldRun is one start of the serve child.
type coldRun struct {
	cold, cpu      time.Duration
	rssMiB, hwmMiB int
}

func runColdStart(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	out := stdout
	fmt.Fprintf(out, "# policygraph bench -cold-start\n\n")
	fmt.Fprintf(out, "- per store: `serve -cache-size 0 %s` in a child process, four starts in this order: model built from the store (DATA/model removed first), then read from the file the first start wrote, each with -verify=false, then the same with -verify=true (the file first)\n", o.ServeFlags)
	fmt.Fprintf(out, "- cold: exec to the headline's first answer; CPU: the child's user+system time then; RSS: its VmRSS then; peak: its VmHWM then\n\n")
	fmt.Fprintf(out, "| store | model from | verify | cold ms | CPU ms | RSS MiB | peak RSS MiB |\n|---|---|---|--:|--:|--:|--:|\n")
	for dir := range strings.SplitSeq(o.ColdStart, ",") {
		runs := []struct {
			fromFile bool
			verify   bool
		}{{false, false}, {true, false}, {true, true}, {false, true}}
		for _, r := range runs {
			if !r.fromFile {
				if err := os.RemoveAll(filepath.Join(dir, "model")); err != nil {
					return err
				}
			}
			flags := append(strings.Fields(o.ServeFlags), "-verify="+strconv.FormatBool(r.verify))
			c, err := serveChild(ctx, exe, dir, flags, stderr)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			run := coldRun{cold: c.Cold, cpu: procCPU(c.PID), rssMiB: procStatus(c.PID, "VmRSS") / 1024, hwmMiB: procStatus(c.PID, "VmHWM") / 1024}
			c.Stop() // writes the model's file (at shutdown)
			from := "store"
			if r.fromFile {
				from = "file"
			}
			fmt.Fprintf(out, "| %s | %s | %v | %d | %d | %d | %d |\n", filepath.Base(dir), from, r.verify, run.cold.Milliseconds(), run.cpu.Milliseconds(), run.rssMiB, run.hwmMiB)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "model", "*.pgm"))
		var size int64
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				size = max(size, fi.Size())
			}
		}
		fmt.Fprintf(stderr, "%s: model file %d bytes (%.1f MiB); store %d MiB\n", dir, size, float64(size)/(1<<20), (dirSize(dir)-size*int64(len(files)))>>20)
	}
	return nil
}

// procCPU is a process's user and system time (/proc/<pid>/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(u+st) * time.Second / 100 // USER_HZ
}
