package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"policygraph/api"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// backupTrailer is the HTTP trailer the backup endpoint sets once the whole
// backup is written, so that a client can tell a complete backup from a cut one.
const backupTrailer = "Policygraph-Backup"

// backupHandler streams a backup of the running store, from one snapshot (GET
// /admin/backup; the format is in storage/backup.go). It needs the token of
// a curator with the admin scope; without one the server has no admin.
func backupHandler(g *storage.Graph, auth *api.Auth, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := auth.Require(w, r, api.ScopeAdmin, "a backup")
		if !ok {
			return
		}
		// A backup may outlast the server's write timeout.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="policygraph.backup"`)
		w.Header().Set("Trailer", backupTrailer)
		start := time.Now()
		info, err := g.Backup(w)
		if err != nil {
			log.ErrorContext(r.Context(), "backup failed", "err", err)
			return
		}
		w.Header().Set(backupTrailer, "complete")
		log.InfoContext(r.Context(), "backup written", "curator", c.Name, "store", info.StoreID.String(), "version", info.Version,
			"records", info.Records, "took", time.Since(start).String())
	})
}

// backupCommand writes a backup: online from a running server (-url), or offline
// from a data directory no server holds (-data).
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", getenv("POLICYGRAPH_URL"), "base URL of a running server, e.g. http://127.0.0.1:8080 (env POLICYGRAPH_URL)")
	token := fs.String("token", getenv("POLICYGRAPH_TOKEN"), "the bearer token of a curator with the admin scope (env POLICYGRAPH_TOKEN)")
	data := fs.String("data", "", "back up this data directory instead, with no server running on it")
	out := fs.String("out", "-", "file to write; - for standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*url == "") == (*data == "") {
		return errors.New("backup: give -url of a running server or -data of a stopped one")
	}
	return writeAtomically(*out, stdout, func(w io.Writer) error {
		if *data != "" {
			g, err := openExisting(*data, stderr)
			if err != nil {
				return err
			}
			defer g.Close()
			_, err = g.Backup(w)
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(*url, "/")+"/admin/backup", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+*token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
			return fmt.Errorf("backup: %s: %s", res.Status, strings.TrimSpace(string(msg)))
		}
		if _, err := io.Copy(w, res.Body); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if res.Trailer.Get(backupTrailer) != "complete" {
			return errors.New("backup: the server did not finish the backup (see its log)")
		}
		return nil
	})
}

// writeAtomically runs write into path through a temporary file renamed into
// place on success, so a failed backup never leaves a partial file; "-" writes to stdout.
func writeAtomically(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// restoreCommand loads a backup into a new, empty data directory.
func restoreCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenv("POLICYGRAPH_DATA"), "empty or new data directory to restore into (env POLICYGRAPH_DATA)")
	in := fs.String("in", "-", "backup file to read; - for standard input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("restore: give -data, an empty directory")
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := badger.Restore(*data, r, slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restore: %s holds the backup of store %s at version %d (taken %s): %d records, %d entities, %d facts, %d saved queries, checked; "+
		"the restored store is store %s at version %d\n", *data, rep.From.StoreID, rep.From.Version, rep.From.CreatedAt.Format(time.RFC3339),
		rep.Records, rep.Import.Nodes, rep.Import.Facts, rep.Import.Saved, rep.StoreID, rep.Version)
	return nil
}

// checkCommand verifies a data directory no server holds, changing nothing in
// it (badger.CheckDir), and lists every problem; it fails if there is any.
func checkCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenv("POLICYGRAPH_DATA"), "data directory to check, with no server running on it (env POLICYGRAPH_DATA)")
	model := fs.Bool("model", false, "also build the read model a server would and compare its every answer with the store's indexes, and check the change log's versions")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := holdsStore(*data); err != nil {
		return err
	}
	var loader storage.ModelLoader
	if *model {
		loader = memgraph.Load
	}
	rep, modelProblems, err := badger.CheckDirModel(*data, slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), loader, maxModelProblems)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	if rep.Skipped != "" {
		fmt.Fprintf(stdout, "check: %s: %d problems\n", rep.Skipped, len(rep.Problems))
	} else {
		fmt.Fprintf(stdout, "check: %d entities, %d facts, %d index and adjacency entries: %d problems\n", rep.Nodes, rep.Facts, rep.Keys, len(rep.Problems))
	}
	if !rep.OK() {
		return fmt.Errorf("check: %d problems in %s", len(rep.Problems), *data)
	}
	if *model {
		for _, p := range modelProblems {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintf(stdout, "check -model: the read model built from the store against its indexes, and the change log: %d problems\n", len(modelProblems))
		if len(modelProblems) > 0 {
			return fmt.Errorf("check -model: %d problems in %s", len(modelProblems), *data)
		}
	}
	return nil
}

// maxModelProblems bounds what check -model lists.
const maxModelProblems = 100

// openExisting opens the graph in an existing data directory, refusing to create one.
func openExisting(dir string, stderr io.Writer) (*storage.Graph, error) {
	if err := holdsStore(dir); err != nil {
		return nil, err
	}
	return openStore(dir, true, stderr)
}

// holdsStore fails unless dir is a data directory with a store in it.
func holdsStore(dir string) error {
	if dir == "" {
		return errors.New("give -data")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return fmt.Errorf("%s holds no store: %w", dir, err)
	}
	return nil
}
