package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv, set to 1, makes a test binary run the bench (TestMain): the bench
// starts its load generator by running its own executable, which in a test is
// the test binary.
const childEnv = "POLICYGRAPH_BENCH_CHILD"

// apartReport is what the load-generator process reports: the closed-loop
// maximum it measured and the open loop at half of it.
type apartReport struct {
	Max, Open Result
}

// Placement says which CPUs the server and the load generator ran on.
type Placement struct {
	Server, Loadgen []int
}

func (p Placement) String() string {
	if p.Loadgen == nil {
		return "load generator in a child process, not pinned (a server at -url, or fewer than 2 CPUs available)"
	}
	return fmt.Sprintf("server (this process, every thread) pinned to CPU %v with GOMAXPROCS %d; load generator (a child process) pinned to CPU %v with GOMAXPROCS %d; sched_setaffinity on every thread in /proc/<pid>/task",
		p.Server, len(p.Server), p.Loadgen, len(p.Loadgen))
}

// openLoopApart measures s open-loop at half its maximum rate from a load
// generator in a separate process (this executable, -loadgen), kept off the
// server's CPUs: this process (the server) is pinned to all CPUs but the last
// one while the child runs, and the child pins itself to the last (unless
// pin is false: the server is elsewhere, -url). The child first measures the
// maximum (closed loop, conc clients, half of dur) under that placement, then
// the open loop at half of it for dur after warmup.
func openLoopApart(ctx context.Context, s Scenario, pin bool, conc int, warmup, dur time.Duration, stderr io.Writer) (apartReport, Placement, error) {
	var rep apartReport
	exe, err := os.Executable()
	if err != nil {
		return rep, Placement{}, err
	}
	dir, err := os.MkdirTemp("", "policygraph-loadgen-")
	if err != nil {
		return rep, Placement{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "scenario.json")
	b, err := json.Marshal(s)
	if err != nil {
		return rep, Placement{}, err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return rep, Placement{}, err
	}

	var place Placement
	loadgenCPU := -1
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return rep, place, fmt.Errorf("sched_getaffinity: %w", err)
	}
	cpus := cpuList(all)
	if pin && len(cpus) >= 2 {
		place.Server, place.Loadgen = cpus[:len(cpus)-1], cpus[len(cpus)-1:]
		loadgenCPU = place.Loadgen[0]
		var server unix.CPUSet
		for _, c := range place.Server {
			server.Set(c)
		}
		if err := pinProcess(server); err != nil {
			return rep, place, err
		}
		runtime.GOMAXPROCS(len(place.Server))
		defer func() {
			pinProcess(all)
			runtime.SetDefaultGOMAXPROCS()
		}()
	}

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "-loadgen", file, "-loadgen-cpu", strconv.Itoa(loadgenCPU),
		"-c", strconv.Itoa(conc), "-warmup", warmup.String(), "-d", dur.String())
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return rep, place, fmt.Errorf("load generator: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return rep, place, fmt.Errorf("load generator's report: %w: %.200s", err, out.Bytes())
	}
	return rep, place, nil
}

// runLoadgen is the load-generator process (-loadgen FILE): it pins itself to
// cpu (unless -1), measures the scenario in FILE closed-loop for its maximum,
// then open-loop at half of it, and writes both as JSON to out.
func runLoadgen(ctx context.Context, o Options, out io.Writer) error {
	b, err := os.ReadFile(o.Loadgen)
	if err != nil {
		return err
	}
	var s Scenario
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode the scenario: %w", err)
	}
	if o.LoadgenCPU >= 0 {
		var set unix.CPUSet
		set.Set(o.LoadgenCPU)
		if err := pinProcess(set); err != nil {
			return err
		}
		runtime.GOMAXPROCS(1)
	}
	client := newClient(clientConns)
	var rep apartReport
	rep.Max = ClosedLoop(ctx, client, s, o.Conc, o.Warmup, max(o.Duration/2, time.Second))
	if rep.Max.RPS == 0 {
		return fmt.Errorf("no request answered in the closed loop")
	}
	rep.Open = OpenLoop(ctx, client, s, rep.Max.RPS/2, o.Warmup, o.Duration)
	return json.NewEncoder(out).Encode(rep)
}

// pinProcess sets the CPU affinity of every thread of this process to set.
// (sched_setaffinity acts on one thread; threads the Go runtime starts later
// inherit the mask of the thread that starts them.)
func pinProcess(set unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list this process's threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("sched_setaffinity thread %d: %w", tid, err)
		}
	}
	return nil
}

// cpuList lists the CPUs in set.
func cpuList(set unix.CPUSet) []int {
	var out []int
	for c := 0; len(out) < set.Count(); c++ {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out
}
