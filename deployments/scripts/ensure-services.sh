#!/usr/bin/env bash
# ensure-services.sh: make sure MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379) are
# installed, running and reachable the way canbao's development defaults expect
# (CANBAO_MYSQL_DSN=root@tcp(127.0.0.1:3306)/canbao, CANBAO_REDIS_ADDR=127.0.0.1:6379).
#
# Idempotent and non-interactive. Runs as root, or as a normal user with sudo for the steps that
# need it. On a bare Debian (bookworm/trixie) host it installs mariadb-server, mariadb-client and
# redis-server with apt-get. When systemd is not PID 1 (containers, CI) it starts the daemons
# itself. When both services already answer it only checks them and exits.
#
# Environment:
#   CANBAO_SKIP_SERVICES=1        do nothing (services are managed elsewhere)
#   CANBAO_MYSQL_DSN              if set to anything but the default, the root-login fix-up and
#                                 the creation of the `canbao` database are skipped
#   ENSURE_SERVICES_MYSQL_PORT    port to check and start MariaDB on (default 3306)
#   ENSURE_SERVICES_REDIS_PORT    port to check and start Redis on (default 6379)
#   ENSURE_SERVICES_WAIT          seconds to wait for each service to answer (default 60)
#   CANBAO_INNODB_BUFFER_POOL_MB  MariaDB's innodb_buffer_pool_size in MiB (default: 40% of the
#                                 machine's memory, or of the cgroup's limit if lower, capped at
#                                 4096 and at least 128); 0 leaves the buffer pool alone
#
# MariaDB's buffer pool (default 128 MiB) is sized for the machine: the size goes into
# /etc/mysql/mariadb.conf.d/60-canbao.cnf (the directory is added to /etc/mysql/my.cnf with
# Debian's stock `!includedir` line if my.cnf does not include it) for the next start, and, when
# the running server's pool is smaller, it is grown at once with SET GLOBAL (dynamic in MariaDB
# 10.11; a running pool is never shrunk). innodb_flush_log_at_trx_commit is never touched.
#
# DEVELOPMENT ONLY: on a fresh Debian install MariaDB's root user logs in only through the unix
# socket; this script lets root log in over TCP from localhost with an EMPTY password.
# Never run it on a production database host.
set -euo pipefail

readonly HOST=127.0.0.1
readonly DB_PORT="${ENSURE_SERVICES_MYSQL_PORT:-3306}"
readonly REDIS_PORT="${ENSURE_SERVICES_REDIS_PORT:-6379}"
readonly WAIT="${ENSURE_SERVICES_WAIT:-60}"
readonly DEFAULT_DSN='root@tcp(127.0.0.1:3306)/canbao?parseTime=true'
readonly DB_NAME=canbao

log() { printf 'ensure-services: %s\n' "$*"; }
warn() { printf 'ensure-services: WARNING: %s\n' "$*" >&2; }
die() {
	printf 'ensure-services: ERROR: %s\n' "$*" >&2
	exit 1
}

case "${CANBAO_SKIP_SERVICES:-}" in
1 | true | yes)
	log "CANBAO_SKIP_SERVICES=${CANBAO_SKIP_SERVICES}: not touching MariaDB or Redis"
	exit 0
	;;
esac

# Daemons and admin tools live in sbin, which a normal user's PATH often lacks.
export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"

# as_root CMD...: run CMD as root (directly, or through sudo; never prompts without a terminal).
as_root() {
	if [[ "$(id -u)" -eq 0 ]]; then
		"$@"
	elif first_cmd sudo >/dev/null; then
		if [[ -t 0 ]]; then
			sudo -- "$@"
		else
			sudo -n -- "$@"
		fi
	else
		die "root is needed for: $* (run as root, or install and configure sudo)"
	fi
}

# can_root: as_root would work without asking for a password (root, or sudo -n).
can_root() {
	[[ "$(id -u)" -eq 0 ]] && return 0
	first_cmd sudo >/dev/null && sudo -n true 2>/dev/null
}

# first_cmd NAME...: print the path of the first NAME found on PATH as an executable file.
first_cmd() {
	local c p
	for c in "$@"; do
		if p="$(command -v "$c" 2>/dev/null)" && [[ -x "$p" ]]; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

is_systemd() { [[ "$(cat /proc/1/comm 2>/dev/null || true)" == systemd ]]; }

tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" >/dev/null 2>&1; }

# db_answers: the server answers on HOST:DB_PORT. `mariadb-admin ping` exits 0 even on
# "Access denied", which is what we want here: the login is checked separately.
db_answers() {
	local admin
	if admin="$(first_cmd mariadb-admin mysqladmin)"; then
		timeout 10 "$admin" --no-defaults --protocol=tcp -h "$HOST" -P "$DB_PORT" -uroot \
			--connect-timeout=3 ping >/dev/null 2>&1
	else
		tcp_open "$HOST" "$DB_PORT"
	fi
}

redis_answers() {
	local out
	if first_cmd redis-cli >/dev/null; then
		out="$(timeout 5 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>&1 </dev/null || true)"
		if [[ "$out" == *NOAUTH* ]]; then
			warn "Redis on $HOST:$REDIS_PORT requires a password; canbao's default config uses none"
			return 0
		fi
		[[ "$out" == PONG ]]
	else
		tcp_open "$HOST" "$REDIS_PORT"
	fi
}

# wait_for CHECK: call CHECK until it succeeds, for at most WAIT seconds.
wait_for() {
	local check="$1" deadline=$((SECONDS + WAIT))
	while ((SECONDS < deadline)); do
		if "$check"; then
			return 0
		fi
		sleep 1
	done
	"$check"
}

# --- 1. packages ---------------------------------------------------------------------------
pkgs=()
add_pkg() {
	local p
	for p in "$@"; do
		[[ " ${pkgs[*]} " == *" $p "* ]] || pkgs+=("$p")
	done
}
if srv="$(first_cmd mariadbd mysqld)"; then
	log "MariaDB/MySQL server installed: $srv"
elif db_answers; then
	log "no local MariaDB server binary, but a server answers on $HOST:$DB_PORT: not installing one"
else
	add_pkg mariadb-server mariadb-client
fi
if ! first_cmd mariadb mysql >/dev/null || ! first_cmd mariadb-admin mysqladmin >/dev/null; then
	add_pkg mariadb-client
fi
if srv="$(first_cmd redis-server)"; then
	log "Redis server installed: $srv"
elif redis_answers; then
	log "no local redis-server binary, but Redis answers on $HOST:$REDIS_PORT: not installing one"
else
	add_pkg redis-server
fi
if ! first_cmd redis-cli >/dev/null; then
	add_pkg redis-tools
fi
# Not a service, but the tests need it: the event poster's test reads the PDF with pdftotext and
# rasterises it with pdftoppm (internal/event; it skips, saying so, only when they are missing).
if ! first_cmd pdftotext >/dev/null || ! first_cmd pdftoppm >/dev/null; then
	add_pkg poppler-utils
fi

if ((${#pkgs[@]} > 0)); then
	first_cmd apt-get >/dev/null ||
		die "missing ${pkgs[*]} and this is not a Debian-like system: install MariaDB and Redis yourself, or set CANBAO_SKIP_SERVICES=1"
	apt_log="$(mktemp "${TMPDIR:-/tmp}/canbao-apt.XXXXXX")"
	log "apt-get update (output in $apt_log)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update >"$apt_log" 2>&1 ||
		{ tail -n 20 "$apt_log" >&2; die "apt-get update failed"; }
	log "apt-get install ${pkgs[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${pkgs[@]}" >>"$apt_log" 2>&1 ||
		{ tail -n 40 "$apt_log" >&2; die "apt-get install ${pkgs[*]} failed"; }
	rm -f "$apt_log"
fi

# --- 2. MariaDB running ----------------------------------------------------------------------
start_mariadb() {
	if is_systemd; then
		log "starting MariaDB: systemctl start mariadb"
		as_root systemctl start mariadb 2>/dev/null || as_root systemctl start mysql
		return
	fi
	local bin inst out=/run/mysqld/canbao-mariadbd.log
	bin="$(first_cmd mariadbd mysqld)" || die "no mariadbd/mysqld binary to start"
	as_root install -d -o mysql -g mysql -m 0755 /run/mysqld
	if ! as_root test -d /var/lib/mysql/mysql; then
		inst="$(first_cmd mariadb-install-db mysql_install_db)" ||
			die "/var/lib/mysql is not initialised and mariadb-install-db is missing"
		log "initialising the data directory /var/lib/mysql"
		as_root "$inst" --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1 ||
			die "$inst --datadir=/var/lib/mysql failed"
	fi
	log "starting MariaDB: start-stop-daemon --exec $bin (log in $out)"
	as_root start-stop-daemon --start --oknodo --background --output "$out" \
		--exec "$bin" -- --user=mysql
}

if db_answers; then
	log "MariaDB answers on $HOST:$DB_PORT"
else
	start_mariadb
	if ! wait_for db_answers; then
		as_root tail -n 20 /run/mysqld/canbao-mariadbd.log >&2 2>/dev/null || true
		die "MariaDB did not answer on $HOST:$DB_PORT within ${WAIT}s"
	fi
	log "MariaDB answers on $HOST:$DB_PORT"
fi

# --- 3. Redis running --------------------------------------------------------------------------
if redis_answers; then
	log "Redis answers on $HOST:$REDIS_PORT"
else
	if is_systemd; then
		log "starting Redis: systemctl start redis-server"
		as_root systemctl start redis-server 2>/dev/null || as_root systemctl start redis
	else
		log "starting Redis: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port $REDIS_PORT"
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
			--save "" --appendonly no >/dev/null
	fi
	wait_for redis_answers || die "Redis did not answer on $HOST:$REDIS_PORT within ${WAIT}s"
	log "Redis answers on $HOST:$REDIS_PORT"
fi

# --- 3b. MariaDB's buffer pool for the next start ---------------------------------------------
readonly POOL_CNF_DIR=/etc/mysql/mariadb.conf.d
readonly POOL_CNF="$POOL_CNF_DIR/60-canbao.cnf"
readonly MY_CNF=/etc/mysql/my.cnf

# pool_mb: the buffer pool to have, in MiB (0: leave it alone).
pool_mb() {
	local want="${CANBAO_INNODB_BUFFER_POOL_MB:-}" mem_kb limit
	if [[ -n "$want" ]]; then
		[[ "$want" =~ ^[0-9]+$ ]] || die "CANBAO_INNODB_BUFFER_POOL_MB must be a whole number of MiB, not '$want'"
		printf '%s\n' "$want"
		return
	fi
	mem_kb="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null || true)"
	[[ "$mem_kb" =~ ^[0-9]+$ ]] || { printf '0\n'; return; }
	# A container's memory limit, when there is one and it is lower.
	limit="$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || true)"
	if [[ "$limit" =~ ^[0-9]+$ ]] && ((limit / 1024 < mem_kb)); then
		mem_kb=$((limit / 1024))
	fi
	want=$((mem_kb * 40 / 100 / 1024))
	((want > 4096)) && want=4096
	((want < 128)) && want=128
	printf '%s\n' $((want / 128 * 128)) # a whole number of 128 MiB chunks
}

POOL_MB="$(pool_mb)"
readonly POOL_MB
if ((POOL_MB == 0)); then
	log "innodb_buffer_pool_size: left alone (CANBAO_INNODB_BUFFER_POOL_MB=0 or no /proc/meminfo)"
else
	cnf_body="# Written by canbao's deployments/scripts/ensure-services.sh: the buffer pool sized for this
# machine (40% of its memory, at most 4 GiB; CANBAO_INNODB_BUFFER_POOL_MB overrides).
[mysqld]
innodb_buffer_pool_size = ${POOL_MB}M"
	if [[ "$(cat "$POOL_CNF" 2>/dev/null || true)" == "$cnf_body" ]]; then
		log "innodb_buffer_pool_size ${POOL_MB}M already in $POOL_CNF"
	elif ! can_root; then
		warn "not root and no sudo: $POOL_CNF not written, the buffer pool size will not survive a restart of MariaDB"
	elif as_root install -d -m 0755 "$POOL_CNF_DIR" 2>/dev/null &&
		printf '%s\n' "$cnf_body" | as_root tee "$POOL_CNF.tmp" >/dev/null 2>&1 &&
		as_root chmod 0644 "$POOL_CNF.tmp" && as_root mv -f "$POOL_CNF.tmp" "$POOL_CNF"; then
		log "wrote innodb_buffer_pool_size = ${POOL_MB}M to $POOL_CNF"
	else
		warn "could not write $POOL_CNF: the buffer pool size will not survive a restart of MariaDB"
	fi
	# Debian's stock my.cnf includes the directory; a trimmed one may not.
	if [[ -f "$POOL_CNF" && -f "$MY_CNF" ]] && can_root &&
		! grep -Eq "^[[:space:]]*!includedir[[:space:]]+${POOL_CNF_DIR}/?[[:space:]]*$" "$MY_CNF"; then
		if printf '\n# Added by canbao ensure-services.sh (Debian stock line): server settings such as 60-canbao.cnf.\n!includedir %s/\n' \
			"$POOL_CNF_DIR" | as_root tee -a "$MY_CNF" >/dev/null 2>&1; then
			log "added !includedir $POOL_CNF_DIR/ to $MY_CNF"
		else
			warn "$MY_CNF does not include $POOL_CNF_DIR and could not be changed: $POOL_CNF is not read"
		fi
	fi
fi

# --- 4. root over TCP with an empty password (development only) ------------------------------
if [[ -n "${CANBAO_MYSQL_DSN:-}" && "${CANBAO_MYSQL_DSN}" != "$DEFAULT_DSN" ]]; then
	log "CANBAO_MYSQL_DSN is customised: not checking root login or creating database $DB_NAME"
	log "done"
	exit 0
fi

client="$(first_cmd mariadb mysql)" || die "no mariadb/mysql client found"

db_tcp() {
	timeout 20 "$client" --no-defaults --protocol=tcp -h "$HOST" -P "$DB_PORT" -uroot --password= \
		--connect-timeout=5 -N -B "$@" </dev/null
}
db_socket() { as_root timeout 20 "$client" --protocol=socket -uroot -N -B "$@" </dev/null; }

if db_tcp -e 'SELECT 1' >/dev/null 2>&1; then
	log "root logs in over TCP without a password"
elif db_socket -e 'SELECT 1' >/dev/null 2>&1; then
	warn "DEVELOPMENT ONLY: letting MariaDB root@localhost and root@127.0.0.1 log in over TCP with an EMPTY password (never do this on a production host)"
	if [[ "$(db_socket -e 'SELECT VERSION()')" == *MariaDB* ]]; then
		sql="ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
ALTER USER 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');"
	else
		sql="ALTER USER 'root'@'localhost' IDENTIFIED WITH caching_sha2_password BY '';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED WITH caching_sha2_password BY '';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED WITH caching_sha2_password BY '';"
	fi
	db_socket -e "$sql GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;" ||
		die "could not change root's authentication"
	db_tcp -e 'SELECT 1' >/dev/null 2>&1 || die "root still cannot log in over TCP after the change"
	log "root now logs in over TCP without a password"
else
	die "neither a TCP login (root, empty password) nor a socket login as root works on $HOST:$DB_PORT; set CANBAO_MYSQL_DSN to working credentials (and CANBAO_SKIP_SERVICES=1)"
fi

db_tcp -e "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ||
	die "could not create database $DB_NAME"
log "database $DB_NAME exists"

# --- 5. the running server's buffer pool ------------------------------------------------------
# grow_pool: grow the running server's buffer pool to POOL_MB MiB (never shrink it: shrinking a
# busy pool stalls it). The resize runs in the server's background; wait for it to finish.
grow_pool() {
	local have want=$((POOL_MB * 1024 * 1024)) deadline=$((SECONDS + WAIT))
	have="$(db_tcp -e 'SELECT @@innodb_buffer_pool_size')" || {
		warn "could not read innodb_buffer_pool_size"
		return 0
	}
	if ((have >= want)); then
		log "innodb_buffer_pool_size is $((have / 1048576))M (wanted ${POOL_MB}M): left as is"
		return 0
	fi
	log "growing innodb_buffer_pool_size from $((have / 1048576))M to ${POOL_MB}M (SET GLOBAL)"
	db_tcp -e "SET GLOBAL innodb_buffer_pool_size = $want" || {
		warn "SET GLOBAL innodb_buffer_pool_size failed: it applies at the next start of MariaDB"
		return 0
	}
	while ((SECONDS < deadline)); do
		have="$(db_tcp -e 'SELECT @@innodb_buffer_pool_size' 2>/dev/null || echo 0)"
		((have >= want)) && break
		sleep 1
	done
	log "innodb_buffer_pool_size is now $((have / 1048576))M"
}
if ((POOL_MB > 0)); then
	grow_pool
fi
# --- 6. local_infile ---------------------------------------------------------------------------
# Roster imports load their rows with LOAD DATA LOCAL INFILE: the server's local_infile must be
# ON (MariaDB's default; MySQL 8 ships with it OFF).
if [[ "$(db_tcp -e 'SELECT @@GLOBAL.local_infile')" != "1" ]]; then
	warn "local_infile is OFF: setting it ON for this server run (roster imports need it; put local_infile = ON in the server's configuration to keep it)"
	db_tcp -e 'SET GLOBAL local_infile = 1' || die "could not set local_infile = ON"
fi
log "local_infile is ON"
log "done"
