#!/usr/bin/env bash
# The test command (`make test`): installs flowcap with its dev extras into .venv, starts a
# throw-away PostgreSQL, runs ruff and the whole pytest suite (SQLite and PostgreSQL), stops it.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k measures`.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

# Debian's packages the tests need (installed as root when missing): Graphviz's `dot` draws
# process maps; Chromium runs the web app's browser and accessibility tests (Playwright drives
# the system executable; never `playwright install`). Without Chromium those tests skip, except
# under CI=true, where they fail.
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${missing[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing ${missing[*]}: install Debian's packages of those names" >&2
  fi
fi

source scripts/postgres.sh
trap pg_stop EXIT
if ! pg_start; then
  if [ "${CI:-}" = true ]; then
    echo "test.sh: could not start PostgreSQL, and CI needs it" >&2
    exit 1
  fi
  echo "test.sh: PostgreSQL unavailable: its tests will be skipped" >&2
fi

.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest "$@"
