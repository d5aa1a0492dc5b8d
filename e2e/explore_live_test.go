package e2e

import (
	"strconv"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// TestExplorerLive: with the explorer open, a fact added through the API
// appears in the graph (the new edge, with its new end) and in the timeline
// without a reload; its retraction takes it out of both.
func TestExplorerLive(t *testing.T) {
	srv := startLive(t)
	p := newExplorerPage(t, 120*time.Second)
	p.open(srv.URL + "/explore")
	p.poll("the explorer did not subscribe", `window.policygraphExplorer.live.connected === true`)
	var org string
	p.eval(`(() => {
		const e = window.policygraphExplorer;
		return e.drawnNodeIds().find((id) => e.known.entities.get(id)?.kind === "ORGANIZATION") || "";
	})()`, &org)
	if org == "" {
		t.Fatal("the overview draws no organization")
	}
	var loaded float64
	p.eval(`performance.getEntriesByType("navigation").length`, &loaded)

	product := testenv.Value(srv.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "PRODUCT", "name": "Live Robot"}}).Data, "createEntity.id").(string)
	fact := testenv.Value(srv.Must(t, testenv.Token, addFactMutation, map[string]any{"in": map[string]any{"subject": org, "predicate": "LAUNCHED", "object": product, "date": "2026-05-01",
		"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": "Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này"}}}}).Data, "addFact.id").(string)

	edge := `window.policygraphExplorer.cy.getElementById(` + strconv.Quote(fact) + `)`
	p.poll("the new fact is not drawn", edge+`.nonempty() && `+edge+`.target().data("label") === "Live Robot"`)
	p.poll("the new fact is not in the timeline", `document.querySelector('#timeline [data-fact=`+strconv.Quote(fact)+`]') !== null`)
	var after float64
	p.eval(`performance.getEntriesByType("navigation").length`, &after)
	if after != loaded {
		t.Fatalf("the page was loaded again (%v navigations, then %v)", loaded, after)
	}

	srv.Must(t, testenv.Token, `mutation($id: ID!) { retractFact(input: {id: $id, reason: "test"}) { id } }`, map[string]any{"id": fact})
	p.poll("the retracted fact is still drawn", edge+`.empty()`)
	p.poll("the retracted fact is still in the timeline", `document.querySelector('#timeline [data-fact=`+strconv.Quote(fact)+`]') === null`)
	p.checkClean()
}
