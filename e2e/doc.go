// Package e2e holds policygraph's end-to-end tests: the service as a client
// meets it, through the real route table over HTTP, the service run in
// process, or the built binary (kill -9, strace, a full disk, memory). They
// start the service the one way internal/testenv offers, and README's
// examples run as they are written.
package e2e
