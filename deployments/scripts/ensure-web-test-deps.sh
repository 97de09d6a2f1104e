#!/usr/bin/env bash
# ensure-web-test-deps.sh: what the console's browser tests (make web-test) need: Node 20.19+
# and npm, Debian's Chromium and a CJK font (the console is in Chinese; without one the
# screenshots show boxes), and web/node_modules from package-lock.json. Installs with apt-get
# only what is missing (root, or sudo), and runs `npm ci` only when node_modules is missing or
# older than package-lock.json. Playwright never downloads its own browsers here.
#
# Environment: CHROMIUM_PATH (default /usr/bin/chromium), WEB_DEPS_SKIP_APT=1 (never apt-get).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		if [ -t 0 ]; then sudo -- "$@"; else sudo -n -- "$@"; fi
	else
		echo "ensure-web-test-deps: root is needed for: $*" >&2
		exit 1
	fi
}

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x "$chromium" ] || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "${WEB_DEPS_SKIP_APT:-}" = 1 ]; then
		echo "ensure-web-test-deps: missing ${missing[*]} (WEB_DEPS_SKIP_APT=1: not installing)" >&2
		exit 1
	fi
	echo "ensure-web-test-deps: installing ${missing[*]} with apt-get"
	log="$(mktemp /tmp/ensure-web-test-deps.XXXXXX.log)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		-o DPkg::Lock::Timeout=300 "${missing[@]}" >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
node_minor="$(node -p 'process.versions.node.split(".")[1]')"
if [ "$node_major" -lt 20 ] || { [ "$node_major" -eq 20 ] && [ "$node_minor" -lt 19 ]; }; then
	echo "ensure-web-test-deps: Node $(node --version) is too old: Vite 8 needs 20.19 or newer" >&2
	exit 1
fi

cd "$root/web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "ensure-web-test-deps: npm ci"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
