package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Scenario is one kind of request the load generator repeats.
type Scenario struct {
	Name string
	URL  string
	// Body is the JSON request body (a GraphQL POST).
	Body []byte
	// Requests, when set, are the request bodies, sent in turn instead of
	// Body: the pages of a walk, each one request of the scenario.
	Requests [][]byte
	// Want, when set, is the answer each request (Body, or Requests[i]) got
	// before timing: a timed request answered differently is an error.
	Want [][]byte
	// Token, when set, is sent as a bearer token.
	Token string
}

// request returns the i-th request's body and the answer it must get (nil:
// any answer without errors).
func (s Scenario) request(i int) (body, want []byte) {
	if len(s.Requests) > 0 {
		i %= len(s.Requests)
		body = s.Requests[i]
	} else {
		body, i = s.Body, 0
	}
	if i < len(s.Want) {
		want = s.Want[i]
	}
	return body, want
}

// Result is what one run of a scenario measured.
type Result struct {
	Scenario string
	Mode     string // "closed, c=8" or "open, 120/s"
	Requests int    // measured (after the warm-up)
	Errors   int    // non-200 answers or GraphQL errors
	Late     int    // open loop: requests that could not be sent on time
	// ErrorKinds counts the errors and late requests by kind: a status, a
	// GraphQL error code, a client error.
	ErrorKinds map[string]int
	Elapsed    time.Duration
	RPS        float64
	P50        time.Duration
	P95        time.Duration
	P99        time.Duration
	Max        time.Duration
	latencies  []time.Duration
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout: 30 * time.Second,
	}
}

// errorKind names what went wrong with a request, for Result.ErrorKinds:
// the client's error, or the answer's status and first error code.
func errorKind(err error, status int, body []byte) string {
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
			return "client: timeout"
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			return "client: no ephemeral port (EADDRNOTAVAIL)"
		case errors.Is(err, syscall.ECONNRESET):
			return "client: connection reset"
		case errors.Is(err, syscall.ECONNREFUSED):
			return "client: connection refused"
		}
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return "client: " + msg
	}
	var resp struct {
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	code := ""
	if json.Unmarshal(body, &resp) == nil && len(resp.Errors) > 0 {
		code = " " + resp.Errors[0].Extensions.Code
	}
	return fmt.Sprintf("status %d%s", status, code)
}

// do sends one request and reads the whole answer; it reports whether the
// answer was a 200 without GraphQL errors, and when it was not, what it was.
func do(ctx context.Context, c *http.Client, s Scenario, buf *bytes.Buffer) (bool, error) {
	ok, _, err := doKind(ctx, c, s, 0, buf)
	return ok, err
}

// doKind sends the scenario's i-th request (see Scenario.request).
func doKind(ctx context.Context, c *http.Client, s Scenario, i int, buf *bytes.Buffer) (bool, string, error) {
	body, want := s.request(i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return false, errorKind(err, 0, nil), err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, errorKind(err, 0, nil), err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return false, errorKind(err, 0, nil), err
	}
	if resp.StatusCode == http.StatusOK && !bytes.Contains(buf.Bytes(), []byte(`"errors":`)) {
		if want != nil && !bytes.Equal(buf.Bytes(), want) {
			return false, errDifferent.Error(), nil
		}
		return true, "", nil
	}
	return false, errorKind(nil, resp.StatusCode, buf.Bytes()), nil
}

// countError adds one error of kind to r.
func (r *Result) countError(kind string) {
	if r.ErrorKinds == nil {
		r.ErrorKinds = map[string]int{}
	}
	r.ErrorKinds[kind]++
}

// fetch sends one request and returns the body, failing on errors.
func fetch(ctx context.Context, c *http.Client, s Scenario) ([]byte, error) {
	var buf bytes.Buffer
	ok, err := do(ctx, c, s, &buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: bad answer: %.300s", s.Name, buf.String())
	}
	return buf.Bytes(), nil
}

// ClosedLoop runs conc clients that each send the next request as soon as the
// previous answer arrives, for warmup (not measured) and then dur.
func ClosedLoop(ctx context.Context, c *http.Client, s Scenario, conc int, warmup, dur time.Duration) Result {
	start := time.Now()
	measureFrom, stop := start.Add(warmup), start.Add(warmup+dur)
	var mu sync.Mutex
	res := Result{Scenario: s.Name, Mode: fmt.Sprintf("closed, c=%d", conc)}
	var wg sync.WaitGroup
	for client := range conc {
		wg.Go(func() {
			next := client // the clients start on different pages of a walk
			var buf bytes.Buffer
			lat := make([]time.Duration, 0, 4096)
			var kinds []string
			for {
				t0 := time.Now()
				if t0.After(stop) || ctx.Err() != nil {
					break
				}
				ok, kind, _ := doKind(ctx, c, s, next, &buf)
				next++
				if t0.Before(measureFrom) {
					continue
				}
				lat = append(lat, time.Since(t0))
				if !ok {
					kinds = append(kinds, kind)
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.Errors += len(kinds)
			for _, k := range kinds {
				res.countError(k)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(measureFrom)
	return res.finish()
}

// OpenLoop sends requests at a fixed rate, whether or not earlier ones were
// answered, and measures each latency from the moment it was due, so a stall
// counts against every request it delays (no coordinated omission).
func OpenLoop(ctx context.Context, c *http.Client, s Scenario, rate float64, warmup, dur time.Duration) Result {
	const maxInFlight = 512
	res := Result{Scenario: s.Name, Mode: fmt.Sprintf("open, %.0f/s", rate)}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	measureFrom := start.Add(warmup)
	total := int((warmup + dur).Seconds() * rate)
	sem := make(chan struct{}, maxInFlight)
	var mu sync.Mutex
	var wg sync.WaitGroup
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			mu.Lock()
			res.Late++
			res.countError(fmt.Sprintf("late: %d requests already in flight", maxInFlight))
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			buf := bufs.Get().(*bytes.Buffer)
			ok, kind, _ := doKind(ctx, c, s, i, buf)
			bufs.Put(buf)
			lat := time.Since(due)
			if due.Before(measureFrom) {
				return
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat)
			if !ok {
				res.Errors++
				res.countError(kind)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(measureFrom)
	return res.finish()
}

// merge adds the measurements of a later run of the same scenario.
func (r Result) merge(o Result) Result {
	if r.Scenario == "" {
		return o
	}
	r.latencies = append(r.latencies, o.latencies...)
	r.Errors += o.Errors
	r.Late += o.Late
	for k, n := range o.ErrorKinds {
		if r.ErrorKinds == nil {
			r.ErrorKinds = map[string]int{}
		}
		r.ErrorKinds[k] += n
	}
	r.Elapsed += o.Elapsed
	return r.finish()
}

func (r Result) finish() Result {
	slices.Sort(r.latencies)
	r.Requests = len(r.latencies)
	if r.Requests == 0 {
		return r
	}
	q := func(p float64) time.Duration {
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	r.P50, r.P95, r.P99, r.Max = q(0.50), q(0.95), q(0.99), r.latencies[len(r.latencies)-1]
	r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
