package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// BenchmarkChangesFanout measures /changes with followers=1 and 100
// concurrent followers (follow=1) of the built binary on loopback: each
// iteration is one write, and waits until every follower has its line.
// Metrics: ack-p50/p99-ms, the write's own round trip (send to
// acknowledgement, the baseline); line-p50/p99-ms, acknowledgement to each
// follower's line; last-p50/p99-ms, acknowledgement to the last follower's
// line; and the server's memory per open stream (heap in use, stacks, RSS,
// from its /metrics, before and after the streams opened). A line can come
// before the acknowledgement: the write is applied before it is answered.
// See BENCHMARKS.md, "The change stream (issue 13)".
//
//	go test ./e2e -run '^$' -bench BenchmarkChangesFanout -benchtime 300x
func BenchmarkChangesFanout(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("followers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, followers int) {
	srv := testenv.StartBinary(b, b.TempDir(), "-sync=false", "-max-streams", "0", "-max-streams-per-client", "0", "-max-conns", "4096")
	before := scrapeMetrics(b, srv.URL)
	type arrival struct {
		version uint64
		at      time.Time
	}
	arrivals := make(chan arrival, followers*16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heads := make(chan uint64, followers)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: followers}}
	for range followers {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/changes?follow=1", nil)
		res, err := client.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("follow: %v %v", err, res)
		}
		go func() {
			defer res.Body.Close()
			br := bufio.NewReaderSize(res.Body, 64<<10)
			first := true
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				at := time.Now()
				var l struct {
					Version uint64  `json:"version"`
					Head    *uint64 `json:"head"`
				}
				json.Unmarshal(line, &l)
				if first {
					first = false
					heads <- *l.Head
					continue
				}
				if l.Version > 0 {
					arrivals <- arrival{l.Version, at}
				}
			}
		}()
	}
	var head uint64
	for range followers {
		head = <-heads
	}
	after := scrapeMetrics(b, srv.URL)
	writes := &http.Client{}
	var ack, line, last []float64
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		body := fmt.Sprintf(`{"query":%q,"variables":{"in":{"kind":"TOPIC","name":"fanout %d"}}}`, createEntityMutation, i)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testenv.Token)
		sent := time.Now()
		res, err := writes.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		acked := time.Now()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("write: %d", res.StatusCode)
		}
		ack = append(ack, ms(acked.Sub(sent)))
		want := head + uint64(i)
		var latest time.Time
		for got := 0; got < followers; {
			a := <-arrivals
			if a.version != want {
				b.Fatalf("a follower got version %d, want %d", a.version, want)
			}
			got++
			line = append(line, ms(a.at.Sub(acked)))
			if a.at.After(latest) {
				latest = a.at
			}
		}
		last = append(last, ms(latest.Sub(acked)))
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		v    []float64
	}{{"ack", ack}, {"line", line}, {"last", last}} {
		b.ReportMetric(percentile(m.v, 50), m.name+"-p50-ms")
		b.ReportMetric(percentile(m.v, 99), m.name+"-p99-ms")
	}
	if followers >= 100 {
		for _, m := range []struct{ metric, unit string }{
			{"go_memstats_heap_inuse_bytes", "heap-KiB/stream"},
			{"go_memstats_stack_inuse_bytes", "stack-KiB/stream"},
			{"process_resident_memory_bytes", "rss-KiB/stream"},
		} {
			b.ReportMetric((after[m.metric]-before[m.metric])/float64(followers)/1024, m.unit)
		}
	}
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

var metricLineRE = regexp.MustCompile(`(?m)^([a-z_]+) ([0-9.e+-]+)$`)

// scrapeMetrics reads the unlabelled metrics of the server's /metrics.
func scrapeMetrics(b *testing.B, base string) map[string]float64 {
	b.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	out := map[string]float64{}
	for _, m := range metricLineRE.FindAllStringSubmatch(string(body), -1) {
		if v, err := strconv.ParseFloat(m[2], 64); err == nil {
			out[m[1]] = v
		}
	}
	return out
}
