package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"policygraph/cmd/bench/floor"
)

// benchServer serves the real route table (app.NewHandler, response cache
// off) on a freshly seeded store, as the load bench does.
func benchServer(t *testing.T) string {
	t.Helper()
	g, err := openStore(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	base, stop, err := listen(handler(g, randomToken(), 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return base + "/graphql"
}

// TestScenariosMatchTheirFloor asks the real server every scenario's
// requests (each answer checked by its spec), records the answers in the
// floor and checks that the floor answers each request with the server's
// bytes, and that a request the floor has no answer for is an error there,
// not an empty answer that would make a ratio look good.
func TestScenariosMatchTheirFloor(t *testing.T) {
	ctx := context.Background()
	client := newClient(4)
	url := benchServer(t)
	prepared, err := prepare(ctx, client, url, seedParams(), "qualcomm", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(prepared) != len(specs) {
		t.Fatalf("%d scenarios prepared, want %d", len(prepared), len(specs))
	}
	fr := floor.New()
	floorBase, stop, err := listen(floor.NewHandler(fr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	floors, err := recordFloor(ctx, client, fr, floorBase+"/graphql", prepared)
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range prepared {
		t.Run(pr.Name, func(t *testing.T) {
			if pr.Name == walkName && len(pr.Requests) < 2 {
				t.Errorf("the walk has %d pages: its cursor is not exercised", len(pr.Requests))
			}
			for j := range pr.Requests {
				var server, flr bytes.Buffer
				if ok, kind, err := doKind(ctx, client, pr.Scenario, j, &server); !ok {
					t.Fatalf("server, request %d: %s %v: %s", j+1, kind, err, server.String())
				}
				if ok, kind, err := doKind(ctx, client, floors[i], j, &flr); !ok {
					t.Fatalf("floor, request %d: %s %v: %s", j+1, kind, err, flr.String())
				}
				if !bytes.Equal(server.Bytes(), flr.Bytes()) {
					t.Errorf("request %d: the floor answers\n%s\nthe server\n%s", j+1, flr.String(), server.String())
				}
			}
		})
	}

	// A request nothing was recorded for.
	resp, err := http.Post(floorBase+"/graphql", "application/json", bytes.NewReader(gql(searchQuery, map[string]any{"text": "nothing recorded"})))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "no answer recorded") {
		t.Errorf("the floor's answer to an unrecorded request: %s", b)
	}
}

// TestStorePathAnswersAsTheModel: -compare-store times the same requests
// against a store served with -read-model=false, so its every answer must be
// the read model's, byte for byte (storePath checks that before timing).
func TestStorePathAnswersAsTheModel(t *testing.T) {
	ctx := context.Background()
	client := newClient(4)
	url := benchServer(t)
	prepared, err := prepare(ctx, client, url, seedParams(), "qualcomm", 0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openStoreWith(t.TempDir(), false, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if g.ReadModel() != nil {
		t.Fatal("openStoreWith(readModel false) opened a store with a read model")
	}
	base, stop, err := listen(handler(g, randomToken(), 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	stores, err := storePath(ctx, client, base+"/graphql", prepared)
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != len(prepared) {
		t.Fatalf("%d store-path scenarios, want %d", len(stores), len(prepared))
	}
}
