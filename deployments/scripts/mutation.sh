#!/usr/bin/env bash
# Mutation testing of the pure packages with gremlins (docs/MUTATION.md). Not part of make test
# or CI: it takes a while and is meant to be run by hand, on an otherwise quiet machine.
#
#   bash deployments/scripts/mutation.sh            every package below
#   bash deployments/scripts/mutation.sh idcard pii only the packages whose directory ends so
#
# Each package is mutated alone and only its own tests run against each mutant, less those that
# need MariaDB, Redis or a server (skipped through GOFLAGS=-skip); files that are not pure are
# excluded, so their code is neither mutated nor counted. Mutants listed in deployments/scripts/mutation-equivalents.txt
# (file:line:column:MUTATOR, then the reason) change nothing observable; they are counted apart and
# left out of the efficacy, which is killed / (killed + lived).
#
# Environment: GREMLINS (binary), MUTATION_WORKERS (default 1), MUTATION_TIMEOUT_COEFFICIENT
# (default 10: the machine is shared, and a mutant's test run also recompiles the package),
# MUTATION_OUT (directory for the JSON reports, default a temporary one, removed at the end).
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
have="$($GO version -m "$gremlins" 2>/dev/null | awk '$1 == "mod" { print $3 }')"
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

# directory ; files not mutated (regexp on the path inside the directory) ; tests skipped (go test
# -skip): the ones that need MariaDB, Redis or a whole server, too slow to run once per mutant.
packages=(
	'internal/idcard;;'
	'internal/pii;^keycheck/;'
	'internal/rules;^handler\.go$;'
	'internal/eligibility;;^TestEligibilityAndTiersOverHTTP$'
	'internal/progress;^(handlers|monthly|progress|xlsx)\.go$;^(TestProgress|TestAllocateDryRunAndAdopt|TestReport|TestClosedMonth|TestMonthlyRank|TestAssessment)'
	'campaigns;^((api|campaign|doc|status|store)\.go|(channels|counters|engine)/);^(TestStats|TestMove|TestWritesCampaignStatus|TestOnlyMoveWrites|TestSegmentIsTargetGroupOnly)'
	'internal/visit;^handlers\.go$;^(TestTaskListLeavesOut|TestVisitValidationAndScope|TestVisitsBatchReplay|TestTaskWithUndecryptablePhone)'
	'internal/platform/errs;^errsdoc/;'
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
	IFS=';' read -r dir exclude skip <<<"$entry"
	selected "$dir" || continue

	args=(unleash "$dir" --workers "$workers" --timeout-coefficient "$coefficient" -o "$out/${dir//\//_}.json")
	[ -n "$exclude" ] && args+=(-E "$exclude")
	echo "== $dir${skip:+ (tests skipped: $skip)}"
	if ! GOFLAGS="${skip:+-skip=$skip}" "$gremlins" "${args[@]}" -S ltv; then
		echo "mutation: gremlins failed on $dir" >&2
		status=1
		continue
	fi

	# One line per mutant: file:line:MUTATOR STATUS, the file named from the repository root.
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
