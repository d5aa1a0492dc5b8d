package app

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"policygraph/storage"
	"policygraph/storage/badger"
)

func TestVerifyFlagAndEnv(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string
		want bool
	}{{nil, "", true}, {nil, "false", false}, {[]string{"-verify=false"}, "", false}, {[]string{"-verify=true"}, "false", true}} {
		cfg, err := ParseConfig(tt.args, func(k string) string {
			if k == "POLICYGRAPH_VERIFY" {
				return tt.env
			}
			return ""
		}, io.Discard)
		if err != nil || cfg.verify != tt.want {
			t.Errorf("args %q, POLICYGRAPH_VERIFY=%q: verify %v (%v), want %v", tt.args, tt.env, cfg.verify, err, tt.want)
		}
	}
}

// TestSyncFlagReachesBadger: -sync (default on) and POLICYGRAPH_SYNC decide
// Badger's SyncWrites for the store the server opens.
func TestSyncFlagReachesBadger(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{"default", nil, nil, true},
		{"flag off", []string{"-sync=false"}, nil, false},
		{"env off", nil, map[string]string{"POLICYGRAPH_SYNC": "false"}, false},
		{"flag on beats env off", []string{"-sync=true"}, map[string]string{"POLICYGRAPH_SYNC": "false"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			cfg.data, cfg.seed = t.TempDir(), false
			g, err := Open(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			b, ok := g.KV().(*storage.CountingKV).KV.(*badger.KV)
			if !ok {
				t.Fatalf("the store is a %T, not Badger", g.KV())
			}
			if got := b.DB.Opts().SyncWrites; got != tt.want {
				t.Errorf("Badger SyncWrites = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLimitFlagsAndEnv(t *testing.T) {
	env := map[string]string{"POLICYGRAPH_MAX_DEPTH": "7", "POLICYGRAPH_TIMEOUT": "2s", "POLICYGRAPH_READ_HEADER_TIMEOUT": "1s"}
	cfg, err := ParseConfig([]string{"-max-complexity", "99", "-max-body", "1000", "-timeout", "3s"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.limits.MaxDepth != 7 || cfg.limits.MaxComplexity != 99 || cfg.maxBody != 1000 ||
		cfg.limits.Timeout != 3*time.Second || cfg.server.readHeaderTimeout != time.Second || cfg.limits.MaxAliases != 30 {
		t.Errorf("limits %+v, server %+v", cfg.limits, cfg.server)
	}
}

// TestOTLPEndpoint: -otlp-endpoint takes a collector's base URL, to which
// the traces path is added, or the traces URL itself; anything else stops
// the start.
func TestOTLPEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":           "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":          "http://127.0.0.1:4318/v1/traces",
		"https://otel.example/collector":  "https://otel.example/collector/v1/traces",
		"http://127.0.0.1:4318/v1/traces": "http://127.0.0.1:4318/v1/traces",
		"127.0.0.1:4318":                  "",
		"ftp://otel.example":              "",
		"http://":                         "",
	} {
		got, err := otlpTracesURL(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
		_, err = ParseConfig([]string{"-otlp-endpoint", in}, func(string) string { return "" }, io.Discard)
		if (err != nil) != (want == "") {
			t.Errorf("-otlp-endpoint %q: err %v", in, err)
		}
	}
}
