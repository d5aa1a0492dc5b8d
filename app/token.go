package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"policygraph/api"
)

// tokenCommand makes a curator's token: it prints a new random token, once,
// on the first line, and on the second the line of the token file that
// names the curator, its scopes and the token's hash. The token itself is
// stored nowhere.
func tokenCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the curator's name, recorded on every write made with the token, e.g. alice")
	scopes := fs.String("scopes", string(api.ScopeWrite), "comma-separated scopes: read, write, admin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	if *name == "" {
		return errors.New("token: give the curator's -name")
	}
	token, err := api.NewToken()
	if err != nil {
		return err
	}
	line := *name + " " + *scopes + " " + api.HashToken(token)
	// The line is checked as the server will read it.
	if _, err := api.ParseCurators(strings.NewReader(line), "token"); err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintln(stdout, line)
	fmt.Fprintf(stderr, "line 1 is %s's token, shown only now: give it to them (Authorization: Bearer <token>).\n"+
		"line 2 goes in the token file (-tokens-file); then send the server SIGHUP to load it.\n", *name)
	return nil
}
