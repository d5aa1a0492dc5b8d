package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"policygraph/cmd/bench/floor"
)

// BenchmarkScenarios runs each scenario's requests through the handlers in
// this process, without the network: on the read model (model/), on the
// store path (-read-model=false, store/) and on the floor (floor/), each
// answer checked against the one recorded before timing. It is the bench's
// scenarios in a form `go test -cpuprofile` profiles one at a time:
//
//	go test ./cmd/bench -run '^$' -bench 'Scenarios/model/two-hop' -cpuprofile /tmp/cpu.out
func BenchmarkScenarios(b *testing.B) {
	ctx := context.Background()
	client := newClient(4)
	token := randomToken()
	open := func(readModel bool) http.Handler {
		g, err := openStoreWith(b.TempDir(), false, readModel)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { g.Close() })
		return handler(g, token, 0)
	}
	model, store := open(true), open(false)
	base, stop, err := listen(model)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	prepared, err := prepare(ctx, client, base+"/graphql", seedParams(), "qualcomm", 0)
	if err != nil {
		b.Fatal(err)
	}
	fr := floor.New()
	fh := floor.NewHandler(fr)
	floorBase, stopFloor, err := listen(fh)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stopFloor)
	if _, err := recordFloor(ctx, client, fr, floorBase+"/graphql", prepared); err != nil {
		b.Fatal(err)
	}
	for _, target := range []struct {
		name string
		h    http.Handler
	}{{"model", model}, {"store", store}, {"floor", fh}} {
		for _, pr := range prepared {
			name := strings.Fields(pr.Name)[0]
			b.Run(target.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				cpu0 := cpuTime()
				defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						body, want := pr.request(i)
						i++
						req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						rec := httptest.NewRecorder()
						target.h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
							b.Errorf("%s: status %d, a different answer: %.300s", pr.Name, rec.Code, rec.Body.String())
							return
						}
					}
				})
			})
		}
	}
}

// cpuTime is the CPU time this process has used, user and system: per
// request, it is what the server and the in-process client cost, which the
// other work on a shared machine moves much less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
