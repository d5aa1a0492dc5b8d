// Package app is the policygraph service as a program: its configuration
// (flags with environment fallbacks), the route table, the middleware and the
// subcommands (serve, seed, export, import, backup, restore, check, token).
// Run is what main calls and what tests start. Serving opens (or creates) an embedded
// Badger database, seeds it from the WAIC 2023 article when empty, and serves
// the API, the GraphQL IDE, the explorer and a health check.
package app

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Run dispatches to a subcommand; with none (or "serve") it serves until ctx
// is done. It reads the environment only through getenv, and standard input
// (the import command's) only through stdin.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "seed":
		return seedCommand(args, getenv, stdout, stderr)
	case "export":
		return exportCommand(args, getenv, stdout, stderr)
	case "import":
		return importCommand(stdin, args, getenv, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args, getenv, stdout, stderr)
	case "restore":
		return restoreCommand(args, getenv, stdout, stderr)
	case "check":
		return checkCommand(args, getenv, stdout, stderr)
	case "token":
		return tokenCommand(args, stdout, stderr)
	case "ingest":
		return ingestCommand(ctx, args, getenv, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (commands: serve, seed, export, import, backup, restore, check, token, ingest)", cmd)
}
