#!/usr/bin/env bash
# build-etcd.sh: builds an etcd server from the Go module go.etcd.io/etcd/server/v3,
# to run the etcd tests and measurements against a current release as well as
# Debian's etcd-server (3.4, what CI runs):
#
#   scripts/build-etcd.sh [VERSION [OUT]]
#   POLICYGRAPH_ETCD_BIN=$(scripts/build-etcd.sh) go test ./internal/etcdtest
#
# VERSION defaults to the etcd client's version in go.mod (so the server
# matches the client), OUT to ./cluster/bin/etcd-VERSION. It builds in a
# temporary module of its own, so the service's go.mod stays free of etcd's
# server dependencies; the first build takes minutes. It prints OUT.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-$(cd "$root" && go list -m -f '{{.Version}}' go.etcd.io/etcd/client/v3)}
out=${2:-$root/cluster/bin/etcd-$version}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/main.go" <<'GO'
// Command etcd is etcd's server, as its release binary runs it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
(
  cd "$work"
  go mod init etcdbuild >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$version" >&2
  go mod tidy >&2
  go build -o "$out" . >&2
)
"$out" --version >&2
echo "$out"
