#!/usr/bin/env bash
# Mutation testing of the pure packages with gremlins (docs/MUTATION.md). Not part of make test
# or CI: it takes a while and is meant to be run by hand, on an otherwise quiet machine.
#
#   bash deployments/scripts/mutation.sh            every package below
#   bash deployments/scripts/mutation.sh idcard pii only the packages whose directory ends so
#
# Each package is mutated alone, in a copy of the work tree, and only its own tests run against
# each mutant: its test files that start a whole server (they import servertest) are left out of
# the copy, since each mutant would otherwise relink the server; the tests of files that need
# MariaDB (they import dbtest) are skipped (GOFLAGS=-skip); sub-packages' tests are removed.
# Only the pure files named below are mutated; every other Go file of the directory and its
# sub-packages is excluded, so its code is neither mutated nor counted. Mutants listed in
# deployments/scripts/mutation-equivalents.txt (file:line:column:MUTATOR, then the reason)
# change nothing observable; they are counted apart and left out of the efficacy, which is
# killed / (killed + lived).
#
# Environment: GREMLINS (binary), MUTATION_WORKERS (default 1), MUTATION_TIMEOUT_COEFFICIENT
# (default 10: the machine is shared, and a mutant's test run also recompiles the package),
# MUTATION_OUT (directory for the JSON reports, default a temporary one, removed at the end),
# MUTATION_REPORT_ONLY=1 (run nothing: score the reports already in MUTATION_OUT again, e.g.
# after editing the list of equivalents).
set -euo pipefail

GREMLINS_VERSION=v0.6.0
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

GO="${GO:-go}"
gremlins="${GREMLINS:-}"
if [ -z "$gremlins" ]; then
	if command -v gremlins >/dev/null 2>&1; then
		gremlins="$(command -v gremlins)"
	else
		gremlins="$($GO env GOPATH | cut -d: -f1)/bin/gremlins"
	fi
fi
if [ ! -x "$gremlins" ]; then
	echo "mutation: installing gremlins $GREMLINS_VERSION"
	$GO install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
	gremlins="$($GO env GOPATH | cut -d: -f1)/bin/gremlins"
fi
have="$($GO version -m "$gremlins" 2>/dev/null | awk '$1 == "mod" { print $3 }' || true)"
if [ "$have" != "$GREMLINS_VERSION" ]; then
	echo "mutation: warning: $gremlins is gremlins ${have:-of unknown version}, scores in docs/MUTATION.md are from $GREMLINS_VERSION" >&2
fi
command -v jq >/dev/null || { echo "mutation: jq is needed to read gremlins' reports" >&2; exit 1; }

equivalents="$root/deployments/scripts/mutation-equivalents.txt"
workers="${MUTATION_WORKERS:-1}"
coefficient="${MUTATION_TIMEOUT_COEFFICIENT:-10}"
out="${MUTATION_OUT:-}"
if [ -z "$out" ]; then
	out="$(mktemp -d "${TMPDIR:-/tmp}/canbao-mutation.XXXXXX")"
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Every mutator gremlins has: its five defaults (arithmetic, boundary, negation, ++/--, unary
# minus) and the six it leaves off (&& and ||, break and continue, += and -=, x op= y to x = y,
# & | ^ and their assignments).
mutators=(--invert-logical --invert-loopctrl --invert-assignments --remove-self-assignments --invert-bitwise --invert-bwassign)

# directory ; the files mutated (a regexp on the path inside the directory)
packages=(
	'internal/idcard;^idcard\.go$'
	'internal/person;^name\.go$'
	'internal/pii;^(pii|mask|columns|secrets)\.go$'
	'internal/rules;^rules\.go$'
	'internal/eligibility;^(eligibility|handler)\.go$'
	'internal/progress;^allocate\.go$'
	'campaigns;^(template|segment)\.go$'
	'internal/visit;^visit\.go$'
	'internal/platform/errs;^(errs|catalog)\.go$'
)

want=("$@")
selected() {
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do
		case "$1" in *"$w") return 0 ;; esac
	done
	return 1
}

summary=()
status=0
for entry in "${packages[@]}"; do
	IFS=';' read -r dir only <<<"$entry"
	selected "$dir" || continue

	if [ -z "${MUTATION_REPORT_ONLY:-}" ]; then
		# The work tree as it is (tracked and untracked files, not ignored ones), without the
		# package's tests that need services.
		rm -rf "$out/tree"
		mkdir -p "$out/tree"
		git ls-files -z --cached --others --exclude-standard | grep -zv '^web/node_modules' |
			tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$out/tree"
		find "$out/tree/$dir" -mindepth 2 -name '*_test.go' -delete # sub-packages are not mutated
		left=() skip=()
		for f in "$out/tree/$dir"/*_test.go; do
			if grep -q '"github.com/canbao/canbao/internal/server/servertest"' "$f"; then
				left+=("$(basename "$f")")
				rm "$f"
			elif grep -q '"github.com/canbao/canbao/internal/platform/dbtest"' "$f"; then
				# Kept, since other test files may use its helpers, but its tests are skipped.
				skip+=($(sed -n 's/^func \(Test[A-Za-z0-9_]*\)(.*/\1/p' "$f"))
			fi
		done
		skipflag=
		if [ ${#skip[@]} -gt 0 ]; then
			skipflag="-skip=^($(
				IFS='|'
				echo "${skip[*]}"
			))\$"
		fi

		args=(unleash "$dir" --workers "$workers" --timeout-coefficient "$coefficient" -o "$out/${dir//\//_}.json" "${mutators[@]}")
		while IFS= read -r f; do
			f="${f#"$out/tree/$dir/"}"
			[[ "$f" =~ $only ]] || args+=(-E "^${f//./\\.}\$")
		done < <(find "$out/tree/$dir" -name '*.go' ! -name '*_test.go' | sort)
		echo "== $dir"
		[ ${#left[@]} -gt 0 ] && echo "   left out (they need a server): ${left[*]}"
		[ ${#skip[@]} -gt 0 ] && echo "   skipped (they need MariaDB): ${skip[*]}"
		if ! (cd "$out/tree" && GOFLAGS="$skipflag" "$gremlins" "${args[@]}" -S ltv); then
			echo "mutation: gremlins failed on $dir" >&2
			status=1
			rm -rf "$out/tree"
			continue
		fi
		rm -rf "$out/tree"
	else
		echo "== $dir"
		[ -f "$out/${dir//\//_}.json" ] || { echo "   no report in $out"; continue; }
	fi

	# One line per mutant: file:line:column:MUTATOR STATUS, the file named from the repository root.
	jq -r --arg dir "$dir" '.files[] | .file_name as $f | .mutations[] |
		"\(if ($f | startswith($dir + "/")) then $f else $dir + "/" + $f end):\(.line):\(.column):\(.type) \(.status)"' \
		"$out/${dir//\//_}.json" | sort -t: -k2,2n >"$out/${dir//\//_}.txt"

	killed=0 lived=0 notcovered=0 timedout=0 notviable=0 equiv=0
	while read -r key st; do
		if [ -f "$equivalents" ] && grep -q "^${key//./\\.}[[:space:]]" "$equivalents"; then
			if [ "$st" = "LIVED" ]; then
				equiv=$((equiv + 1))
				echo "   equivalent  $key: $(grep "^${key//./\\.}[[:space:]]" "$equivalents" | head -1 | cut -f2- -d' ' | sed 's/^[[:space:]]*//')"
				continue
			fi
			echo "   note: $key is listed as equivalent but was $st; remove it from $(basename "$equivalents")"
		fi
		case "$st" in
		KILLED) killed=$((killed + 1)) ;;
		LIVED) lived=$((lived + 1)); echo "   LIVED       $key" ;;
		"NOT COVERED") notcovered=$((notcovered + 1)) ;;
		"TIMED OUT") timedout=$((timedout + 1)) ;;
		"NOT VIABLE") notviable=$((notviable + 1)) ;;
		esac
	done <"$out/${dir//\//_}.txt"

	if [ $((killed + lived)) -gt 0 ]; then
		efficacy="$(awk -v k="$killed" -v l="$lived" 'BEGIN { printf "%.1f%%", 100 * k / (k + l) }')"
	else
		efficacy="-"
	fi
	summary+=("$(printf '%-24s %7d %6d %12d %10d %11d %11d %9s' "$dir" "$killed" "$lived" "$notcovered" "$timedout" "$notviable" "$equiv" "$efficacy")")
done

echo
printf '%-24s %7s %6s %12s %10s %11s %11s %9s\n' package killed lived "not covered" "timed out" "not viable" equivalent efficacy
for line in "${summary[@]}"; do
	echo "$line"
done
echo "(efficacy = killed / (killed + lived); equivalents excluded; gremlins $GREMLINS_VERSION, $(date -u +%Y-%m-%d))"
exit $status
