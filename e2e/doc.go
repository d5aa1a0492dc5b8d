// Package e2e holds policygraph's end-to-end tests: the service as a client
// meets it, through the real route table over HTTP, the service run in
// process, or the built binary (kill -9, strace, a full disk, memory). They
// start the service the one way internal/testenv offers. The questions the
// article answers are testdata/questions/NN-name.graphql, each with its
// .golden answer (go test ./e2e -run TestQuestions -update rewrites them), and
// the examples of README.md and docs/*.md run as they are written, and their
// links resolve.
package e2e
