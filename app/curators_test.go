package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"policygraph/api"
)

// TestCuratorsConfig: -token, POLICYGRAPH_TOKENS and the token file make one
// set, in that order; a bad entry stops the start with an error naming where
// it is; -private needs a token.
func TestCuratorsConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("carol write "+api.HashToken("carol-token")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("# ok\ncarol write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	inline := "alice write " + api.HashToken("alice-token") + ";bob admin " + api.HashToken("bob-token")
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		names   string
		wantErr string
	}{
		{"none", nil, nil, "", ""},
		{"-token", []string{"-token", "t0123456789abcdef"}, nil, "curator", ""},
		{"all three", []string{"-token", "t0123456789abcdef", "-tokens-file", file}, map[string]string{"POLICYGRAPH_TOKENS": inline}, "curator,alice,bob,carol", ""},
		{"file by env", nil, map[string]string{"POLICYGRAPH_TOKENS_FILE": file}, "carol", ""},
		{"private", []string{"-private", "-tokens-file", file}, nil, "carol", ""},
		{"private by env", nil, map[string]string{"POLICYGRAPH_PRIVATE": "true", "POLICYGRAPH_TOKENS": inline}, "alice,bob", ""},
		{"private with no token", []string{"-private"}, nil, "", "-private needs curators' tokens"},
		{"a bad file", []string{"-tokens-file", bad}, nil, "", bad + `:2: want NAME SCOPES HASH`},
		{"no file", []string{"-tokens-file", bad + ".missing"}, nil, "", "token file: open " + bad + ".missing"},
		{"a bad inline entry", nil, map[string]string{"POLICYGRAPH_TOKENS": "alice write " + api.HashToken("a") + "; bob"}, "", "POLICYGRAPH_TOKENS entry:2: want NAME SCOPES HASH"},
		{"carol twice", []string{"-tokens-file", file}, map[string]string{"POLICYGRAPH_TOKENS": "carol read " + api.HashToken("other")}, "", file + `: curator "carol" is given twice`},
		{"curator twice", []string{"-token", "t0123456789abcdef"}, map[string]string{"POLICYGRAPH_TOKENS": "curator read " + api.HashToken("other")}, "", `POLICYGRAPH_TOKENS: curator "curator" is given twice`},
		{"a malformed POLICYGRAPH_PRIVATE", nil, map[string]string{"POLICYGRAPH_PRIVATE": "yes please"}, "", "POLICYGRAPH_PRIVATE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "sha256:") {
					t.Errorf("the error holds a hash: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.curators.Names(), ","); got != tt.names {
				t.Errorf("curators %q, want %q", got, tt.names)
			}
		})
	}
}
