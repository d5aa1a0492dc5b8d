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
	var cluster etcdConfig
	etcdDone := etcdFlags(fs, getenv, &cluster)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := etcdDone(); err != nil {
		return err
	}
	if given := btoi(*url != "") + btoi(*data != "") + btoi(cluster.enabled()); given != 1 {
		return errors.New("backup: give one of -url of a running server, -data of a stopped one, or -etcd of a cluster")
	}
	return writeAtomically(*out, stdout, func(w io.Writer) error {
		if cluster.enabled() {
			// Servers may run on the cluster: the backup reads one revision.
			g, err := openEtcdGraph(cluster, warnLogger(stderr))
			if err != nil {
				return err
			}
			defer g.Close()
			_, err = g.Backup(w)
			return err
		}
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
	return storage.WriteFileAtomic(path, ".backup-*", write)
}

// restoreCommand loads a backup into a new, empty data directory.
func restoreCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenv("POLICYGRAPH_DATA"), "empty or new data directory to restore into (env POLICYGRAPH_DATA)")
	in := fs.String("in", "-", "backup file to read; - for standard input")
	var cluster etcdConfig
	etcdDone := etcdFlags(fs, getenv, &cluster)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := etcdDone(); err != nil {
		return err
	}
	if (*data == "") == !cluster.enabled() {
		return errors.New("restore: give -data, an empty directory, or -etcd, a cluster whose -etcd-prefix holds no key")
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
	var rep *storage.RestoreReport
	var err error
	where := *data
	if cluster.enabled() {
		where = cluster.String()
		rep, err = restoreEtcd(cluster, r, warnLogger(stderr))
	} else {
		rep, err = badger.Restore(*data, r, warnLogger(stderr))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restore: %s holds the backup of store %s at version %d (taken %s): %d records, %d entities, %d facts, %d saved queries, checked; "+
		"the restored store is store %s at version %d\n", where, rep.From.StoreID, rep.From.Version, rep.From.CreatedAt.Format(time.RFC3339),
		rep.Records, rep.Import.Nodes, rep.Import.Facts, rep.Import.Saved, rep.StoreID, rep.Version)
	return nil
}

// restoreEtcd loads a backup into the cluster, under a prefix that holds no
// key, as badger.Restore does into a directory: the header is checked before
// anything is written, the records are imported (validated, the version
// raised above the backup's), the provenance recorded, and the graph
// checked; on any failure every key written under the prefix is deleted
// again. The restored graph has a new store ID.
func restoreEtcd(cluster etcdConfig, r io.Reader, log *slog.Logger) (rep *storage.RestoreReport, err error) {
	backup, err := storage.NewBackupReader(r)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	g, clear, err := openEmptyEtcdGraph(cluster, log)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	rep = &storage.RestoreReport{From: backup.Header}
	err = func() error {
		if rep.Records, rep.Import, err = backup.Load(g); err != nil {
			return err
		}
		key, prov, err := backup.Header.ProvenanceRecord(time.Now().UTC())
		if err != nil {
			return err
		}
		if err := g.KV().Update(func(tx storage.Txn) error { return tx.Set(key, prov) }); err != nil {
			return fmt.Errorf("record the provenance: %w", err)
		}
		check, err := g.Check()
		if err != nil {
			return fmt.Errorf("check the restored graph: %w", err)
		}
		if !check.OK() {
			return fmt.Errorf("the restored graph fails check with %d problems: %s", len(check.Problems), firstProblems(check, 3))
		}
		rep.StoreID, rep.Version = g.StoreID(), g.Version()
		return nil
	}()
	if closeErr := g.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("restore: %w", err), clear())
	}
	return rep, nil
}

// firstProblems joins the first n problems of a check's report.
func firstProblems(rep *storage.CheckReport, n int) string {
	msgs := make([]string, 0, n)
	for _, p := range rep.Problems[:min(n, len(rep.Problems))] {
		msgs = append(msgs, p.String())
	}
	return strings.Join(msgs, "; ")
}

// btoi is 1 for true, 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkCommand verifies a data directory no server holds, changing nothing in
// it (badger.CheckDir), or the graph in a cluster while servers run on it
// (checkEtcd), and lists every problem; it fails if there is any.
func checkCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenv("POLICYGRAPH_DATA"), "data directory to check, with no server running on it (env POLICYGRAPH_DATA)")
	model := fs.Bool("model", false, "also build the read model a server would and compare its every answer with the store's indexes, and check the change log's versions")
	var cluster etcdConfig
	etcdDone := etcdFlags(fs, getenv, &cluster)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := etcdDone(); err != nil {
		return err
	}
	var loader storage.ModelLoader
	if *model {
		loader = memgraph.Load
	}
	var rep *storage.CheckReport
	var modelProblems []string
	var err error
	where := *data
	if cluster.enabled() {
		if *data != "" {
			return errors.New("check: give -data of a stopped store or -etcd of a cluster, not both")
		}
		where = cluster.String()
		rep, modelProblems, err = checkEtcd(cluster, warnLogger(stderr), loader)
	} else {
		if err := holdsStore(*data); err != nil {
			return err
		}
		rep, modelProblems, err = badger.CheckDirModel(*data, warnLogger(stderr), loader, maxModelProblems)
	}
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	switch {
	case rep.Skipped != "":
		fmt.Fprintf(stdout, "check: %s: %d problems\n", rep.Skipped, len(rep.Problems))
	case cluster.enabled():
		fmt.Fprintf(stdout, "check: %d entities, %d facts in one read of the cluster (records, unique slugs and the change log; a cluster keeps no index): %d problems\n", rep.Nodes, rep.Facts, len(rep.Problems))
	default:
		fmt.Fprintf(stdout, "check: %d entities, %d facts, %d index and adjacency entries: %d problems\n", rep.Nodes, rep.Facts, rep.Keys, len(rep.Problems))
	}
	if !rep.OK() {
		return fmt.Errorf("check: %d problems in %s", len(rep.Problems), where)
	}
	if *model {
		for _, p := range modelProblems {
			fmt.Fprintln(stdout, p)
		}
		against := "the read model built from the store against its indexes, and the change log"
		if cluster.enabled() {
			against = "a read model built from the records against the one a server builds at start, at one version, and the change log"
		}
		fmt.Fprintf(stdout, "check -model: %s: %d problems\n", against, len(modelProblems))
		if len(modelProblems) > 0 {
			return fmt.Errorf("check -model: %d problems in %s", len(modelProblems), where)
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

// checkEtcd checks the graph under the cluster's prefix while servers may
// run on it, changing nothing: Check reads the records in one etcd read
// transaction, at one revision, so it checks one version of the graph while
// servers go on writing. With a loader, CheckModel builds a second model
// from the records and compares it with the one the graph built at open
// (as a server's), at the same version, and checks the change log.
func checkEtcd(cluster etcdConfig, log *slog.Logger, loader storage.ModelLoader) (*storage.CheckReport, []string, error) {
	g, err := openEtcdGraph(cluster, log)
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	rep, err := g.Check()
	if err != nil || loader == nil || !rep.OK() {
		return rep, nil, err
	}
	problems, err := g.CheckModel(loader, maxModelProblems)
	return rep, problems, err
}
