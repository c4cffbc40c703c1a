#!/usr/bin/env bash
# bench/sitting.sh [N] [C] [RUNS]   -- run by hand, never in CI (about 3 minutes)
#
# One sitting, Passerelle beside Kannel on the same machine, one after the other:
#   1. Kannel (bench/kannel.sh: Debian's Kannel, its SMSC the Passerelle simulator):
#      warm-up (N/10), RUNS runs;
#   2. Passerelle with bench/legacy.sh: warm-up, RUNS runs, 5 POSTs of 10 000 recipients;
#   3. Passerelle with PASSERELLE_ACCESS_LOG=false, RUNS runs;
#   4. Kannel again (brackets the Passerelle runs).
# Both drive their HTTP API with the same wrk script (bench/sendsms.lua). Passerelle
# runs flagged as contaminated (another process took > 5 % of the machine) are
# repeated, at most 2 extra per series. Raw JSON lines go to $OUT (default
# /tmp/passerelle-sitting-<time>/); everything binds and targets 127.0.0.1.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
N=${1:-20000}; C=${2:-50}; RUNS=${3:-3}
OUT=${OUT:-/tmp/passerelle-sitting-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
echo "sitting: N=$N C=$C RUNS=$RUNS out=$OUT"

JSON="$OUT/kannel.jsonl" SERIES=kannel-before "$HERE/kannel.sh" "$N" "$C" "$RUNS"
"$HERE/legacy.sh" -n "$N" -c "$C" --runs "$RUNS" --post-runs 5 --label own-default \
    --json "$OUT/passerelle.jsonl"
"$HERE/legacy.sh" -n "$N" -c "$C" --runs "$RUNS" --post-runs 3 --access-log false \
    --label own-no-access-log --json "$OUT/passerelle.jsonl"
JSON="$OUT/kannel.jsonl" SERIES=kannel-after "$HERE/kannel.sh" "$N" "$C" "$RUNS"
"$HERE/summarize.py" "$OUT"
