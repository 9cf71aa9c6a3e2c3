#!/usr/bin/env bash
# Checks the OPA policy bundle in this directory: formatting, strict
# compilation (plain and bundle mode), tests, and a test-coverage threshold.
#
#   OPA=/path/to/opa ./check.sh        # default: `opa` on PATH
#   MIN_COVERAGE=95 ./check.sh         # default threshold: 90 (percent)
#
# Exits non-zero on the first failure.
set -euo pipefail

OPA="${OPA:-opa}"
MIN_COVERAGE="${MIN_COVERAGE:-90}"
POLICY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v "$OPA" >/dev/null 2>&1; then
	echo "check.sh: opa binary not found: '$OPA' (set OPA=/path/to/opa)" >&2
	exit 2
fi

echo "== $("$OPA" version | head -n 1)"

echo "== opa fmt --list --fail"
"$OPA" fmt --list --fail "$POLICY_DIR"

echo "== opa check --strict"
"$OPA" check --strict "$POLICY_DIR"
"$OPA" check --strict --bundle "$POLICY_DIR"

echo "== opa test"
"$OPA" test "$POLICY_DIR"
"$OPA" test --bundle "$POLICY_DIR" >/dev/null

echo "== opa test --coverage (threshold ${MIN_COVERAGE}%)"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
"$OPA" test "$POLICY_DIR" --coverage --format=json >"$report"
coverage="$("$OPA" eval --format=raw --stdin-input 'input.coverage' <"$report")"
echo "coverage: ${coverage}%"
if ! awk -v c="$coverage" -v m="$MIN_COVERAGE" 'BEGIN { exit !(c + 0 >= m + 0) }'; then
	echo "check.sh: coverage ${coverage}% is below ${MIN_COVERAGE}%" >&2
	"$OPA" eval --format=pretty --stdin-input \
		'{f: r | some f, file in input.files; r := [[x.start.row, x.end.row] | some x in file.not_covered]; count(r) > 0}' <"$report" >&2
	exit 1
fi

echo "OK"
