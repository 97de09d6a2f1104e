#!/usr/bin/env bash
# redis-cluster.sh: a throwaway local Redis Cluster for tests (make test-cluster, .ci/run).
#
#   redis-cluster.sh start   start 3 masters on 127.0.0.1 (ports 7001-7003 by default) from the
#                            installed redis-server, cluster-enabled, no persistence, in a
#                            private directory, join them with redis-cli --cluster create and
#                            wait until every node says cluster_state:ok. Prints the address
#                            list for CANBAO_TEST_REDIS_ADDRS on its last line.
#   redis-cluster.sh stop    shut the nodes down and remove the directory.
#   redis-cluster.sh addrs   print the address list (127.0.0.1:7001,127.0.0.1:7002,...).
#
# start is idempotent: when the nodes already answer and the cluster is ok it only prints the
# list. The shared Redis on 6379 is never touched.
#
# Environment:
#   REDIS_CLUSTER_PORTS   space-separated ports of the masters (default "7001 7002 7003")
#   REDIS_CLUSTER_DIR     where the nodes keep their config and logs
#                         (default ${TMPDIR:-/tmp}/canbao-redis-cluster-<first port>)
#   REDIS_CLUSTER_WAIT    seconds to wait for each state (default 30)
set -euo pipefail

readonly HOST=127.0.0.1
read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
readonly DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/canbao-redis-cluster-${PORTS[0]}}"
readonly WAIT="${REDIS_CLUSTER_WAIT:-30}"

log() { printf 'redis-cluster: %s\n' "$*" >&2; }

addrs() {
	local out="" p
	for p in "${PORTS[@]}"; do out+="${out:+,}${HOST}:${p}"; done
	printf '%s\n' "$out"
}

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }

# until_true waits (polling every 0.1 s) until "$@" succeeds, for at most WAIT seconds.
until_true() {
	local what="$1"
	shift
	local deadline=$((SECONDS + WAIT))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "gave up after ${WAIT}s waiting for ${what}"
			return 1
		fi
		sleep 0.1
	done
}

answers() { [[ "$(cli "$1" ping 2>/dev/null)" == PONG ]]; }
cluster_ok() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok'; }
all_ok() {
	local p
	for p in "${PORTS[@]}"; do cluster_ok "$p" || return 1; done
}
# knows_all: the node sees every master (cluster create has propagated the gossip).
knows_all() {
	[[ "$(cli "$1" cluster nodes 2>/dev/null | grep -c master)" -ge "${#PORTS[@]}" ]]
}

start() {
	command -v redis-server >/dev/null || { log "redis-server not found (make services installs it)"; exit 1; }
	command -v redis-cli >/dev/null || { log "redis-cli not found"; exit 1; }
	if all_ok 2>/dev/null; then
		log "already running"
		addrs
		return 0
	fi
	mkdir -p "$DIR"
	local p
	for p in "${PORTS[@]}"; do
		if answers "$p"; then
			log "port $p already answers but the cluster is not ok: run '$0 stop' first (or set REDIS_CLUSTER_PORTS)"
			exit 1
		fi
		mkdir -p "$DIR/$p"
		rm -f "$DIR/$p/nodes.conf"
		redis-server --port "$p" --bind "$HOST" --dir "$DIR/$p" --cluster-enabled yes \
			--cluster-config-file nodes.conf --cluster-node-timeout 5000 --save '' --appendonly no \
			--daemonize yes --pidfile "$DIR/$p/redis.pid" --logfile "$DIR/$p/redis.log" --protected-mode yes
	done
	for p in "${PORTS[@]}"; do until_true "redis-server on port $p" answers "$p"; done
	local nodes=()
	for p in "${PORTS[@]}"; do nodes+=("$HOST:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 || {
		cat "$DIR/create.log" >&2
		exit 1
	}
	for p in "${PORTS[@]}"; do
		until_true "node $p to see every master" knows_all "$p"
		until_true "cluster_state:ok on node $p" cluster_ok "$p"
	done
	log "cluster ok on ${nodes[*]} (data in $DIR)"
	addrs
}

stop() {
	local p
	for p in "${PORTS[@]}"; do
		if answers "$p"; then
			cli "$p" shutdown nosave >/dev/null 2>&1 || true
		fi
	done
	for p in "${PORTS[@]}"; do
		local deadline=$((SECONDS + WAIT))
		while answers "$p" && ((SECONDS < deadline)); do sleep 0.1; done
	done
	rm -rf "$DIR"
	log "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
addrs) addrs ;;
*)
	echo "usage: $0 start|stop|addrs" >&2
	exit 2
	;;
esac
