package api

import (
	"crypto/subtle"
	"net/http"
)

// For the tests of package api_test only.

// HasToken reports whether r carries Authorization: Bearer <token> (the
// scheme in any case), compared in constant time. With no token configured
// nothing has it. It does not slow guesses; Auth.Check does.
func HasToken(r *http.Request, token string) bool {
	got, ok := bearer(r.Header.Get("Authorization"))
	return token != "" && ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Authenticate is Auth.Authenticate with the token alone: failed attempts are
// not slowed. The server uses NewAuth.
func Authenticate(token string) func(http.Handler) http.Handler {
	return NewAuth(AuthOptions{Token: token}).Authenticate
}
