package api

import (
	"net/http"
	"strings"
)

// addVary adds the header names in values (each a name or a comma-separated
// list) to h's Vary header, keeping the ones already there (a CORS
// middleware's Origin, say) and adding none twice. Setting Vary instead would
// let a shared cache serve one origin's answer to another.
func addVary(h http.Header, values ...string) {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !hasVary(h, tok) {
				h.Add("Vary", tok)
			}
		}
	}
}

// hasVary reports whether h's Vary header lists tok (or *).
func hasVary(h http.Header, tok string) bool {
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			v = strings.TrimSpace(v)
			if v == "*" || strings.EqualFold(v, tok) {
				return true
			}
		}
	}
	return false
}
