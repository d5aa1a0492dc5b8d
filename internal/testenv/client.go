package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Client sends GraphQL requests to one server: over HTTP to URL's /graphql,
// or, when Handler is set, to Handler in this process.
type Client struct {
	URL     string
	Handler http.Handler
	// HTTP sends the requests to URL; nil: http.DefaultClient.
	HTTP *http.Client
	// Accept is the Accept header of every request; "" sends none (the
	// server then answers application/json, refusals with 200).
	Accept string
}

// At is a Client of the server at base URL.
func At(url string) *Client { return &Client{URL: url} }

// Response is a GraphQL answer as the tests read it.
type Response struct {
	Status int            `json:"-"`
	Header http.Header    `json:"-"`
	Raw    string         `json:"-"`
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// Code is the extensions.code of the first error, or "".
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Acked reports whether the server answered the request in full: 200, data,
// no errors (for a write: it acknowledged it).
func (r *Response) Acked() bool {
	return r.Status == http.StatusOK && len(r.Errors) == 0 && r.Data != nil
}

// OK fails the test unless the response is Acked.
func (r *Response) OK(t testing.TB) *Response {
	t.Helper()
	if !r.Acked() {
		t.Fatalf("status %d, errors: %s", r.Status, Clip(r.Raw))
	}
	return r
}

// WantError fails the test unless the response is refused with the status
// and code, and a message.
func (r *Response) WantError(t testing.TB, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("got status %d code %q, want %d %q: %s", r.Status, r.Code(), status, code, Clip(r.Raw))
	}
	if len(r.Errors) == 0 || strings.TrimSpace(r.Errors[0].Message) == "" {
		t.Fatalf("error without a message: %s", r.Raw)
	}
}

// Decode decodes the value at path of the data (see Value) into out.
func (r *Response) Decode(path string, out any) error {
	b, err := json.Marshal(Value(r.Data, path))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s: %w: %s", path, err, Clip(r.Raw))
	}
	return nil
}

// Do sends query with vars (token "": anonymous) and returns the answer; an
// error only when no GraphQL answer came.
func (c *Client) Do(ctx context.Context, token, query string, vars map[string]any) (*Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.Send(req)
}

// Send sends req (to Handler, or over HTTP) as it is, but for the client's
// Accept, and decodes the GraphQL answer.
func (c *Client) Send(req *http.Request) (*Response, error) {
	if c.Accept != "" && req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", c.Accept)
	}
	if c.Handler != nil {
		rec := httptest.NewRecorder()
		c.Handler.ServeHTTP(rec, req)
		return ReadResponse(rec.Result())
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	return ReadResponse(res)
}

// ReadResponse reads and closes res's body, a GraphQL answer.
func ReadResponse(res *http.Response) (*Response, error) {
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("status %d, body not JSON: %v: %s", res.StatusCode, err, Clip(out.Raw))
	}
	return out, nil
}

// Post is Do that fails the test when no answer came.
func (c *Client) Post(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	r, err := c.Do(context.Background(), token, query, vars)
	if err != nil {
		t.Fatalf("%s: %v", FirstLine(query), err)
	}
	return r
}

// Must is Post that fails the test unless the answer is Acked.
func (c *Client) Must(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	r := c.Post(t, token, query, vars)
	if !r.Acked() {
		t.Fatalf("%s: status %d: %s", FirstLine(query), r.Status, Clip(r.Raw))
	}
	return r
}

// Query is an anonymous read that fails the test on any error; it returns
// the data.
func (c *Client) Query(t testing.TB, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := c.Post(t, "", query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("query errors: %s", Clip(r.Raw))
	}
	return r.Data
}

// Value walks a decoded JSON value by a dotted path of keys and indexes
// ("a.0.b"); nil where the path leads nowhere.
func Value(v any, path string) any {
	if path == "" {
		return v
	}
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Strings collects field f of every element of the list at path.
func Strings(v any, path, f string) []string {
	var out []string
	list, _ := Value(v, path).([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(Value(x, f)))
	}
	return out
}

// Clip is s cut to 500 bytes, for messages.
func Clip(s string) string {
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}

// FirstLine is the first line of s, trimmed: a query's name in messages.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
