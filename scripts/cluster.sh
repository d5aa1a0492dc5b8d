#!/usr/bin/env bash
# cluster.sh: a local policygraph cluster on loopback: a 3-member etcd
# cluster and two policygraph servers over it (-etcd, docs/cluster.md).
#
#   scripts/cluster.sh start    start what is not running, wait until healthy
#   scripts/cluster.sh status   what runs; exit 0 when everything does, 3 when not
#   scripts/cluster.sh stop     stop the servers, then the members; keep the data
#   scripts/cluster.sh clean    stop, then remove the cluster's directory
#
# Every command is idempotent: each process has a pid file, and a pid file
# names a process only while that process still runs with our arguments.
#
# Environment (defaults in brackets):
#   POLICYGRAPH_CLUSTER_DIR           data, logs, pid files and the server binary [./cluster]
#   POLICYGRAPH_CLUSTER_CLIENT_PORTS  the members' client ports [22379 22381 22383]
#   POLICYGRAPH_CLUSTER_PEER_PORTS    the members' peer ports [22380 22382 22384]
#   POLICYGRAPH_CLUSTER_SERVER_PORTS  the servers' HTTP ports; empty for none [8081 8082]
#   POLICYGRAPH_ETCD_BIN              the etcd binary [etcd in $PATH, else /usr/bin/etcd]
#   POLICYGRAPH_TOKEN                 passed on to the servers (writes need it)
#   POLICYGRAPH_ETCD_PREFIX           passed on: the servers' key prefix [/policygraph/]
#
# Each server keeps its read model's file in DIR/serverN; its log is
# DIR/logs/serverN.log. The first server to start seeds the empty cluster.
#
# etcd comes from Debian's etcd-server package (apt-get install etcd-server)
# or an upstream release. The ports stay off etcd's defaults (2379/2380),
# where a system etcd may run. Everything listens on 127.0.0.1 only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${POLICYGRAPH_CLUSTER_DIR:-./cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
read -r -a client_ports <<<"${POLICYGRAPH_CLUSTER_CLIENT_PORTS:-22379 22381 22383}"
read -r -a peer_ports <<<"${POLICYGRAPH_CLUSTER_PEER_PORTS:-22380 22382 22384}"
read -r -a server_ports <<<"${POLICYGRAPH_CLUSTER_SERVER_PORTS-8081 8082}"
members=${#client_ports[@]}
if [ "$members" -ne "${#peer_ports[@]}" ]; then
  echo "cluster: ${#client_ports[@]} client ports but ${#peer_ports[@]} peer ports" >&2
  exit 2
fi

endpoints=""
initial=""
for ((i = 0; i < members; i++)); do
  endpoints+="${endpoints:+,}http://127.0.0.1:${client_ports[i]}"
  initial+="${initial:+,}m$((i + 1))=http://127.0.0.1:${peer_ports[i]}"
done

etcd_bin() {
  if [ -n "${POLICYGRAPH_ETCD_BIN:-}" ]; then
    echo "$POLICYGRAPH_ETCD_BIN"
  elif command -v etcd >/dev/null 2>&1; then
    command -v etcd
  elif [ -x /usr/bin/etcd ]; then
    echo /usr/bin/etcd
  else
    echo "cluster: no etcd: apt-get install -y etcd-server, or set POLICYGRAPH_ETCD_BIN" >&2
    return 1
  fi
}

# running NAME MARK: the pid in NAME's pid file, if that process runs and its
# command line holds MARK (a path only this cluster uses), else nothing.
running() {
  local pidfile="$dir/run/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

# launch NAME LOG COMMAND...: starts COMMAND in a session (and so a process
# group) of its own, output to LOG, and records its pid.
launch() {
  local name=$1 log=$2
  shift 2
  rm -f "$dir/run/$name.pid"
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$dir/run/$name.pid" "$@" </dev/null >>"$log" 2>&1 &
  for _ in $(seq 50); do
    [ -s "$dir/run/$name.pid" ] && return 0
    sleep 0.1
  done
  echo "cluster: $name did not start; see $log" >&2
  return 1
}

# alive PID: the process runs (a zombie, not yet reaped, does not).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# gone PID: waits up to 10 s for the process to end.
gone() {
  for _ in $(seq 100); do
    alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# halt NAME:MARK...: SIGTERM to each one's process group, all at once, then
# SIGKILL to any still running after 10 s.
halt() {
  local i spec name mark pid pids=() names=()
  for spec in "$@"; do
    name=${spec%%:*} mark=${spec#*:}
    if pid=$(running "$name" "$mark"); then
      kill -TERM -- "-$pid" 2>/dev/null || true
      pids+=("$pid") names+=("$name")
    fi
    rm -f "$dir/run/$name.pid"
  done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    if ! gone "${pids[i]}"; then
      kill -KILL -- "-${pids[i]}" 2>/dev/null || true
      if ! gone "${pids[i]}"; then
        echo "cluster: ${names[i]} (pid ${pids[i]}) did not end" >&2
        return 1
      fi
    fi
    echo "cluster: stopped ${names[i]} (pid ${pids[i]})"
  done
}

member_healthy() {
  curl -fsS --max-time 2 "http://127.0.0.1:${client_ports[$1]}/health" 2>/dev/null | grep -q '"health":"true"'
}

server_ready() {
  curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${server_ports[$1]}/readyz" 2>/dev/null
}

start_members() {
  local bin i name
  bin=$(etcd_bin)
  mkdir -p "$dir/run" "$dir/logs" "$dir/etcd"
  for ((i = 0; i < members; i++)); do
    name=m$((i + 1))
    if pid=$(running "$name" "--data-dir $dir/etcd/$name "); then
      echo "cluster: etcd $name already runs (pid $pid)"
      continue
    fi
    # On a restart etcd reads the membership from its data directory and
    # ignores the --initial-* flags.
    launch "$name" "$dir/logs/$name.log" "$bin" \
      --name "$name" --data-dir "$dir/etcd/$name" \
      --listen-client-urls "http://127.0.0.1:${client_ports[i]}" \
      --advertise-client-urls "http://127.0.0.1:${client_ports[i]}" \
      --listen-peer-urls "http://127.0.0.1:${peer_ports[i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${peer_ports[i]}" \
      --initial-cluster "$initial" --initial-cluster-state new \
      --initial-cluster-token policygraph-local \
      --logger zap --log-outputs stderr --log-level warn
    echo "cluster: started etcd $name (pid $(cat "$dir/run/$name.pid")) at http://127.0.0.1:${client_ports[i]}"
  done
  for ((i = 0; i < members; i++)); do
    for attempt in $(seq 600); do
      member_healthy "$i" && break
      if ! running "m$((i + 1))" "--data-dir $dir/etcd/m$((i + 1)) " >/dev/null; then
        echo "cluster: etcd m$((i + 1)) exited; see $dir/logs/m$((i + 1)).log" >&2
        tail -n 20 "$dir/logs/m$((i + 1)).log" >&2
        return 1
      fi
      if [ "$attempt" -eq 600 ]; then
        echo "cluster: etcd m$((i + 1)) is not healthy after 60 s; see $dir/logs/m$((i + 1)).log" >&2
        return 1
      fi
      sleep 0.1
    done
  done
  echo "cluster: etcd healthy at $endpoints"
}

start_servers() {
  local bin="$dir/bin/policygraph" i name
  [ "${#server_ports[@]}" -gt 0 ] || return 0
  (cd "$root" && go build -o "$bin" .)
  for ((i = 0; i < ${#server_ports[@]}; i++)); do
    name=server$((i + 1))
    if pid=$(running "$name" "-addr 127.0.0.1:${server_ports[i]} "); then
      echo "cluster: $name already runs (pid $pid)"
      continue
    fi
    launch "$name" "$dir/logs/$name.log" "$bin" \
      -addr "127.0.0.1:${server_ports[i]}" -etcd "$endpoints" -data "$dir/$name"
    echo "cluster: started $name (pid $(cat "$dir/run/$name.pid")) at http://127.0.0.1:${server_ports[i]}"
  done
  for ((i = 0; i < ${#server_ports[@]}; i++)); do
    for attempt in $(seq 600); do
      server_ready "$i" && break
      if [ "$attempt" -eq 600 ]; then
        echo "cluster: server$((i + 1)) is not ready after 60 s; see $dir/logs/server$((i + 1)).log" >&2
        return 1
      fi
      sleep 0.1
    done
  done
  echo "cluster: servers ready at$(printf ' http://127.0.0.1:%s' "${server_ports[@]}")"
}

stop_all() {
  local i specs=()
  for ((i = 0; i < ${#server_ports[@]}; i++)); do
    specs+=("server$((i + 1)):-addr 127.0.0.1:${server_ports[i]} ")
  done
  [ "${#specs[@]}" -eq 0 ] || halt "${specs[@]}"
  # Members one at a time: a member stopping hands its leadership on, which
  # waits long when its peers are stopping too.
  for ((i = 0; i < members; i++)); do
    halt "m$((i + 1)):--data-dir $dir/etcd/m$((i + 1)) "
  done
}

status() {
  local i pid up=0 want=0
  for ((i = 0; i < members; i++)); do
    want=$((want + 1))
    if pid=$(running "m$((i + 1))" "--data-dir $dir/etcd/m$((i + 1)) "); then
      if member_healthy "$i"; then
        echo "etcd m$((i + 1)): running (pid $pid), healthy, http://127.0.0.1:${client_ports[i]}"
        up=$((up + 1))
      else
        echo "etcd m$((i + 1)): running (pid $pid), not healthy, http://127.0.0.1:${client_ports[i]}"
      fi
    else
      echo "etcd m$((i + 1)): stopped"
    fi
  done
  # A server counts once it was started (it has a pid file).
  for ((i = 0; i < ${#server_ports[@]}; i++)); do
    [ -f "$dir/run/server$((i + 1)).pid" ] || continue
    want=$((want + 1))
    if pid=$(running "server$((i + 1))" "-addr 127.0.0.1:${server_ports[i]} "); then
      if server_ready "$i"; then
        echo "server$((i + 1)): running (pid $pid), ready, http://127.0.0.1:${server_ports[i]}"
        up=$((up + 1))
      else
        echo "server$((i + 1)): running (pid $pid), not ready, http://127.0.0.1:${server_ports[i]}"
      fi
    else
      echo "server$((i + 1)): stopped"
    fi
  done
  [ "$up" -eq "$want" ] || return 3
}

case "${1:-}" in
start)
  start_members
  start_servers
  ;;
stop) stop_all ;;
status) status ;;
clean)
  stop_all
  rm -rf "$dir"
  echo "cluster: removed $dir"
  ;;
*)
  echo "usage: $0 start|stop|status|clean" >&2
  exit 2
  ;;
esac
