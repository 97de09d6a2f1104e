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

# Roster imports load their rows with LOAD DATA LOCAL INFILE: the server's local_infile must be
# ON (MariaDB's default; MySQL 8 ships with it OFF).
if [[ "$(db_tcp -e 'SELECT @@GLOBAL.local_infile')" != "1" ]]; then
	warn "local_infile is OFF: setting it ON for this server run (roster imports need it; put local_infile = ON in the server's configuration to keep it)"
	db_tcp -e 'SET GLOBAL local_infile = 1' || die "could not set local_infile = ON"
fi
log "local_infile is ON"
log "done"
