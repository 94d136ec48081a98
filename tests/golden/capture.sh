#!/usr/bin/env bash
# Capture every command's --json on the bundled examples into tests/golden/ (gzipped), as
# tests/test_golden.py runs them. Run from the repository root with flowcap installed; the
# golden files in the repository were first made on the commit before the service moved into
# the store (741ee68); a change of output must be a deliberate one, re-captured file by file
# after a diff of old and new (see tests/test_golden.py).
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/victim-support examples/victim-support-log examples/anchor-lindley "$work"/
rm -rf "$work"/*/.flowcap
export FLOWCAP_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export FLOWCAP_KEY_FILE="$work/key"
unset FLOWCAP_DATABASE_URL
vs=$work/victim-support; log=$work/victim-support-log; anchor=$work/anchor-lindley
capture() {
  local name=$1; shift
  flowcap "$@" --json | gzip -9 -n > "$out/$name.json.gz"
}
capture measures measures "$vs"
capture measures-range measures "$vs" --from 2025-06-01 --to 2025-06-30
capture variation variation "$vs"
capture forecast forecast "$vs" --horizon 28
capture risk risk "$vs" --horizon 28
capture simulate simulate "$vs" --replications 500 --horizon 60
capture simulate-opt simulate "$vs" --replications 300 --horizon 60 --optimise
capture plan plan "$vs" --replications 300 --horizon 60
capture measures-log measures "$log"
capture processmap-log processmap "$log"
capture des des "$vs" --hours 500 --replications 3
capture calibrate-log calibrate "$log" --replications 2
capture simulate-anchor simulate "$anchor" --replications 2000 --horizon 100 --start 2026-12-02
capture plan-anchor plan "$anchor" --replications 500 --horizon 100 --start 2026-12-02
