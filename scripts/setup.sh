#!/usr/bin/env bash
# Set-up on a fresh machine, idempotent: Debian packages, the Python venv (.venv), and the local
# stack's downloads and builds (Kafka jars, OPA), cached outside the repo under ~/.cache/aiops.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v kcat >/dev/null || missing+=(kcat)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v go >/dev/null || missing+=(golang-go)
# The console's browser tests drive Debian's Chromium through its chromedriver (no browser download at install).
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "please install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
fi

python=${PYTHON:-python3.11}
if ! "$python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  echo "Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test]"
.venv/bin/aiops stack provision
