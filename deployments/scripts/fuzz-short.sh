#!/usr/bin/env bash
# fuzz-short.sh: run every Go fuzz target of the module for a short while.
#
# Usage: deployments/scripts/fuzz-short.sh [FUZZTIME]   (default: $FUZZTIME, else 50000x)
#        FUZZTIME is a count of runs (Nx) rather than a duration: see the Makefile.
#        FUZZ_PKGS="./internal/idcard ./internal/pii" limits it to those packages' targets.
#
# Building is what costs: a fuzz binary is built with every package it links instrumented,
# the standard library included. A pure package's binary (idcard, pii) builds in seconds; one
# whose tests start the whole server (campaigns, visit, platform/web) instruments some 300
# packages: 3-4 minutes each on a busy 2-core machine. `make test` therefore fuzzes the pure
# packages (FUZZ_PKGS), while every target's seeds and saved corpus run as plain tests in
# `go test ./...`; `make fuzz` fuzzes every target.
#
# Each package's fuzz-instrumented test binary is built once (`go test -c -fuzz`, one package
# at a time so that no dependency is compiled twice), and each of its fuzz targets is run with
# that binary in the package's directory, exactly as `go test -fuzz` runs it (same fuzz cache
# under GOCACHE, so earlier interesting inputs are replayed). While the next package builds,
# the targets already built fuzz: FUZZ_JOBS targets at a time (default 2), each with
# nproc/FUZZ_JOBS fuzzing workers, so they share the machine as one `go test -fuzz` would.
# Each target's output is printed whole when it ends.
#
# Runs every target even when one fails, then exits 1 if any failed. A failing input is saved by
# Go under the package's testdata/fuzz/<FuzzName>/ and replayed by every later `go test`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root="$(pwd)"
fuzztime="${1:-${FUZZTIME:-50000x}}"
go="${GO:-go}"
jobs="${FUZZ_JOBS:-2}"
cpus="$(nproc 2>/dev/null || echo 2)"
parallel=$((cpus / jobs))
((parallel >= 1)) || parallel=1

# file:FuzzName pairs, in a stable order; vendor/, testdata/ and .git/ skipped.
mapfile -t targets < <(
	grep -r --include='*_test.go' --exclude-dir=vendor --exclude-dir=testdata --exclude-dir=.git \
		-l '^func Fuzz' . 2>/dev/null |
		sort |
		while IFS= read -r file; do
			sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file" | sed "s|^|${file}:|"
		done
)

# FUZZ_PKGS: keep only the targets of those package directories.
if [[ -n "${FUZZ_PKGS:-}" ]]; then
	keep=()
	for t in "${targets[@]}"; do
		file="${t%%:*}"
		for p in ${FUZZ_PKGS}; do
			[[ "./$(dirname "${file#./}")" == "./${p#./}" ]] && keep+=("$t")
		done
	done
	targets=("${keep[@]}")
fi

if ((${#targets[@]} == 0)); then
	echo "fuzz-short: no fuzz targets found"
	exit 0
fi

gocache="$("$go" env GOCACHE)"
module="$("$go" list -m)"
tmp="$(mktemp -d /tmp/canbao-fuzz.XXXXXX)"
running=()
cleanup() {
	local pid
	for pid in "${running[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
echo "fuzz-short: ${#targets[@]} fuzz target(s), ${fuzztime} each, ${jobs} at a time with ${parallel} worker(s) each"

# The packages, in order of their first target.
pkgs=()
for t in "${targets[@]}"; do
	file="${t%%:*}"
	pkg="./$(dirname "${file#./}")"
	[[ " ${pkgs[*]} " == *" ${pkg} "* ]] || pkgs+=("$pkg")
done

# report prints a finished target's output and records a failure.
failed=()
report() {
	local i="$1" name="$2" pkg="$3"
	cat "$tmp/$i.log"
	if [[ "$(cat "$tmp/$i.rc" 2>/dev/null || echo none)" != 0 ]]; then
		failed+=("${pkg} ${name}")
	fi
}

# reap waits for one running target and reports it.
declare -A meta=()
reap() {
	local pid i rest
	wait -n -p pid "${running[@]}" || true
	i="${meta[$pid]%% *}"
	rest="${meta[$pid]#* }"
	report "$i" "${rest%% *}" "${rest#* }"
	unset "meta[$pid]"
	local keep=() p
	for p in "${running[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
	running=("${keep[@]}")
}

i=0
for pkg in "${pkgs[@]}"; do
	bin="$tmp/$(echo "${pkg#./}" | tr '/' '_').test"
	importpath="${module}/${pkg#./}"
	# vet: make test has run go vet ./... already; -w: no DWARF, a faster link.
	if ! "$go" test -c -vet=off -ldflags=-w -fuzz=. -o "$bin" "$pkg"; then
		echo "fuzz-short: ${pkg}: the fuzz test binary does not build" >&2
		for t in "${targets[@]}"; do
			file="${t%%:*}"
			[[ "./$(dirname "${file#./}")" == "$pkg" ]] && failed+=("${pkg} ${t#*:} (build)")
		done
		continue
	fi
	for t in "${targets[@]}"; do
		file="${t%%:*}"
		name="${t#*:}"
		[[ "./$(dirname "${file#./}")" == "$pkg" ]] || continue
		while ((${#running[@]} >= jobs)); do reap; done
		i=$((i + 1))
		(
			cd "$root/${pkg#./}"
			{
				echo "fuzz-short: ${pkg} ${name}"
				rc=0
				"$bin" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="${fuzztime}" \
					-test.fuzzcachedir="${gocache}/fuzz/${importpath}" -test.parallel="${parallel}" \
					-test.paniconexit0 2>&1 || rc=$?
				if ((rc == 0)); then echo "ok   ${importpath} ${name}"; else echo "FAIL ${importpath} ${name} (exit ${rc})"; fi
				echo "$rc" >"$tmp/$i.rc"
			} >"$tmp/$i.log" 2>&1
		) &
		running+=("$!")
		meta[$!]="$i $name $pkg"
	done
done
while ((${#running[@]} > 0)); do reap; done

if ((${#failed[@]} > 0)); then
	echo "fuzz-short: FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz-short: all ${#targets[@]} target(s) passed in $(($(date +%s) - start)) s"
