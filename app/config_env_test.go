package app

import (
	"bufio"
	"context"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMalformedSettingsStopTheStart sets each environment variable of every
// flag, in turn, to a value its flag's type cannot hold: the start must fail
// with a message naming the variable (POLICYGRAPH_SYNC=flase used to start a
// server that syncs, POLICYGRAPH_TIMEOUT=5 one with the default timeout). A
// well-formed value must reach the flag. The flags are found on the flag set,
// so a flag added later is covered too; each must name its variable.
func TestMalformedSettingsStopTheStart(t *testing.T) {
	var c Config
	fs, _, _, _ := configFlags(&c, &envDefaults{getenv: func(string) string { return "" }}, io.Discard)
	envName := regexp.MustCompile(`\(env (POLICYGRAPH_[A-Z0-9_]+)\)`)
	// For each kind of flag: a malformed value and a well-formed one, as the
	// flag prints it once set.
	cases := map[string]struct{ bad, good, printed string }{
		"bool":     {"flase", "false", "false"},
		"int":      {"12x", "7", "7"},
		"int64":    {"1e6", "7", "7"},
		"duration": {"5", "7s", "7s"}, // a number without a unit
		"size":     {"12 apples", "7MiB", "7MiB"},
		"level":    {"loud", "warn", "warn"},
	}
	checked := 0
	fs.VisitAll(func(f *flag.Flag) {
		m := envName.FindStringSubmatch(f.Usage)
		if m == nil {
			t.Errorf("flag -%s names no environment variable in its usage", f.Name)
			return
		}
		name := m[1]
		var kind string
		switch f.Value.(flag.Getter).Get().(type) {
		case string:
			return // any string is a value; nothing to refuse
		case bool:
			kind = "bool"
		case int:
			kind = "int"
		case int64:
			kind = "int64"
		case time.Duration:
			kind = "duration"
		case byteSize:
			kind = "size"
		case logLevel:
			kind = "level"
		default:
			t.Errorf("flag -%s: a type this test does not know: %T", f.Name, f.Value.(flag.Getter).Get())
			return
		}
		tc := cases[kind]
		checked++
		t.Run(name, func(t *testing.T) {
			env := func(v string) func(string) string {
				return func(k string) string {
					if k == name {
						return v
					}
					return ""
				}
			}
			_, err := ParseConfig(nil, env(tc.bad), io.Discard)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%q: err %v, want an error naming %s", name, tc.bad, err, name)
			}
			// Also when the flag overrides the variable: the setting is still wrong.
			if _, err := ParseConfig([]string{"-" + f.Name + "=" + tc.good}, env(tc.bad), io.Discard); err == nil {
				t.Errorf("%s=%q with -%s: no error", name, tc.bad, f.Name)
			}
			var c Config
			e := &envDefaults{getenv: env(tc.good)}
			fs, _, _, _ := configFlags(&c, e, io.Discard)
			if err := e.err(); err != nil {
				t.Fatalf("%s=%q: %v", name, tc.good, err)
			}
			if got := fs.Lookup(f.Name).Value.String(); got != tc.printed {
				t.Errorf("%s=%q: -%s is %s", name, tc.good, f.Name, got)
			}
			// A malformed flag stops the start too, naming the flag.
			if _, err := ParseConfig([]string{"-" + f.Name + "=" + tc.bad}, env(""), io.Discard); err == nil || !strings.Contains(err.Error(), "-"+f.Name) {
				t.Errorf("-%s=%s: err %v", f.Name, tc.bad, err)
			}
		})
	})
	if checked < 15 {
		t.Fatalf("only %d typed flags found", checked)
	}
	// The case: both at once, both named.
	env := map[string]string{"POLICYGRAPH_SYNC": "flase", "POLICYGRAPH_TIMEOUT": "5"}
	_, err := ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "POLICYGRAPH_SYNC") || !strings.Contains(err.Error(), "POLICYGRAPH_TIMEOUT") {
		t.Fatalf("err %v", err)
	}
}

// TestLogLevel: -log-level warn keeps warnings (here, of a short token) and
// drops the info lines (the store opened, listening, shutting down).
func TestLogLevel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-token", "short", "-log-level", "warn"}, func(string) string { return "" }, nil, logs, io.Discard)
		logs.Close()
	}()
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "the write token is short") {
			cancel() // serve goes on to open, listen, and then stop
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 || !strings.Contains(lines[0], `"level":"WARN"`) {
		t.Fatalf("no warning logged: %q", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, `"level":"INFO"`) {
			t.Errorf("an info line at -log-level warn: %s", l)
		}
	}
}
