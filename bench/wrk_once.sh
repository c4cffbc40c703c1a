#!/usr/bin/env bash
# bench/wrk_once.sh PORT PID [N] [C]  -- one wrk run of N legacy envoi GETs against
# 127.0.0.1:PORT (any server: bare_asgi.py, diag_memory_server.py, passerelle serve),
# printing accepted req/s, p50/p99 and the CPU µs/request of process PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=$1; PID=$2; N=${3:-20000}; C=${4:-50}
TICK=$(getconf CLK_TCK)
c0=$(awk '{print $14+$15}' "/proc/$PID/stat")
wrk -t1 -c"$C" -d120s --timeout 30s -s "$HERE/sendsms.lua" "http://127.0.0.1:$PORT" -- "$N" \
    "/client/api?action=envoi&login=bench&apipasse=bench&origine=12345&msg=Benchmark+message+from+bench-peer" \
    200 "~^%d%d%d%d%d%d%d%d%d|Message envoy" 33600000000 dest \
  | grep '^WRKJSON' | python3 -c "
import json, sys
w = json.loads(sys.stdin.read()[8:])
ok = w['answered'] - w['non_success']
print('accepted %d/%d  %.0f req/s  p50 %.2f ms  p99 %.2f ms' % (ok, $N, ok / (w['send_window_us'] / 1e6), w['p50_us'] / 1e3, w['p99_us'] / 1e3))"
c1=$(awk '{print $14+$15}' "/proc/$PID/stat")
echo "server CPU $(( (c1 - c0) * 1000000 / TICK / N )) us/request"
