package storage_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

func TestCreateNodeAndRead(t *testing.T) { onEngines(t, testCreateNodeAndRead) }

func testCreateNodeAndRead(t *testing.T, open func(testing.TB) *storage.Graph) {
	g := open(t)
	in := &storage.Node{Kind: storage.KindPlace, Name: "Shanghai", PlaceType: "CITY",
		Labels: []storage.Label{{Lang: "vi", Text: "Thượng Hải"}}, Aliases: []string{"Shanghai city"}}
	n := mustCreate(t, g, in, "")
	if n.ID == uuid.Nil {
		t.Fatal("CreateNode left the ID zero")
	}
	if in.ID != uuid.Nil || in.Slug != "" {
		t.Errorf("CreateNode changed its input: %+v", in)
	}
	if n.Slug != "shanghai" {
		t.Errorf("slug = %q, want shanghai", n.Slug)
	}
	if n.CreatedAt.IsZero() || n.UpdatedAt.IsZero() {
		t.Errorf("timestamps not set: %v %v", n.CreatedAt, n.UpdatedAt)
	}

	byID, err := g.Node(n.ID)
	if err != nil {
		t.Fatalf("Node: %v", err)
	}
	bySlug, err := g.NodeBySlug("shanghai")
	if err != nil {
		t.Fatalf("NodeBySlug: %v", err)
	}
	for _, got := range []*storage.Node{byID, bySlug} {
		if got.ID != n.ID || got.Name != "Shanghai" || got.Kind != storage.KindPlace || got.PlaceType != "CITY" ||
			got.Label("vi") != "Thượng Hải" || len(got.Aliases) != 1 || !got.CreatedAt.Equal(n.CreatedAt) {
			t.Errorf("read back %+v, want %+v", got, n)
		}
	}

	missing := uuid.New()
	got, err := g.Nodes([]uuid.UUID{n.ID, missing, n.ID})
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	if len(got) != 3 || got[0] == nil || got[0].ID != n.ID || got[1] != nil || got[2] == nil || got[2].ID != n.ID {
		t.Errorf("Nodes = %v, want [node nil node]", got)
	}
}

func TestNodeNotFound(t *testing.T) {
	g := newGraph(t)
	name := "x"
	tests := []struct {
		name string
		call func() error
	}{
		{"Node", func() error { _, err := g.Node(uuid.New()); return err }},
		{"NodeBySlug", func() error { _, err := g.NodeBySlug("no-such-slug"); return err }},
		{"UpdateNode", func() error { _, err := g.UpdateNode(uuid.New(), storage.NodePatch{Name: &name}); return err }},
		{"Fact", func() error { _, err := g.Fact(uuid.New()); return err }},
		{"RetractFact", func() error { _, err := g.RetractFact(uuid.New(), "t", "wrong"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), errs.NotFound, "")
		})
	}
}

func TestCreateNodeSlugs(t *testing.T) {
	g := newGraph(t)
	tests := []struct {
		name     string
		node     storage.Node
		wantSlug string
	}{
		{"folded", storage.Node{Kind: storage.KindPlace, Name: "Thượng Hải"}, "thuong-hai"},
		{"second takes -2", storage.Node{Kind: storage.KindPlace, Name: "thuong  hai!"}, "thuong-hai-2"},
		{"third takes -3", storage.Node{Kind: storage.KindOrganization, Name: "THƯỢNG HẢI"}, "thuong-hai-3"},
		{"d with stroke", storage.Node{Kind: storage.KindPlace, Name: "Đà Nẵng"}, "da-nang"},
		{"punctuation", storage.Node{Kind: storage.KindOrganization, Name: "AT&T  Inc."}, "at-t-inc"},
		{"explicit", storage.Node{Kind: storage.KindOrganization, Name: "Anything", Slug: "my-slug"}, "my-slug"},
		{"explicit slug of a suffix", storage.Node{Kind: storage.KindOrganization, Name: "Other", Slug: "thuong-hai-4"}, "thuong-hai-4"},
		{"skips a taken suffix", storage.Node{Kind: storage.KindPlace, Name: "Thuong Hai"}, "thuong-hai-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := mustCreate(t, g, &tt.node, "")
			if n.Slug != tt.wantSlug {
				t.Errorf("slug = %q, want %q", n.Slug, tt.wantSlug)
			}
			got, err := g.NodeBySlug(tt.wantSlug)
			if err != nil || got.ID != n.ID {
				t.Errorf("NodeBySlug(%q) = %v, %v; want node %s", tt.wantSlug, got, err, n.ID)
			}
		})
	}
}

func TestCreateNodeAlreadyExists(t *testing.T) {
	g := newGraph(t)
	a := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Acme", Slug: "acme"}, "")
	tests := []struct {
		name  string
		node  storage.Node
		field string
	}{
		{"taken id", storage.Node{ID: a.ID, Kind: storage.KindOrganization, Name: "Acme again"}, "id"},
		{"taken slug", storage.Node{Kind: storage.KindOrganization, Name: "Not Acme", Slug: "acme"}, "slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, g)
			_, err := g.CreateNode(&tt.node, "")
			wantCode(t, err, errs.AlreadyExists, tt.field)
			assertUnchanged(t, g, before)
		})
	}
}

func TestCreateNodeValidation(t *testing.T) {
	g := newGraph(t)
	org := func(name string) storage.Node { return storage.Node{Kind: storage.KindOrganization, Name: name} }
	with := func(n storage.Node, f func(*storage.Node)) storage.Node { f(&n); return n }
	tests := []struct {
		name  string
		node  storage.Node
		code  errs.Code
		field string
	}{
		{"empty name", org(""), errs.InvalidArgument, "name"},
		{"blank name", org(" \t "), errs.InvalidArgument, "name"},
		{"name without letters", org("!!! ---"), errs.InvalidArgument, "name"},
		{"bad kind", storage.Node{Kind: "COMPANY", Name: "Acme"}, errs.InvalidArgument, "kind"},
		{"lower-case kind", storage.Node{Kind: "organization", Name: "Acme"}, errs.InvalidArgument, "kind"},
		{"empty kind", storage.Node{Name: "Acme"}, errs.InvalidArgument, "kind"},
		{"country code USA", with(org("X"), func(n *storage.Node) { n.Kind, n.Code = storage.KindPlace, "USA" }), errs.InvalidCountry, "code"},
		{"country code us", with(org("X"), func(n *storage.Node) { n.Kind, n.Code = storage.KindPlace, "us" }), errs.InvalidCountry, "code"},
		{"country code ZZ", with(org("X"), func(n *storage.Node) { n.Kind, n.Code = storage.KindPlace, "ZZ" }), errs.InvalidCountry, "code"},
		{"country code 840", with(org("X"), func(n *storage.Node) { n.Kind, n.Code = storage.KindPlace, "840" }), errs.InvalidCountry, "code"},
		{"invalid UTF-8 name", org("Acme\xff"), errs.InvalidArgument, "name"},
		{"NUL in name", org("Ac\x00me"), errs.InvalidArgument, "name"},
		{"oversize name", org(strings.Repeat("a", storage.MaxNameLen+1)), errs.InvalidArgument, "name"},
		{"oversize description", with(org("X"), func(n *storage.Node) { n.Description = strings.Repeat("d", storage.MaxTextLen+1) }), errs.InvalidArgument, "description"},
		{"NUL in description", with(org("X"), func(n *storage.Node) { n.Description = "a\x00" }), errs.InvalidArgument, "description"},
		{"invalid UTF-8 alias", with(org("X"), func(n *storage.Node) { n.Aliases = []string{"ok", "\xc3\x28"} }), errs.InvalidArgument, "aliases"},
		{"too many aliases", with(org("X"), func(n *storage.Node) { n.Aliases = make([]string, storage.MaxAliases+1) }), errs.InvalidArgument, "aliases"},
		{"label without language", with(org("X"), func(n *storage.Node) { n.Labels = []storage.Label{{Text: "X"}} }), errs.InvalidArgument, "labels"},
		{"label with bad language", with(org("X"), func(n *storage.Node) { n.Labels = []storage.Label{{Lang: "not a tag", Text: "X"}} }), errs.InvalidArgument, "labels"},
		{"slug with capitals", with(org("X"), func(n *storage.Node) { n.Slug = "Acme" }), errs.InvalidArgument, "slug"},
		{"slug with double hyphen", with(org("X"), func(n *storage.Node) { n.Slug = "ac--me" }), errs.InvalidArgument, "slug"},
		{"slug too long", with(org("X"), func(n *storage.Node) { n.Slug = strings.Repeat("a", 121) }), errs.InvalidArgument, "slug"},
		{"negative year", with(org("X"), func(n *storage.Node) { n.Kind, n.Year = storage.KindEvent, -1 }), errs.InvalidDate, "year"},
		{"year 10000", with(org("X"), func(n *storage.Node) { n.Kind, n.Year = storage.KindEvent, 10000 }), errs.InvalidDate, "year"},
		{"source text not UTF-8", with(org("X"), func(n *storage.Node) { n.Kind = storage.KindSource }), errs.InvalidArgument, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, g)
			text := ""
			if tt.node.Kind == storage.KindSource {
				text = "bad \xff text"
			}
			_, err := g.CreateNode(&tt.node, text)
			wantCode(t, err, tt.code, tt.field)
			assertUnchanged(t, g, before)
		})
	}
}

func TestCreateNodeLimitsAccepted(t *testing.T) {
	g := newGraph(t)
	tests := []storage.Node{
		{Kind: storage.KindOrganization, Name: strings.Repeat("a", storage.MaxNameLen)},
		{Kind: storage.KindPlace, Name: "China", Code: "CN"},
		{Kind: storage.KindPlace, Name: "Hong Kong", Code: "HK"},
		{Kind: storage.KindOrganization, Name: "X", Aliases: make([]string, 0, storage.MaxAliases), Labels: []storage.Label{{Lang: "zh-Hans", Text: "某"}}},
		{Kind: storage.KindEvent, Name: "Year 9999", Year: 9999},
	}
	for _, n := range tests {
		t.Run(n.Name[:min(len(n.Name), 20)], func(t *testing.T) {
			mustCreate(t, g, &n, "")
		})
	}
}

// TestPutNode: the seed's write creates a missing node and leaves a stored
// one alone, whatever it holds.
func TestPutNode(t *testing.T) {
	g := newGraph(t)
	id := storage.SlugID("acme")
	n := &storage.Node{ID: id, Kind: storage.KindOrganization, Slug: "acme", Name: "Acme"}
	if out, err := g.PutNode(n, ""); err != nil || out != storage.PutCreated {
		t.Fatalf("PutNode = %s, %v; want created", out, err)
	}
	first, err := g.Node(id)
	if err != nil {
		t.Fatal(err)
	}
	before := dump(t, g)

	t.Run("unchanged is a no-op", func(t *testing.T) {
		if out, err := g.PutNode(n, ""); err != nil || out != storage.PutUnchanged {
			t.Fatalf("PutNode = %s, %v; want unchanged", out, err)
		}
		if got := dump(t, g); got != before {
			t.Errorf("store changed by an unchanged PutNode:\n%s\n%s", before, got)
		}
	})
	for _, tt := range []struct {
		name   string
		change func(m *storage.Node)
	}{
		{"a rename is kept", func(m *storage.Node) { m.Name, m.Description = "Acme Corporation", "renamed" }},
		{"another kind is kept", func(m *storage.Node) { m.Kind = storage.KindPerson }},
		{"another slug is kept", func(m *storage.Node) { m.Slug = "acme-2" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := *n
			tt.change(&m)
			if out, err := g.PutNode(&m, ""); err != nil || out != storage.PutKept {
				t.Fatalf("PutNode = %s, %v; want kept", out, err)
			}
			if got := dump(t, g); got != before {
				t.Errorf("PutNode overwrote a stored node")
			}
			if read, _ := g.Node(id); read.Name != first.Name || !read.UpdatedAt.Equal(first.UpdatedAt) {
				t.Errorf("read back %+v", read)
			}
		})
	}
	t.Run("a new node whose slug is taken is skipped", func(t *testing.T) {
		other := &storage.Node{ID: storage.SlugID("other"), Kind: storage.KindOrganization, Slug: "acme", Name: "Other"}
		if out, err := g.PutNode(other, ""); err != nil || out != storage.PutSkipped {
			t.Fatalf("PutNode = %s, %v; want skipped", out, err)
		}
		if got := dump(t, g); got != before {
			t.Errorf("a skipped PutNode wrote")
		}
	})
	t.Run("a retracted node stays retracted", func(t *testing.T) {
		if _, err := g.RetractNode(id, "tester", "gone"); err != nil {
			t.Fatal(err)
		}
		if out, err := g.PutNode(n, ""); err != nil || out != storage.PutKept {
			t.Fatalf("PutNode = %s, %v; want kept", out, err)
		}
		if read, _ := g.Node(id); read.Retraction == nil {
			t.Errorf("PutNode resurrected a retracted node")
		}
	})
	t.Run("source text", func(t *testing.T) {
		src := &storage.Node{ID: storage.SlugID("src"), Kind: storage.KindSource, Slug: "src", Name: "Src"}
		if out, err := g.PutNode(src, "first text"); err != nil || out != storage.PutCreated {
			t.Fatalf("PutNode = %s, %v", out, err)
		}
		for text, want := range map[string]storage.PutOutcome{"first text": storage.PutUnchanged, "second text": storage.PutKept, "": storage.PutUnchanged} {
			if out, err := g.PutNode(src, text); err != nil || out != want {
				t.Errorf("PutNode with text %q = %s, %v; want %s", text, out, err, want)
			}
		}
		if got, _ := g.SourceText(src.ID); got != "first text" {
			t.Errorf("SourceText = %q, want the first text kept", got)
		}
		if got, _ := g.SourceText(uuid.New()); got != "" {
			t.Errorf("SourceText of nothing = %q", got)
		}
	})
}

func TestUpdateNode(t *testing.T) { onEngines(t, testUpdateNode) }

func testUpdateNode(t *testing.T, open func(testing.TB) *storage.Graph) {
	x := newFixtureOn(t, open(t))
	g := x.g
	name, desc, code := "Qualcomm Incorporated", "Chip designer", "US"
	n, err := g.UpdateNode(x.qualcomm.ID, storage.NodePatch{Name: &name, Description: &desc, Aliases: []string{"QCOM"}})
	if err != nil {
		t.Fatalf("UpdateNode: %v", err)
	}
	if n.Name != name || n.Description != desc || n.Slug != x.qualcomm.Slug || n.Kind != storage.KindOrganization {
		t.Errorf("UpdateNode = %+v", n)
	}
	if !n.CreatedAt.Equal(x.qualcomm.CreatedAt) || !n.UpdatedAt.After(x.qualcomm.UpdatedAt) {
		t.Errorf("times: created %v updated %v, before %v %v", n.CreatedAt, n.UpdatedAt, x.qualcomm.CreatedAt, x.qualcomm.UpdatedAt)
	}
	read, _ := g.Node(x.qualcomm.ID)
	if read.Name != name || len(read.Aliases) != 1 || read.Aliases[0] != "QCOM" {
		t.Errorf("read back %+v", read)
	}

	t.Run("patch of a country code", func(t *testing.T) {
		if _, err := g.UpdateNode(x.us.ID, storage.NodePatch{Code: &code}); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
	})

	bad := []struct {
		name  string
		patch storage.NodePatch
		code  errs.Code
		field string
	}{
		{"empty name", storage.NodePatch{Name: ptr("")}, errs.InvalidArgument, "name"},
		{"NUL name", storage.NodePatch{Name: ptr("a\x00b")}, errs.InvalidArgument, "name"},
		{"bad code", storage.NodePatch{Code: ptr("us")}, errs.InvalidCountry, "code"},
		{"bad year", storage.NodePatch{Year: ptr(-5)}, errs.InvalidDate, "year"},
		{"bad label", storage.NodePatch{Labels: []storage.Label{{Lang: "", Text: "x"}}}, errs.InvalidArgument, "labels"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, g)
			_, err := g.UpdateNode(x.us.ID, tt.patch)
			wantCode(t, err, tt.code, tt.field)
			assertUnchanged(t, g, before)
		})
	}
}

func TestUpdateNodeReindexes(t *testing.T) {
	g := newGraph(t)
	a := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Acme Robotics"}, "")
	b := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Beta"}, "")
	ev := mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: "Expo", Year: 2019}, "")

	if _, err := g.UpdateNode(a.ID, storage.NodePatch{Name: ptr("Zenith Labs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.UpdateNode(ev.ID, storage.NodePatch{Year: ptr(2021)}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"acme", "robotics", "Acme Robotics"} {
		hits, err := g.Search(q, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 0 {
			t.Errorf("Search(%q) after the rename = %v, want nothing", q, hits)
		}
	}
	for _, q := range []string{"zenith", "labs", "Zenith Labs"} {
		hits, _ := g.Search(q, 0)
		if len(hits) != 1 || hits[0].ID != a.ID {
			t.Errorf("Search(%q) = %v, want the renamed node", q, hits)
		}
	}
	got, _ := g.NodeIDsByKind(storage.KindOrganization)
	if want := ids(b, a); !equalIDs(got, want) {
		t.Errorf("NodeIDsByKind after rename = %v, want %v (beta before zenith)", got, want)
	}
	if got, _ := g.NodeIDsByYear(storage.KindEvent, 2019, 2019); len(got) != 0 {
		t.Errorf("NodeIDsByYear(2019) after the year changed = %v, want nothing", got)
	}
	if got, _ := g.NodeIDsByYear(storage.KindEvent, 2021, 2021); !equalIDs(got, ids(ev)) {
		t.Errorf("NodeIDsByYear(2021) = %v, want the event", got)
	}
	if s, _ := g.Stats(); s.Nodes != 3 || s.ByKind[storage.KindOrganization] != 2 {
		t.Errorf("Stats after renames = %+v, want 3 nodes, 2 organizations", s)
	}
}

func TestNodeNames(t *testing.T) {
	n := &storage.Node{Name: "Shanghai", Labels: []storage.Label{{Lang: "vi", Text: "Thượng Hải"}}, Aliases: []string{"SH"}}
	if got := strings.Join(n.Names(), "|"); got != "Shanghai|Thượng Hải|SH" {
		t.Errorf("Names = %q", got)
	}
	if n.Label("vi") != "Thượng Hải" || n.Label("fr") != "Shanghai" {
		t.Errorf("Label fallbacks wrong: %q %q", n.Label("vi"), n.Label("fr"))
	}
}

// freeSlug (write.go) cuts a long slug at byte maxSlugLen-8, which can split a
// multi-byte letter; the slug is then invalid UTF-8 and validateNode rejects it.
func TestCreateNodeLongNonASCIIName(t *testing.T) {
	g := newGraph(t)
	for _, name := range []string{strings.Repeat("北", 40), strings.Repeat("Ж", 60) + "ж"} {
		n, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: name}, "")
		if err != nil {
			t.Errorf("CreateNode(%d-byte name): %v", len(name), err)
			continue
		}
		if !strings.HasPrefix(storage.Slugify(name), n.Slug) {
			t.Errorf("slug %q is not a prefix of the name's slug", n.Slug)
		}
	}
}

func TestCreateNodeLongNameSlug(t *testing.T) {
	g := newGraph(t)
	name := strings.Repeat("word ", 59) + "end" // 298 bytes
	a := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: name}, "")
	b := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: name}, "")
	if len(a.Slug) > 112 || strings.HasSuffix(a.Slug, "-") || b.Slug != a.Slug+"-2" {
		t.Errorf("slugs of a long name = %q, %q; want at most 112 bytes without a trailing hyphen, then -2", a.Slug, b.Slug)
	}
}
