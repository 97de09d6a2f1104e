#!/usr/bin/env bash
# check-web-dist.sh: the committed web/dist must be exactly what the sources build to (CI runs
# it through `make web-check`). Rebuilds the console into a temporary directory — npm ci,
# gen:api, type check, vite build — and diffs it against web/dist. A difference means someone
# changed web/src or api/openapi.yaml without running `make web`.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root/web"
out="$(mktemp -d /tmp/canbao-web-dist.XXXXXX)"
trap 'rm -rf "$out"' EXIT

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
# gen:api into the temp dir too: a stale schema.d.ts is a difference as well.
npx openapi-typescript ../api/openapi.yaml -o "$out/schema.d.ts" >/dev/null
if ! diff -q "$out/schema.d.ts" src/api/schema.d.ts >/dev/null; then
	echo "web/src/api/schema.d.ts is stale: run make web" >&2
	diff -u src/api/schema.d.ts "$out/schema.d.ts" | head -40 >&2
	exit 1
fi
npm run --silent typecheck
npx vite build --outDir "$out/dist" --emptyOutDir --logLevel warn
if ! diff -r "$out/dist" dist; then
	echo "web/dist differs from a fresh build of web/: run make web and commit web/dist" >&2
	exit 1
fi
echo "web/dist: up to date"
