// Package errs is policygraph's one table of error codes. Every code a client
// can see (a GraphQL error's extensions.code, or the code of an HTTP answer
// that refuses a request) is defined here once, with the HTTP status that
// answers a request refused with it and what it means; Error is the one error
// type the layers under the API return for a failure the client caused.
//
// The layers read the table and never spell a code: storage returns *Error
// values, the GraphQL layer presents them (graph.PresentError), and the HTTP
// layer answers refused requests with Status and Body. The package imports
// neither GraphQL nor HTTP, so storage can use it.
package errs

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Code is a stable, client-visible error code.
type Code string

// The codes. Their statuses and meanings are in the table below.
const (
	// Input the client can correct (storage's codes).
	NotFound         Code = "NOT_FOUND"
	WrongKind        Code = "WRONG_KIND"
	InvalidArgument  Code = "INVALID_ARGUMENT"
	InvalidDate      Code = "INVALID_DATE"
	InvalidCountry   Code = "INVALID_COUNTRY"
	QuoteNotInSource Code = "QUOTE_NOT_IN_SOURCE"
	AlreadyExists    Code = "ALREADY_EXISTS"
	AlreadyRetracted Code = "ALREADY_RETRACTED"
	Conflict         Code = "CONFLICT"
	Timeout          Code = "TIMEOUT"
	DiskFull         Code = "DISK_FULL"
	VersionGone      Code = "VERSION_GONE"
	// StoreUnavailable: the store (an etcd cluster) cannot be reached or
	// has no quorum; writes fail with it within a bound, reads go on.
	StoreUnavailable Code = "STORE_UNAVAILABLE"
	// VersionNotReached: a request asked for at least a version the
	// server's read model has not reached within the wait allowed.
	VersionNotReached Code = "VERSION_NOT_REACHED"

	// Writes and the server.
	Unauthenticated     Code = "UNAUTHENTICATED"
	WritesDisabled      Code = "WRITES_DISABLED"
	Forbidden           Code = "FORBIDDEN"
	TooManyAuthFailures Code = "TOO_MANY_AUTH_FAILURES"
	Internal            Code = "INTERNAL"
	ServerBusy          Code = "SERVER_BUSY"
	TooManyStreams      Code = "TOO_MANY_STREAMS"
	// TooManySubscriptions refuses a subscription past -max-subscriptions
	// or -max-subscriptions-per-conn.
	TooManySubscriptions Code = "TOO_MANY_SUBSCRIPTIONS"

	// Requests refused for what they ask.
	IntrospectionDisabled Code = "INTROSPECTION_DISABLED"
	DepthLimit            Code = "DEPTH_LIMIT_EXCEEDED"
	ComplexityLimit       Code = "COMPLEXITY_LIMIT_EXCEEDED"
	TooManyAliases        Code = "TOO_MANY_ALIASES"
	TokenLimit            Code = "TOKEN_LIMIT_EXCEEDED"
	ResponseTooLarge      Code = "RESPONSE_TOO_LARGE"

	// Requests that are not well-formed GraphQL over HTTP.
	BadRequest           Code = "BAD_REQUEST"
	RequestTooLarge      Code = "REQUEST_TOO_LARGE"
	UnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	NotAcceptable        Code = "NOT_ACCEPTABLE"
	MethodNotAllowed     Code = "METHOD_NOT_ALLOWED"

	// gqlgen's own codes (errcode.ParseFailed, errcode.ValidationFailed, the
	// automatic persisted queries extension's).
	ParseFailed            Code = "GRAPHQL_PARSE_FAILED"
	ValidationFailed       Code = "GRAPHQL_VALIDATION_FAILED"
	PersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"

	// Saved queries at /q/ and their CSV form.
	SavedQueryInvalid Code = "SAVED_QUERY_INVALID"
	CSVTableAmbiguous Code = "CSV_TABLE_AMBIGUOUS"
	CSVTableUnknown   Code = "CSV_TABLE_UNKNOWN"
	CSVTooLarge       Code = "CSV_TOO_LARGE"

	// Source bundles (policygraph ingest, ingestSource).
	BundleInvalid   Code = "BUNDLE_INVALID"
	AmbiguousEntity Code = "AMBIGUOUS_ENTITY"

	// Unknown is never sent: it is the metrics' label of an error that has no code.
	Unknown Code = "UNKNOWN"
)

// entry is one row of the table.
type entry struct {
	// status answers a request refused with the code: under
	// application/graphql-response+json for a GraphQL request (under
	// application/json a refused GraphQL request is 200, as the
	// GraphQL-over-HTTP specification says), and as it is for /q/.
	status int
	// means says when the code is given, for the table's readers.
	means string
}

// table is every code with its status and meaning. A field error (one with
// data beside it) is 200 whatever its code: the status is that of a request
// the code refuses as a whole.
var table = map[Code]entry{
	NotFound:          {404, "an ID, slug or saved-query name that names nothing"},
	WrongKind:         {404, "a lookup of one kind given the ID or slug of another kind (organization(slug: \"waic-2023\"), an event): answered null, with a hint naming the lookup that finds it"},
	InvalidArgument:   {400, "an argument or input that does not fit: a fact that does not fit its predicate, an empty name, a bad cursor, first over its bound"},
	InvalidDate:       {400, "not YYYY, YYYY-MM or YYYY-MM-DD, a day that does not exist, an end before its start"},
	InvalidCountry:    {400, "not an ISO 3166-1 alpha-2 country code"},
	QuoteNotInSource:  {400, "an evidence quote that is not verbatim in its source's text"},
	AlreadyExists:     {409, "a taken ID or slug"},
	AlreadyRetracted:  {409, "a second retraction of a fact or an entity"},
	Conflict:          {409, "a write that lost to concurrent writes too often"},
	Timeout:           {503, "a request that ran out of time; its work was stopped"},
	DiskFull:          {507, "a write while the disk holding the store is nearly full"},
	StoreUnavailable:  {503, "the store (an etcd cluster) cannot be reached or has lost its quorum: writes are refused within a bound, reads go on from the server's last version; retry after the Retry-After delay"},
	VersionNotReached: {503, "the request asked (Policygraph-Min-Version) for a version this server's read model has not reached within the wait allowed; retry after the Retry-After delay, or on another server"},
	VersionGone:       {410, "changes asked for from a version older than the change log keeps (see -change-log-versions and -change-log-age), or from another store than the server holds: read the graph again, then follow from its version"},

	Unauthenticated:      {401, "a write, a backup, or any request to a private server, without a curator's bearer token"},
	WritesDisabled:       {403, "a write to a server started without a token that has the scope it needs"},
	Forbidden:            {403, "a curator's token without the scope the request needs (write for mutations, admin for backups and saved queries)"},
	TooManyAuthFailures:  {429, "a client address that failed at the token too often; retry after Retry-After"},
	Internal:             {500, "anything else: logged in full, never detailed to the client"},
	ServerBusy:           {503, "no admission slot came free in time; retry after Retry-After"},
	TooManyStreams:       {429, "a stream (/changes) past the bound on open streams, from this client or in all (-max-streams-per-client, -max-streams); retry after Retry-After"},
	TooManySubscriptions: {429, "a subscription past the server's bound (-max-subscriptions) or its connection's (-max-subscriptions-per-conn): end one, or retry later"},

	IntrospectionDisabled: {400, "__schema or __type on a server without introspection"},
	DepthLimit:            {400, "a query that nests fields deeper than the limit"},
	ComplexityLimit:       {400, "a query whose estimated cost exceeds the limit"},
	TooManyAliases:        {400, "a query with more aliased or repeated fields than the limit"},
	TokenLimit:            {400, "a query with more tokens, or a longer name, than the limit"},
	ResponseTooLarge:      {400, "a query whose answer is larger than the limit"},

	BadRequest:           {400, "a request that is not a well-formed GraphQL-over-HTTP request, or bad URL parameters of a saved query"},
	RequestTooLarge:      {413, "a request body larger than the limit"},
	UnsupportedMediaType: {415, "a POST body that is not application/json (utf-8)"},
	NotAcceptable:        {406, "an Accept header that allows neither response media type"},
	MethodNotAllowed:     {405, "a mutation over GET, or a saved query read with another method than GET or HEAD"},

	ParseFailed:            {400, "a query that does not parse"},
	ValidationFailed:       {400, "a query that does not fit the schema"},
	PersistedQueryNotFound: {200, "an automatic persisted query's hash the server does not know yet: send the query with it"},

	SavedQueryInvalid: {409, "a saved query that no longer validates against the schema"},
	CSVTableAmbiguous: {400, "a CSV answer of a query with lists side by side, and no table parameter to pick one"},
	CSVTableUnknown:   {400, "a CSV table parameter that names no list of objects of the query"},
	CSVTooLarge:       {400, "a CSV table with more rows or bytes than the server writes"},

	BundleInvalid:   {400, "a source bundle that does not parse or has the wrong shape: the message gives the file and line"},
	AmbiguousEntity: {409, "a bundle's entity whose names match several stored entities: the message names them; pin one with sameAs"},

	Unknown: {400, "the metrics' label of an error without a code (never sent)"},
}

// Status is the HTTP status that answers a request refused with code; 400 for
// a code the table does not hold.
func Status(code Code) int {
	if e, ok := table[code]; ok {
		return e.status
	}
	return 400
}

// Known reports whether the table holds code.
func Known(code Code) bool {
	_, ok := table[code]
	return ok
}

// Meaning says when code is given ("" for a code the table does not hold).
func Meaning(code Code) string { return table[code].means }

// Codes lists every code of the table, in byte order.
func Codes() []Code {
	out := make([]Code, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Error is a failure the client caused and can correct. Anything else the
// layers under the API return is internal: the client is told only "internal
// error" (Internal).
type Error struct {
	Code    Code
	Field   string // the input field at fault, when there is one
	Message string
	// Hint says what to ask instead, when the error knows (a WRONG_KIND
	// lookup: event(slug: "waic-2023")); the client sees it as
	// extensions.hint.
	Hint string
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an *Error.
func Errorf(code Code, field, format string, args ...any) error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err if it is (or wraps) an *Error, else "".
func CodeOf(err error) Code {
	if err == nil {
		return "" // without errors.As, whose target escapes: an allocation
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Body is the JSON body of an HTTP answer that refuses a request with code:
// {"errors":[{"message":msg,"extensions":{"code":code,...ext}}]}, the shape of
// a GraphQL request error. ext may be nil; it is not changed.
func Body(code Code, msg string, ext map[string]any) []byte {
	x := make(map[string]any, len(ext)+1)
	for k, v := range ext {
		x[k] = v
	}
	x["code"] = string(code)
	b, err := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": x}}})
	if err != nil { // ext holds what JSON cannot encode: answer without it
		b, _ = json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": string(code)}}}})
	}
	return b
}
