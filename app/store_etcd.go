package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"policygraph/storage"
	"policygraph/storage/etcd"
	"policygraph/storage/memgraph"
)

// openEtcd connects to the cluster e names (storage/etcd), within
// -etcd-timeout for the connection and for each request after it.
func openEtcd(e etcdConfig, log *slog.Logger) (*etcd.KV, error) {
	// The dial and the first request each have the timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.timeout)
	defer cancel()
	kv, err := etcd.Open(ctx, etcd.Config{Endpoints: e.endpoints, Prefix: e.prefix, Username: e.user, Password: e.password,
		TLS: e.tls, DialTimeout: e.timeout, OpTimeout: e.timeout, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	return kv, nil
}

// String names the cluster and prefix, for errors and logs; never the password.
func (e etcdConfig) String() string {
	return fmt.Sprintf("etcd %s, prefix %s", strings.Join(e.endpoints, ","), e.prefix)
}

// prefixEmpty reports whether the graph's prefix of the cluster holds no key
// at all: no graph, and nothing a failed restore or import left.
func prefixEmpty(kv storage.KV) (bool, error) {
	empty := true
	err := kv.View(func(tx storage.Txn) error {
		return tx.Scan(nil, true, func(_, _ []byte) error { empty = false; return storage.ErrStop })
	})
	return empty, err
}

// openEtcdGraph opens the graph under e's prefix for a command (backup,
// check, export): it must hold one, since opening an empty prefix would
// make a new store in it. The graph has a read model, which a cluster's
// graph needs (it keeps no indexes).
func openEtcdGraph(e etcdConfig, log *slog.Logger) (*storage.Graph, error) {
	kv, err := openEtcd(e, log)
	if err != nil {
		return nil, err
	}
	empty, err := prefixEmpty(kv)
	if err == nil && empty {
		err = errors.New("holds no graph (no key under the prefix): check -etcd-prefix")
	}
	if err != nil {
		kv.Close()
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	g, err := storage.OpenWith(kv, storage.Options{Model: memgraph.Load, Logger: log})
	if err != nil {
		kv.Close()
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	return g, nil
}

// openEmptyEtcdGraph opens a new graph under e's prefix for a command that
// fills one (restore, import): the prefix must hold no key. The returned
// clear deletes every key under the prefix again, once the graph is closed,
// for a fill that failed, so that nothing half-loaded stays for a server to find.
func openEmptyEtcdGraph(e etcdConfig, log *slog.Logger) (g *storage.Graph, clear func() error, err error) {
	kv, err := openEtcd(e, log)
	if err != nil {
		return nil, nil, err
	}
	empty, err := prefixEmpty(kv)
	if err == nil && !empty {
		err = errors.New("is not empty; restore or import only into a prefix that holds no key (a new -etcd-prefix, or delete the old graph with etcdctl del --prefix)")
	}
	if err != nil {
		kv.Close()
		return nil, nil, fmt.Errorf("%s: %w", e, err)
	}
	g, err = storage.OpenWith(kv, storage.Options{Model: memgraph.Load, Logger: log})
	if err != nil {
		kv.Close()
		return nil, nil, fmt.Errorf("%s: %w", e, err)
	}
	return g, func() error { return deletePrefix(e) }, nil
}

// deletePrefix deletes every key under e's prefix, in one request: what a
// restore or import that failed had written (the graph closed first).
func deletePrefix(e etcdConfig) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.endpoints, Username: e.user, Password: e.password, TLS: e.tls,
		DialTimeout: e.timeout, Logger: zap.NewNop()})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		_, err = cli.Delete(ctx, e.prefix, clientv3.WithPrefix())
		cancel()
		cli.Close()
	}
	if err != nil {
		return fmt.Errorf("%s: delete what the failed load wrote (etcdctl del --prefix %s does it): %w", e, e.prefix, err)
	}
	return nil
}
