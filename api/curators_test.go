package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"policygraph/api"
	"policygraph/internal/testenv"
)

// TestParseCurators: a token file's lines, and the errors of a bad one, each
// naming the file and line and never the hash (a token pasted in its place
// must not reach the log).
func TestParseCurators(t *testing.T) {
	alice, bob := api.HashToken("alice-token"), api.HashToken("bob-token")
	set, err := api.ParseCurators(strings.NewReader("# curators\n\nalice write "+alice+"\n  bob   read,admin,read   "+bob+"  \n"), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Names(), ","); got != "alice,bob" {
		t.Errorf("names %s", got)
	}
	for _, tt := range []struct {
		token string
		name  string
		can   []api.Scope
		not   []api.Scope
	}{
		{"alice-token", "alice", []api.Scope{api.ScopeRead, api.ScopeWrite}, []api.Scope{api.ScopeAdmin}},
		{"bob-token", "bob", []api.Scope{api.ScopeRead, api.ScopeAdmin}, []api.Scope{api.ScopeWrite}},
	} {
		c := set.Lookup(tt.token)
		if c == nil || c.Name != tt.name {
			t.Fatalf("Lookup(%s) = %+v", tt.token, c)
		}
		for _, s := range tt.can {
			if !c.Can(s) {
				t.Errorf("%s cannot %s", c.Name, s)
			}
		}
		for _, s := range tt.not {
			if c.Can(s) {
				t.Errorf("%s can %s", c.Name, s)
			}
		}
	}
	for _, tok := range []string{"", "alice", "alice-token ", "bob-token\n", alice} {
		if c := set.Lookup(tok); c != nil {
			t.Errorf("Lookup(%q) = %s", tok, c.Name)
		}
	}
	if got := strings.Join(func() (s []string) {
		for _, sc := range set.Lookup("bob-token").Scopes() {
			s = append(s, string(sc))
		}
		return s
	}(), ","); got != "read,admin" {
		t.Errorf("bob's scopes %s, want read,admin (the duplicate dropped)", got)
	}

	for _, tt := range []struct{ name, file, want string }{
		{"two fields", "alice write", "tokens:1: want NAME SCOPES HASH (3 fields), got 2 fields"},
		{"upper case name", "# c\nAlice write " + alice, `tokens:2: curator name "Alice"`},
		{"reserved name", "seed write " + alice, `tokens:1: curator name "seed" is reserved`},
		{"unknown scope", "alice write,root " + alice, `tokens:1: curator "alice": unknown scope "root"`},
		{"empty scope", "alice write, " + alice, `tokens:1: curator "alice": unknown scope ""`},
		{"the token for its hash", "alice write alice-token", `tokens:1: curator "alice": the token hash must be "sha256:" and 64 hex digits`},
		{"a short hash", "alice write " + alice[:40], `tokens:1: curator "alice": the token hash must be`},
		{"another algorithm", "alice write md5:" + strings.TrimPrefix(alice, api.HashPrefix), `tokens:1: curator "alice": the token hash must be`},
		{"a name twice", "alice write " + alice + "\nalice admin " + bob, `tokens:2: curator "alice" is given twice`},
		{"a token twice", "alice write " + alice + "\nbob admin " + alice, `tokens:2: curators "alice" and "bob" have the same token`},
	} {
		_, err := api.ParseCurators(strings.NewReader(tt.file), "tokens")
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %s…", tt.name, err, tt.want)
			continue
		}
		for _, secret := range []string{"alice-token", strings.TrimPrefix(alice, api.HashPrefix)[:16], strings.TrimPrefix(bob, api.HashPrefix)[:16]} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error holds a token or hash: %v", tt.name, err)
			}
		}
	}
}

// TestCuratorSets: -token's curator, the inline form of POLICYGRAPH_TOKENS,
// and a merge that refuses a name or token given twice.
func TestCuratorSets(t *testing.T) {
	single := api.SingleCurator("secret-token")
	c := single.Lookup("secret-token")
	if c == nil || c.Name != api.DefaultCurator || !c.Can(api.ScopeWrite) || !c.Can(api.ScopeAdmin) || !c.Can(api.ScopeRead) {
		t.Fatalf("-token's curator: %+v", c)
	}
	if api.SingleCurator("").Len() != 0 || api.SingleCurator("").CanAny(api.ScopeRead) {
		t.Error("no token makes a curator")
	}
	inline, err := api.ParseInlineCurators("alice write "+api.HashToken("a")+";bob read "+api.HashToken("b"), "POLICYGRAPH_TOKENS entry")
	if err != nil || strings.Join(inline.Names(), ",") != "alice,bob" {
		t.Fatalf("inline: %v %v", inline.Names(), err)
	}
	if _, err := api.ParseInlineCurators("alice write "+api.HashToken("a")+";bob read", "POLICYGRAPH_TOKENS entry"); err == nil ||
		!strings.HasPrefix(err.Error(), "POLICYGRAPH_TOKENS entry:2:") {
		t.Errorf("inline error: %v", err)
	}
	all, err := single.Merge(inline)
	if err != nil || strings.Join(all.Names(), ",") != "curator,alice,bob" || all.Lookup("b").Name != "bob" {
		t.Errorf("merge: %v %v", all.Names(), err)
	}
	if all.CanAny(api.ScopeAdmin) != true || inline.CanAny(api.ScopeAdmin) {
		t.Error("CanAny(admin)")
	}
	dup, _ := api.ParseInlineCurators("curator write "+api.HashToken("c"), "x")
	if _, err := single.Merge(dup); err == nil || !strings.Contains(err.Error(), `curator "curator" is given twice`) {
		t.Errorf("a second curator named curator: %v", err)
	}
	t1, err1 := api.NewToken()
	t2, err2 := api.NewToken()
	if err1 != nil || err2 != nil || t1 == t2 || !strings.HasPrefix(t1, api.TokenPrefix) || len(t1) != len(api.TokenPrefix)+43 {
		t.Errorf("NewToken: %q %q %v %v", t1, t2, err1, err2)
	}
}

// TestMutationScopes: the handler asks each mutation for its scope: admin
// for saveQuery and deleteSavedQuery however they are selected (through a
// fragment too, or beside a write), write for the others; a curator without
// it is FORBIDDEN and nothing is written; with no curator that has it, the
// write is disabled. SetCurators swaps the set whole.
func TestMutationScopes(t *testing.T) {
	g := seeded(t)
	set, err := api.ParseInlineCurators("alice write "+api.HashToken("alice-token")+";ada admin "+api.HashToken("ada-token"), "test")
	if err != nil {
		t.Fatal(err)
	}
	auth := api.NewAuth(api.AuthOptions{Curators: set, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	h := auth.Authenticate(api.NewHandler(g, api.Options{Auth: auth}))
	c := &testenv.Client{Handler: h, Accept: "application/graphql-response+json"}
	save := `saveQuery(input: {name: "q", query: "{ stats { facts } }"}) { name }`
	create := `createEntity(input: {kind: TOPIC, name: "Scoped"}) { createdBy }`
	for _, tt := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"alice saves", "alice-token", "mutation { " + save + " }", 403, "FORBIDDEN"},
		{"alice saves through a fragment", "alice-token", "mutation { ...M } fragment M on Mutation { " + save + " }", 403, "FORBIDDEN"},
		{"alice saves through an inline fragment", "alice-token", "mutation { ... on Mutation { " + save + " } }", 403, "FORBIDDEN"},
		{"alice writes and saves", "alice-token", "mutation { " + create + " " + save + " }", 403, "FORBIDDEN"},
		{"ada writes and saves", "ada-token", "mutation { " + create + " " + save + " }", 403, "FORBIDDEN"},
		{"anonymous saves", "", "mutation { " + save + " }", 401, "UNAUTHENTICATED"},
		{"ada saves", "ada-token", "mutation { " + save + " }", 200, ""},
		{"alice writes", "alice-token", "mutation { " + create + " }", 200, ""},
	} {
		before := g.Version()
		r := c.Post(t, tt.token, tt.query, nil)
		if r.Status != tt.status || r.Code() != tt.code {
			t.Errorf("%s: %d %s, want %d %s: %s", tt.name, r.Status, r.Code(), tt.status, tt.code, testenv.Clip(r.Raw))
		}
		if tt.code != "" && g.Version() != before {
			t.Errorf("%s: refused, yet written", tt.name)
		}
	}

	// No admin curator: saving is disabled; no curator at all: every write.
	writersOnly, _ := api.ParseInlineCurators("alice write "+api.HashToken("alice-token"), "test")
	auth.SetCurators(writersOnly)
	if r := c.Post(t, "", "mutation { "+save+" }", nil); r.Status != 403 || r.Code() != "WRITES_DISABLED" {
		t.Errorf("anonymous save with no admin: %d %s", r.Status, r.Code())
	}
	if r := c.Post(t, "ada-token", "mutation { "+create+" }", nil); r.Status != 401 || r.Code() != "UNAUTHENTICATED" {
		t.Errorf("ada's token after she was removed: %d %s", r.Status, r.Code())
	}
	auth.SetCurators(nil)
	if r := c.Post(t, "alice-token", "mutation { "+create+" }", nil); r.Status != 403 || r.Code() != "WRITES_DISABLED" {
		t.Errorf("a write with no curator: %d %s", r.Status, r.Code())
	}
}

// BenchmarkTokenCheck measures what finding a request's curator costs: the
// single token's comparison of before (HasToken) as the baseline, then
// Auth.Check's SHA-256, lookup by digest and constant-time comparison, for
// sets of 1, 10 and 100 curators.
func BenchmarkTokenCheck(b *testing.B) {
	tok, _ := api.NewToken()
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.Run("single token (before)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !api.HasToken(req, tok) {
				b.Fatal("refused")
			}
		}
	})
	for _, n := range []int{1, 10, 100} {
		var lines []string
		for i := range n - 1 {
			lines = append(lines, fmt.Sprintf("c%d write %s", i, api.HashToken(fmt.Sprint("other", i))))
		}
		lines = append(lines, "last write "+api.HashToken(tok))
		set, err := api.ParseCurators(strings.NewReader(strings.Join(lines, "\n")), "bench")
		if err != nil {
			b.Fatal(err)
		}
		auth := api.NewAuth(api.AuthOptions{Curators: set})
		b.Run(fmt.Sprintf("curators=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if c, _ := auth.Check(req); c == nil {
					b.Fatal("refused")
				}
			}
		})
	}
}
