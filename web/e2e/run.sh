#!/usr/bin/env bash
# Browser tests of the console against a real server: builds bin/canbao, creates a throwaway
# database canbao_e2e_<random> (migrate + seed demo, whose drive in progress gives the charts
# this year's enrollments), serves it on a free port with its own Redis key prefix
# and dev secrets, runs `npx playwright test`, then stops the server, drops the database and
# deletes the Redis keys. A shell script rather than a Go test helper: the tests are Node's,
# and this keeps `go test ./...` free of Node and browsers.
#
#   bash web/e2e/run.sh [playwright args…]      e.g. --project=phone -g 花名册
#   E2E_KEEP=1 keeps the database and the server log.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
: "${GO:=go}"
: "${MYSQL_ROOT_DSN:=root@tcp(127.0.0.1:3306)/}"
: "${REDIS_ADDR:=127.0.0.1:6379}"
: "${CHROMIUM_PATH:=/usr/bin/chromium}"
export CHROMIUM_PATH PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

start=$(date +%s)
"$GO" build -o bin/canbao ./cmd/canbao
echo "e2e: bin/canbao built ($(($(date +%s) - start)) s)"

suffix="$(date +%s)_$RANDOM"
db="canbao_e2e_${suffix}"
prefix="canbao_e2e_${suffix}:"
tmp="$(mktemp -d /tmp/canbao-e2e.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
password="E2e-Demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$tmp/dev-secrets.yaml" <<YAML
jwt_secret: "$(head -c 48 /dev/urandom | base64 -w0)"
pii_key: "$(head -c 32 /dev/urandom | base64 -w0)"
demo_password: "$password"
YAML
chmod 600 "$tmp/dev-secrets.yaml"

export CANBAO_MODE=dev
export CANBAO_DEV_SECRETS_FILE="$tmp/dev-secrets.yaml"
export CANBAO_MYSQL_DSN="${MYSQL_ROOT_DSN%/}/${db}?parseTime=true"
export CANBAO_REDIS_ADDR="$REDIS_ADDR"
export CANBAO_REDIS_PREFIX="$prefix"
export CANBAO_HTTP_ADDR="127.0.0.1:${port}"
export CANBAO_AUTH_LOGIN_RATE_PER_IP=600 # every test logs in from 127.0.0.1

server_pid=""
cleanup() {
  code=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${E2E_KEEP:-}" != 1 ]; then
    mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS \`${db}\`" || true
    redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}" --scan --pattern "${prefix}*" |
      xargs -r -n 500 redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}" DEL >/dev/null || true
    rm -rf "$tmp"
  else
    echo "e2e: kept database ${db}, server log ${tmp}/server.log"
  fi
  echo "e2e: finished in $(($(date +%s) - start)) s (exit ${code})"
  exit "$code"
}
trap cleanup EXIT INT TERM

bin/canbao migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log"; exit 1; }
bin/canbao seed demo >"$tmp/seed.log" 2>&1 || { cat "$tmp/seed.log"; exit 1; }
echo "e2e: database ${db} migrated and seeded ($(($(date +%s) - start)) s)"

# With the campaign engine: the 宣传活动 test schedules a campaign on the log channel and
# watches its counters move (the demo's running campaign sends its visit tasks meanwhile).
bin/canbao serve >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$tmp/server.log"; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null
echo "e2e: server ready on port ${port} ($(($(date +%s) - start)) s)"

export E2E_BASE_URL="http://127.0.0.1:${port}"
export E2E_PASSWORD="$password"
export E2E_SCREENSHOTS="${E2E_SCREENSHOTS:-$root/docs/console}"
cd web
npx vitest run # the campaign template checks (test/), a second or two
npx playwright test "$@"
