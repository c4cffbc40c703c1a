#!/usr/bin/env bash
# bench/sitting.sh [N] [C] [RUNS]   -- run by hand, never in CI (about 5 minutes)
#
# One sitting, Passerelle beside Kannel on the same machine, one after the other:
#   1. Kannel (shared peer harness): setup, warm-up (N/10), RUNS runs, stop;
#   2. Passerelle with bench/legacy.sh: warm-up, RUNS runs, 5 POSTs of 10 000 recipients;
#   3. Passerelle through the peer harness itself (bench-peer.sh passerelle N C,
#      DRAIN_BOUND_S=0), RUNS runs;
#   4. Passerelle with PASSERELLE_ACCESS_LOG=false, RUNS runs;
#   5. Kannel again (brackets the Passerelle runs), then the sink is stopped.
# Runs flagged as contaminated (another process took > 5 % of the machine) are
# repeated, at most 2 extra per series.  Raw JSON lines go to $OUT (default
# /tmp/passerelle-sitting-<time>/); everything binds and targets 127.0.0.1.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=${PEERS_DIR:-/work/shared/peers}
N=${1:-20000}; C=${2:-50}; RUNS=${3:-3}
OUT=${OUT:-/tmp/passerelle-sitting-$(date +%Y%m%d-%H%M%S)}
export RUN_DIR=${RUN_DIR:-$OUT/peer-run}
mkdir -p "$OUT" "$RUN_DIR"
echo "sitting: N=$N C=$C RUNS=$RUNS out=$OUT RUN_DIR=$RUN_DIR"

kannel_series() {  # $1 = label
    "$PEERS/setup-kannel.sh" || return 1
    RUN_LABEL=warmup "$PEERS/bench-peer.sh" kannel $((N / 10)) "$C" >/dev/null || true
    local done=0 extra=2 rc
    while [ $done -lt "$RUNS" ]; do
        RUN_LABEL=$1 "$PEERS/bench-peer.sh" kannel "$N" "$C"; rc=$?
        if [ $rc -eq 3 ] && [ $extra -gt 0 ]; then extra=$((extra - 1)); continue; fi
        done=$((done + 1))
    done
    "$PEERS/stop-kannel.sh"
}

kannel_series kannel-before
"$HERE/legacy.sh" -n "$N" -c "$C" --runs "$RUNS" --post-runs 5 --label own-default \
    --json "$OUT/passerelle.jsonl"
"$HERE/legacy.sh" -n "$N" -c "$C" --runs 0 --post-runs 0 --peer-runs "$RUNS" --label peer-harness \
    --json "$OUT/passerelle.jsonl"
"$HERE/legacy.sh" -n "$N" -c "$C" --runs "$RUNS" --post-runs 3 --access-log false \
    --label own-no-access-log --json "$OUT/passerelle.jsonl"
kannel_series kannel-after
"$PEERS/stop-sink.sh"
cp "$RUN_DIR/results.jsonl" "$OUT/peer-results.jsonl" 2>/dev/null
"$HERE/summarize.py" "$OUT"
