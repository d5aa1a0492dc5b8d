package main

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain runs the bench instead of the tests when the bench started this
// test binary as its child (childEnv): the open loop's load generator
// (-loadgen) and the scale bench's server (serve) run the bench's own
// executable, which in a test is this binary.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
