#!/usr/bin/env bash
# fuzz-short.sh: run every Go fuzz target of the module for a short while, one at a time
# (`go test -fuzz` accepts exactly one target per run).
#
# Usage: deployments/scripts/fuzz-short.sh [FUZZTIME]   (default: $FUZZTIME, else 5s)
# Runs every target even when one fails, then exits 1 if any failed. A failing input is saved by
# Go under the package's testdata/fuzz/<FuzzName>/ and replayed by every later `go test`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
fuzztime="${1:-${FUZZTIME:-5s}}"
go="${GO:-go}"

# file:FuzzName pairs, in a stable order; vendor/, testdata/ and .git/ skipped.
mapfile -t targets < <(
	grep -r --include='*_test.go' --exclude-dir=vendor --exclude-dir=testdata --exclude-dir=.git \
		-l '^func Fuzz' . 2>/dev/null |
		sort |
		while IFS= read -r file; do
			sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file" | sed "s|^|${file}:|"
		done
)

if ((${#targets[@]} == 0)); then
	echo "fuzz-short: no fuzz targets found"
	exit 0
fi

echo "fuzz-short: ${#targets[@]} fuzz target(s), ${fuzztime} each"
failed=()
for t in "${targets[@]}"; do
	file="${t%%:*}"
	name="${t#*:}"
	pkg="./$(dirname "${file#./}")"
	echo "fuzz-short: ${pkg} ${name}"
	if ! "$go" test -run='^$' -fuzz="^${name}\$" -fuzztime="${fuzztime}" "${pkg}"; then
		failed+=("${pkg} ${name}")
	fi
done

if ((${#failed[@]} > 0)); then
	echo "fuzz-short: FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz-short: all ${#targets[@]} target(s) passed"
