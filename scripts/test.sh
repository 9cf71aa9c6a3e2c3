#!/usr/bin/env bash
# The test command: policy checks, lint, types, then the whole test suite against the real Kafka and OPA.
# Starts the local stack when it is not running (and stops it again afterwards). Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source .venv/bin/activate

started=0
if ! aiops stack status >/dev/null 2>&1; then
  # A stack started for this run gets its own empty state directory: a broker that reopens the topics of
  # every earlier run (tens of thousands of partitions) can take minutes to start.
  AIOPS_STATE_DIR="$(mktemp -d -t aiops-test-state.XXXXXX)"
  export AIOPS_STATE_DIR
  aiops stack up || exit 1
  started=1
fi
trap '[ "$started" = 1 ] && { aiops stack down; rm -rf "$AIOPS_STATE_DIR"; }' EXIT

echo "== policy: opa fmt, opa check --strict, opa test --coverage"
OPA="$(aiops stack which opa)" bash policy/check.sh || exit 1
echo "== lint: ruff"
ruff check . || exit 1
echo "== types: mypy (aiops, streams, connectors; [tool.mypy] in pyproject.toml)"
mypy || exit 1
echo "== tests: pytest"
pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
