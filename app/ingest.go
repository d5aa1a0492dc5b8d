package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"policygraph/bundle"
	"policygraph/errs"
)

// ingestMutation is what ingest -url sends; it selects the whole report.
const ingestMutation = `mutation($in: IngestSourceInput!) { ingestSource(input: $in) { dryRun source
  created { entities facts } merged { entities facts } refined { entities facts }
  disputed { entities facts } unchanged { entities facts } } }`

// ingestCommand ingests source bundles, in the order given, each in one
// transaction: into a running server (-url, through the ingestSource
// mutation) or a data directory no server holds (-data). It prints what each
// bundle created, merged, refined and disputed, and stops at the first
// bundle refused (those before it stay ingested).
func ingestCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", getenv("POLICYGRAPH_URL"), "base URL of a running server, e.g. http://127.0.0.1:8080 (env POLICYGRAPH_URL)")
	token := fs.String("token", getenv("POLICYGRAPH_TOKEN"), "the server's bearer token (env POLICYGRAPH_TOKEN)")
	data := fs.String("data", "", "ingest into this data directory instead, with no server running on it")
	dry, _ := strconv.ParseBool(getenv("POLICYGRAPH_INGEST_DRY_RUN"))
	fs.BoolVar(&dry, "dry-run", dry, "report what would change and write nothing (env POLICYGRAPH_INGEST_DRY_RUN)")
	by := fs.String("by", envOr(getenv, "POLICYGRAPH_INGEST_BY", "ingest"),
		"with -data: who the written records are recorded as written by (env POLICYGRAPH_INGEST_BY); a server records its token's curator")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: policygraph ingest [-dry-run] (-url URL -token TOKEN | -data DIR) BUNDLE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*url == "") == (*data == "") {
		return errors.New("ingest: give -url of a running server or -data of a stopped one")
	}
	if fs.NArg() == 0 {
		return errors.New("ingest: name at least one bundle file")
	}
	ingest := func(b *bundle.Bundle) (bundle.Report, error) { return ingestHTTP(ctx, *url, *token, b, dry) }
	if *data != "" {
		g, err := openExisting(*data, stderr)
		if err != nil {
			return err
		}
		defer g.Close()
		ingest = func(b *bundle.Bundle) (bundle.Report, error) {
			return bundle.Ingest(g, b, bundle.Options{By: *by, DryRun: dry})
		}
	}
	for _, path := range fs.Args() {
		b, err := bundle.Read(path)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		// What needs no store is checked here, against the file's lines.
		if err := b.Check(b.Source.Text); err != nil {
			return fmt.Errorf("ingest %s: %s: %w", path, errs.CodeOf(err), err)
		}
		rep, err := ingest(b)
		if err != nil {
			// The server read the bundle as JSON: place its error on the file's line.
			var e *errs.Error
			if errors.As(err, &e) && *data == "" {
				if l := b.Line(e.Field); l > 0 {
					e.Message = fmt.Sprintf("%s:%d:%s", path, l, strings.TrimPrefix(e.Message, "bundle:"+lineOf(e.Message)+":"))
				}
			}
			if code := errs.CodeOf(err); code != "" {
				return fmt.Errorf("ingest %s: %s: %w", path, code, err)
			}
			return fmt.Errorf("ingest %s: %w", path, err)
		}
		printReport(stdout, path, rep)
	}
	return nil
}

// printReport writes one line of counts, then one line per entity and fact
// that changed (unchanged ones are counted only).
func printReport(w io.Writer, path string, r bundle.Report) {
	note := ""
	if r.DryRun {
		note = " (dry run: nothing written)"
	}
	fmt.Fprintf(w, "%s: source %s: created %d, merged %d, refined %d, disputed %d, unchanged %d%s\n", path, r.Source,
		r.Created.Count(), r.Merged.Count(), r.Refined.Count(), r.Disputed.Count(), r.Unchanged.Count(), note)
	for _, c := range []struct {
		what string
		c    bundle.Changes
	}{{"created", r.Created}, {"merged", r.Merged}, {"refined", r.Refined}, {"disputed", r.Disputed}} {
		for _, e := range c.c.Entities {
			fmt.Fprintf(w, "  %s entity %s\n", c.what, e)
		}
		for _, f := range c.c.Facts {
			fmt.Fprintf(w, "  %s fact %s\n", c.what, f)
		}
	}
}

// ingestHTTP sends b, its text inline, to the server's ingestSource mutation.
func ingestHTTP(ctx context.Context, url, token string, b *bundle.Bundle, dry bool) (bundle.Report, error) {
	j, err := b.JSON()
	if err != nil {
		return bundle.Report{}, err
	}
	body, err := json.Marshal(map[string]any{"query": ingestMutation,
		"variables": map[string]any{"in": map[string]any{"bundle": string(j), "format": "JSON", "dryRun": dry}}})
	if err != nil {
		return bundle.Report{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/graphql", bytes.NewReader(body))
	if err != nil {
		return bundle.Report{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return bundle.Report{}, err
	}
	defer res.Body.Close()
	var out struct {
		Data *struct {
			IngestSource *struct {
				DryRun                                        bool
				Source                                        string
				Created, Merged, Refined, Disputed, Unchanged struct {
					Entities []string
					Facts    []uuid.UUID
				}
			}
		}
		Errors []struct {
			Message    string
			Extensions struct {
				Code  errs.Code
				Field string
			}
		}
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&out); err != nil {
		return bundle.Report{}, fmt.Errorf("%s: the answer is not GraphQL: %w", res.Status, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return bundle.Report{}, &errs.Error{Code: e.Extensions.Code, Field: e.Extensions.Field, Message: e.Message}
	}
	if out.Data == nil || out.Data.IngestSource == nil {
		return bundle.Report{}, fmt.Errorf("%s: no report in the answer", res.Status)
	}
	s := out.Data.IngestSource
	ch := func(c struct {
		Entities []string
		Facts    []uuid.UUID
	}) bundle.Changes {
		return bundle.Changes{Entities: c.Entities, Facts: c.Facts}
	}
	return bundle.Report{DryRun: s.DryRun, Source: s.Source, Created: ch(s.Created), Merged: ch(s.Merged),
		Refined: ch(s.Refined), Disputed: ch(s.Disputed), Unchanged: ch(s.Unchanged)}, nil
}

// lineOf is the line number after "bundle:" at the start of a server's
// message ("bundle:3: ..."), or "".
func lineOf(msg string) string {
	rest, ok := strings.CutPrefix(msg, "bundle:")
	if !ok {
		return ""
	}
	n, _, _ := strings.Cut(rest, ":")
	if _, err := strconv.Atoi(n); err != nil {
		return ""
	}
	return n
}
