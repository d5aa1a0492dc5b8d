package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"policygraph/internal/testenv"
)

// specRequest is one request of the GraphQL-over-HTTP audits.
type specRequest struct {
	method, accept, contentType string
	body                        *string // nil: no body
	params                      url.Values
}

func (s specRequest) do(t *testing.T, base string) (*http.Response, map[string]json.RawMessage) {
	t.Helper()
	u := base + "/graphql"
	if s.params != nil {
		u += "?" + s.params.Encode()
	}
	var body io.Reader
	if s.body != nil {
		body = strings.NewReader(*s.body)
	}
	req, err := http.NewRequest(s.method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if s.accept != "" {
		req.Header.Set("Accept", s.accept)
	}
	if s.contentType != "" {
		req.Header.Set("Content-Type", s.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]json.RawMessage
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

func jsonBody(v any) *string {
	b, _ := json.Marshal(v)
	s := string(b)
	return &s
}

func rawBody(s string) *string { return &s }

const (
	gqlResp = "application/graphql-response+json"
	appJSON = "application/json"
)

// TestGraphQLOverHTTP checks the server against the GraphQL-over-HTTP
// specification's list of server requirements (the audits of graphql-http, by
// their IDs), then the requirements this service adds: 405 for a mutation over
// GET, 406 for an Accept header it cannot serve, 401/403 for refused writes.
func TestGraphQLOverHTTP(t *testing.T) {
	srv := testenv.Server(t)
	typename := map[string]any{"query": "{ __typename }"}
	post := func(accept string, body *string) specRequest {
		return specRequest{method: "POST", accept: accept, contentType: appJSON, body: body}
	}
	get := func(accept string, params url.Values) specRequest {
		return specRequest{method: "GET", accept: accept, params: params}
	}
	withQ := func(extra map[string]any) *string {
		m := map[string]any{"query": "{ __typename }"}
		for k, v := range extra {
			m[k] = v
		}
		return jsonBody(m)
	}
	typeQuery := "query Type($name: String!) { __type(name: $name) { name } }"
	type audit struct {
		id     string
		req    specRequest
		status int
		// contentType the response must have (prefix); errors: must it have
		// errors (1), must it not (-1), either (0); noData: no "data" entry.
		contentType string
		errors      int
		noData      bool
	}
	invalid := []any{map[string]any{"obj": "ect"}, 0, false, []any{"array"}}
	audits := []audit{
		{id: "22EB", req: post(gqlResp, jsonBody(typename)), status: 200, contentType: gqlResp},
		{id: "4655", req: post(appJSON, jsonBody(typename)), status: 200, contentType: appJSON},
		{id: "47DE", req: post("*/*", jsonBody(typename)), status: 200, contentType: appJSON},
		{id: "80D8", req: get("", url.Values{"query": {"{ __typename }"}}), status: 200, contentType: appJSON},
		{id: "82A3", req: post("", jsonBody(typename)), status: 200, contentType: "application/json; charset=utf-8"},
		{id: "BF61", req: specRequest{method: "POST", contentType: "application/json; charset=utf-8", body: jsonBody(typename)}, status: 200},
		{id: "78D5", req: post("", jsonBody(typename)), status: 200},
		{id: "2C94", req: post("", jsonBody(typename)), status: 200},
		{id: "5A70", req: get("", url.Values{"query": {"{ __typename }"}}), status: 200},
		{id: "9C48", req: get(gqlResp, url.Values{"query": {"mutation { retractFact(input: {id: \"00000000-0000-0000-0000-000000000000\", reason: \"x\"}) { id } }"}}), status: 405},
		{id: "9ABE", req: specRequest{method: "POST"}, status: 415},
		{id: "03D4", req: post("", jsonBody(typename)), status: 200},
		{id: "7267", req: post(appJSON, nil), status: 200, errors: 1},
		{id: "7267+", req: post(gqlResp, nil), status: 400, errors: 1, noData: true},
		{id: "6610", req: post(gqlResp, jsonBody(map[string]any{"notquery": "{ __typename }"})), status: 400},
		{id: "3715", req: post(appJSON, jsonBody(map[string]any{"notquery": "{ __typename }"})), status: 200, errors: 1},
		{id: "34A2", req: post(gqlResp, jsonBody(typename)), status: 200},
		{id: "13EE", req: post(appJSON, jsonBody(typename)), status: 200, errors: -1},
		{id: "8161", req: post(gqlResp, jsonBody(map[string]any{"operationName": "Query", "query": "query Query { __typename }"})), status: 200},
		{id: "B8B3", req: post(appJSON, jsonBody(map[string]any{"operationName": "Query", "query": "query Query { __typename }"})), status: 200, errors: -1},
		{id: "2EA1", req: post(gqlResp, jsonBody(map[string]any{"query": typeQuery, "variables": map[string]any{"name": "sometype"}})), status: 200},
		{id: "28B9", req: post(appJSON, jsonBody(map[string]any{"query": typeQuery, "variables": map[string]any{"name": "sometype"}})), status: 200, errors: -1},
		{id: "D6D5", req: get(gqlResp, url.Values{"query": {typeQuery}, "variables": {`{"name":"sometype"}`}}), status: 200},
		{id: "6A70", req: get(appJSON, url.Values{"query": {typeQuery}, "variables": {`{"name":"sometype"}`}}), status: 200, errors: -1},
		{id: "428F", req: post(gqlResp, withQ(map[string]any{"extensions": map[string]any{"some": "value"}})), status: 200},
		{id: "1B7A", req: post(appJSON, withQ(map[string]any{"extensions": map[string]any{"some": "value"}})), status: 200, errors: -1},
		// BCF8 and B6DC replaced the older D477 (200 under application/json):
		// a body that is not JSON is answered 400 whatever the Accept.
		{id: "BCF8", req: specRequest{method: "POST", contentType: appJSON, body: rawBody(`{ "not a JSON`)}, status: 400, errors: 1, noData: true},
		{id: "B6DC", req: specRequest{method: "POST", contentType: appJSON, body: rawBody(`NONSENSE`)}, status: 400, errors: 1},
		{id: "BCF8 application/json", req: post(appJSON, rawBody(`{ "not a JSON`)), status: 400, errors: 1, noData: true},
		{id: "not UTF-8, application/json", req: post(appJSON, rawBody("{\"query\": \"{ __typename \xff }\"}")), status: 400, errors: 1},
		{id: "JSON, not an object, application/json", req: post(appJSON, rawBody(`["{ __typename }"]`)), status: 200, errors: 1},
		{id: "F5AF", req: post(appJSON, jsonBody(map[string]any{"qeury": "{ __typename }"})), status: 200},
		{id: "572B", req: post(appJSON, jsonBody(map[string]any{"query": "{"})), status: 200},
		{id: "FDE2", req: post(appJSON, jsonBody(map[string]any{"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"})), status: 200},
		{id: "60AA/2163", req: post(gqlResp, rawBody(`{ "not a JSON`)), status: 400},
		{id: "3E36/17C5/34D6", req: post(gqlResp, jsonBody(map[string]any{"qeury": "{ __typename }"})), status: 400, noData: true},
		{id: "865D/556A/D586", req: post(gqlResp, jsonBody(map[string]any{"query": "{"})), status: 400, noData: true},
		{id: "51FE/74FF/5E5B", req: post(gqlResp, jsonBody(map[string]any{"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"})), status: 400, noData: true},
		{id: "86EE", req: post(gqlResp, jsonBody(map[string]any{"query": typeQuery, "variables": map[string]any{"name": 42}})), status: 400, noData: true},
		// Beyond the audits: what this service promises.
		{id: "406", req: post("text/html", jsonBody(typename)), status: 406, errors: 1},
		{id: "406 q=0", req: post("application/json;q=0, text/plain", jsonBody(typename)), status: 406},
		{id: "q-values", req: post("application/json;q=0.9, application/graphql-response+json;q=0.5", jsonBody(typename)), status: 200, contentType: appJSON},
		{id: "415 text/plain", req: specRequest{method: "POST", contentType: "text/plain", body: jsonBody(typename)}, status: 415},
		{id: "401 write without token", req: post(gqlResp, jsonBody(map[string]any{"query": `mutation { createEntity(input: {kind: TOPIC, name: "x"}) { id } }`})), status: 401, noData: true},
		{id: "200 write without token, application/json", req: post(appJSON, jsonBody(map[string]any{"query": `mutation { createEntity(input: {kind: TOPIC, name: "x"}) { id } }`})), status: 200, errors: 1},
		{id: "GET variables not JSON", req: get(gqlResp, url.Values{"query": {typeQuery}, "variables": {`{name`}}), status: 400},
		{id: "GET operationName", req: get(gqlResp, url.Values{"query": {"query A { __typename } query B { __typename }"}, "operationName": {"B"}}), status: 200, errors: -1},
		{id: "unknown operationName", req: post(gqlResp, jsonBody(map[string]any{"query": "query A { __typename }", "operationName": "C"})), status: 400, noData: true},
	}
	for i, v := range invalid {
		n := string(rune('0' + i))
		audits = append(audits,
			audit{id: "4F5" + n, req: post(gqlResp, jsonBody(map[string]any{"query": v})), status: 400},
			audit{id: "9FE" + n, req: post(appJSON, jsonBody(map[string]any{"query": v})), status: 200, errors: 1},
			audit{id: "E3E" + n, req: post(gqlResp, withQ(map[string]any{"operationName": v})), status: 400},
			audit{id: "FB9" + n, req: post(appJSON, withQ(map[string]any{"operationName": v})), status: 200, errors: 1},
		)
	}
	for i, v := range []any{"string", 0, false, []any{"array"}} {
		n := string(rune('0' + i))
		audits = append(audits,
			audit{id: "69B" + n, req: post(gqlResp, withQ(map[string]any{"variables": v})), status: 400},
			audit{id: "F05" + n, req: post(appJSON, withQ(map[string]any{"variables": v})), status: 200, errors: 1},
			audit{id: "904" + n, req: post(gqlResp, withQ(map[string]any{"extensions": v})), status: 400},
			audit{id: "368" + n, req: post(appJSON, withQ(map[string]any{"extensions": v})), status: 200, errors: 1},
		)
	}
	for i, p := range []string{"variables", "operationName", "extensions"} {
		n := string(rune('0' + i))
		audits = append(audits,
			audit{id: "94B" + n, req: post(gqlResp, withQ(map[string]any{p: nil})), status: 200, errors: -1},
			audit{id: "022" + n, req: post(appJSON, withQ(map[string]any{p: nil})), status: 200, errors: -1},
		)
	}
	for _, a := range audits {
		t.Run(a.id, func(t *testing.T) {
			resp, body := a.req.do(t, srv.URL)
			if resp.StatusCode != a.status {
				t.Errorf("status = %d, want %d (body %v)", resp.StatusCode, a.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); a.contentType != "" && !strings.HasPrefix(ct, a.contentType) {
				t.Errorf("Content-Type = %q, want %q", ct, a.contentType)
			}
			_, hasErrors := body["errors"]
			if a.errors == 1 && !hasErrors {
				t.Errorf("no errors field: %v", body)
			}
			if a.errors == -1 && hasErrors {
				t.Errorf("unexpected errors: %s", body["errors"])
			}
			if _, hasData := body["data"]; a.noData && hasData {
				t.Errorf("a request error has a data entry: %v", body)
			}
		})
	}
}
