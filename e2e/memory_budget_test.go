package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"policygraph/app"
	"policygraph/internal/testenv"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (127.0.0.x): to the server, another client address.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}}
}

// heapInUse reads the server's go_memstats_heap_inuse_bytes from /metrics.
func heapInUse(c *http.Client, base string) (int64, error) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int64(f), err
		}
	}
	return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes in /metrics")
}

// slowReader sends a request from ip on a connection with a 4 KB receive
// window and never reads the answer: the server's writes to it block once
// the window and the socket buffers fill. It returns the connection.
func slowReader(t *testing.T, addr, ip, body string) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return conn
}

// TestMemoryBudgetHolds runs the binary with default flags and floods it,
// from 127.0.0.1 and 127.0.0.3, with what took its heap past a gigabyte: 150
// distinct valid 1 MB queries, 90 requests for big answers (1.8 MB, and 5 MB
// ones the cost model now refuses), 100 distinct refused queries of 100 kB,
// and 150 slow readers that ask for big answers and read nothing. Meanwhile a
// well-behaved client on 127.0.0.2 asks its questions. Its every request must
// succeed, and the server's heap in use must stay under the documented budget
// (-memory-budget, 1 GiB by default; docs/limits.md, "Memory").
func TestMemoryBudgetHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood of about 30 seconds")
	}
	const budget = app.DefaultMemoryBudget
	p := testenv.StartBinary(t, t.TempDir())
	addr := strings.TrimPrefix(p.URL, "http://")
	flood := clientFrom("127.0.0.1")

	var maxHeap atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		c := clientFrom("127.0.0.4")
		for {
			if h, err := heapInUse(c, p.URL); err == nil && h > maxHeap.Load() {
				maxHeap.Store(h)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	body := func(q string) string {
		b, _ := json.Marshal(map[string]any{"query": q})
		return string(b)
	}
	const text = `facts(first: 200) { nodes { evidence { source { text } } } }`
	bigAnswer := func(i int) string { // 1.8 MB, each spelled apart: a cache entry each
		return body("{ " + text + strings.Repeat(" ", i) + " }")
	}
	hugeAnswer := func(i int) string { // 5 MB: refused by the cost model
		return body(fmt.Sprintf("{ a%d: %s b: %s c: %s }", i, text, text, text))
	}
	var jobs []string
	for i := range 150 {
		jobs = append(jobs, body(fmt.Sprintf("{ a%d%s: stats { entities } }", i, strings.Repeat("x", 1<<20-64))))
	}
	for i := range 60 {
		jobs = append(jobs, bigAnswer(i))
	}
	for i := range 30 {
		jobs = append(jobs, hugeAnswer(i))
	}
	for i := range 100 {
		jobs = append(jobs, body(fmt.Sprintf("{ f%d%s }", i, strings.Repeat("y", 100_000))))
	}

	// The well-behaved client, on its own address.
	var good, goodFailed atomic.Int64
	goodDone := make(chan struct{})
	stopGood := make(chan struct{})
	go func() {
		defer close(goodDone)
		c := clientFrom("127.0.0.2")
		queries := []string{
			`{ sponsorshipsByYear(series: "waic", sponsorCountry: "US") { year sponsorships { tier subject { name } } } }`,
			`{ organization(slug: "qualcomm") { name sponsorships { object { ... on Event { name } } } } }`,
			`{ search(text: "thuong") { score entity { name } } }`,
		}
		for i := 0; ; i++ {
			select {
			case <-stopGood:
				return
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := c.Post(p.URL+"/graphql", "application/json", strings.NewReader(body(queries[i%len(queries)])))
			if err != nil {
				goodFailed.Add(1)
				t.Errorf("well-behaved request %d: %v", i, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
				goodFailed.Add(1)
				t.Errorf("well-behaved request %d: %d %.300s", i, resp.StatusCode, b)
				continue
			}
			good.Add(1)
		}
	}()

	// The slow readers, on a third address: half ask for the cached 1.8 MB
	// answer, half for the 5 MB one.
	var slow []net.Conn
	for i := range 150 {
		b := bigAnswer(0)
		if i%2 == 1 {
			b = hugeAnswer(0)
		}
		slow = append(slow, slowReader(t, addr, "127.0.0.3", b))
	}
	defer func() {
		for _, c := range slow {
			c.Close()
		}
	}()

	// The flood.
	start := time.Now()
	var statuses sync.Map
	var wg sync.WaitGroup
	next := make(chan string)
	for range 8 {
		wg.Go(func() {
			for b := range next {
				req, _ := http.NewRequest(http.MethodPost, p.URL+"/graphql", strings.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/graphql-response+json") // refusals are 4xx
				resp, err := flood.Do(req)
				if err != nil {
					statuses.Store("error: "+err.Error(), true)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	close(stopGood)
	<-goodDone
	close(stopSampling)
	<-sampled

	var counts []string
	statuses.Range(func(k, v any) bool {
		if n, ok := v.(*atomic.Int64); ok {
			counts = append(counts, fmt.Sprintf("%v: %d", k, n.Load()))
		} else {
			counts = append(counts, fmt.Sprint(k))
		}
		return true
	})
	t.Logf("flood of %d requests in %s (%s); well-behaved: %d ok, %d failed; heap in use at most %d MiB of a %d MiB budget",
		len(jobs), took.Round(time.Millisecond), strings.Join(counts, ", "), good.Load(), goodFailed.Load(), maxHeap.Load()>>20, budget>>20)
	if maxHeap.Load() == 0 {
		t.Fatal("the heap was never sampled")
	}
	if maxHeap.Load() > budget {
		t.Errorf("the heap in use reached %d MiB, over the %d MiB budget", maxHeap.Load()>>20, budget>>20)
	}
	if good.Load() == 0 {
		t.Error("the well-behaved client made no request")
	}
}
