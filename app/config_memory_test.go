package app

import (
	"bufio"
	"context"
	"io"
	"math"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestMemoryBudgetFlags(t *testing.T) {
	parse := func(args []string, env map[string]string) (Config, error) {
		return ParseConfig(args, func(k string) string { return env[k] }, io.Discard)
	}
	t.Run("defaults derive from the budget", func(t *testing.T) {
		c, err := parse(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := c.memory
		if m.budget != 1<<30 || m.responseCache != 64<<20 || m.queryCache != 16<<20 || m.apqCache != 4<<20 ||
			m.refusalCache != 4<<20 || m.blockCache != 128<<20 || m.recordCache != 64<<20 || m.maxConns != 1024 {
			t.Errorf("memory %+v", m)
		}
		if c.limits.MaxInFlight != 20 || c.limits.MaxInFlightPerClient != 5 || c.limits.MaxResponseBytes != 8<<20 || c.limits.QueueWait != time.Second {
			t.Errorf("limits %+v", c.limits)
		}
		var total int64
		for _, p := range budgetParts(c.memory, c.limits, c.maxBody) {
			total += p.bytes
		}
		if total > c.memory.budget {
			t.Errorf("the default parts add up to %d, over the budget %d", total, c.memory.budget)
		}
	})
	t.Run("a smaller budget scales every part", func(t *testing.T) {
		c, err := parse([]string{"-memory-budget", "512MiB"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.memory.responseCache != 32<<20 || c.limits.MaxInFlight >= 20 || c.limits.MaxInFlight < 1 {
			t.Errorf("memory %+v, in flight %d", c.memory, c.limits.MaxInFlight)
		}
	})
	t.Run("env fallbacks", func(t *testing.T) {
		c, err := parse([]string{"-cache-bytes", "1MiB"}, map[string]string{"POLICYGRAPH_CACHE_BYTES": "2MiB",
			"POLICYGRAPH_QUERY_CACHE_BYTES": "3MiB", "POLICYGRAPH_MAX_IN_FLIGHT": "7", "POLICYGRAPH_MAX_RESPONSE_BYTES": "1048576",
			"POLICYGRAPH_QUEUE_WAIT": "250ms"})
		if err != nil {
			t.Fatal(err)
		}
		if c.memory.responseCache != 1<<20 || c.memory.queryCache != 3<<20 || c.limits.MaxInFlight != 7 ||
			c.limits.MaxInFlightPerClient != 1 || c.limits.MaxResponseBytes != 1<<20 || c.limits.QueueWait != 250*time.Millisecond {
			t.Errorf("memory %+v, limits %+v", c.memory, c.limits)
		}
	})
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bounds over the budget", []string{"-memory-budget", "256MiB", "-cache-bytes", "512MiB", "-max-in-flight", "4"}, nil, "more than -memory-budget"},
		{"no room for a request", []string{"-memory-budget", "300MiB"}, nil, "no room for a request"},
		{"malformed env", nil, map[string]string{"POLICYGRAPH_MEMORY_BUDGET": "lots"}, "POLICYGRAPH_MEMORY_BUDGET"},
		{"malformed flag", []string{"-cache-bytes", "12XB"}, nil, "not a byte count"},
		{"malformed in-flight env", nil, map[string]string{"POLICYGRAPH_MAX_IN_FLIGHT": "many"}, "POLICYGRAPH_MAX_IN_FLIGHT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// flagPages are the pages whose tables document serve's flags: the
// configuration, and the limits (request limits, memory, connections).
var flagPages = []string{"../docs/configuration.md", "../docs/limits.md"}

// TestEveryFlagIsDocumented: every flag of serve names its environment
// variable in its usage and appears in docs/configuration.md or
// docs/limits.md, as `-name`.
func TestEveryFlagIsDocumented(t *testing.T) {
	var docs strings.Builder
	for _, p := range flagPages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
	}
	var usage strings.Builder
	if _, err := ParseConfig([]string{"-h"}, func(string) string { return "" }, &usage); err == nil {
		t.Fatal("-h did not stop the parse")
	}
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(usage.String(), -1)
	if len(flags) < 20 {
		t.Fatalf("found %d flags in the usage:\n%s", len(flags), usage.String())
	}
	for _, f := range flags {
		env := "POLICYGRAPH_" + strings.ToUpper(strings.ReplaceAll(f[1], "-", "_"))
		if !strings.Contains(docs.String(), "`-"+f[1]+"`") {
			t.Errorf("neither of %q documents -%s", flagPages, f[1])
		}
		if !strings.Contains(usage.String(), env) {
			t.Errorf("-%s: its usage does not name its environment variable %s", f[1], env)
		}
	}
}

// TestMemoryLimitFollowsTheBudget: serve sets Go's memory limit to
// -memory-budget, unless GOMEMLIMIT is set, which it then leaves alone.
func TestMemoryLimitFollowsTheBudget(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	serveWith := func(env map[string]string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		out, logs := io.Pipe()
		errc := make(chan error, 1)
		args = append([]string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...)
		go func() {
			errc <- Run(ctx, args, func(k string) string { return env[k] }, nil, logs, io.Discard)
			logs.Close()
		}()
		// serve sets the limit before it listens: wait for its "listening" line.
		lines := bufio.NewScanner(out)
		for lines.Scan() && !strings.Contains(lines.Text(), `"msg":"listening"`) {
		}
		go io.Copy(io.Discard, out)
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	debug.SetMemoryLimit(math.MaxInt64)
	serveWith(nil, "-memory-budget", "768MiB")
	if got := debug.SetMemoryLimit(-1); got != 768<<20 {
		t.Errorf("memory limit %d after serve -memory-budget 768MiB, want %d", got, 768<<20)
	}
	debug.SetMemoryLimit(3 << 30) // as GOMEMLIMIT=3GiB would have set it at start
	serveWith(map[string]string{"GOMEMLIMIT": "3GiB"}, "-memory-budget", "768MiB")
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("memory limit %d with GOMEMLIMIT set, want it left at %d", got, int64(3<<30))
	}
}
