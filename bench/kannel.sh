#!/usr/bin/env bash
# bench/kannel.sh [N [C [RUNS]]]   -- run by hand, never in CI (about a minute)
#
# Kannel's HTTP sendsms measured the way bench/legacy.sh measures Passerelle's `envoi`:
# wrk, 1 thread, C connections, bench/sendsms.lua sending N single-recipient requests,
# each to another number, after a warm-up of N/10. Kannel comes from Debian (`apt-get
# install kannel`, installed here with wrk when missing), its configuration is
# bench/kannel.conf, and its SMSC is Passerelle's own simulator (`passerelle simulator
# --delay 0.005`), which answers every submit_sm at once. Prints, per run, accepted req/s,
# p50/p99, the CPU of bearerbox + smsbox per request and the rate to the SMSC (from
# the first request to bearerbox's count of messages sent reaching N), then the medians
# and what the simulator received. It starts the simulator, bearerbox and smsbox itself,
# stops them by pid at the end and removes its run folder; all on 127.0.0.1.
#   bench/kannel.sh                      # N=20000, C=50, 3 runs
#   DLR=1 bench/kannel.sh 20000 50       # ask for delivery reports (dlr-mask=3)
#   KANNEL_WINDOW=100 bench/kannel.sh    # SMPP window (Kannel's default: 10)
# Environment: KANNEL_PORT_BASE (13000: admin; +1 smsbox link; +13 sendsms); SIM_DELAY
# (seconds from a submit to its delivery report, 0.005: at 0 a report can overtake the
# submit_sm_resp, which Kannel handles slowly); JSON=FILE appends one JSON line per run
# (tagged SERIES, default "kannel"); KEEP=1 keeps the run folder (configuration, logs).
# Needs Passerelle in .venv (./dev serve or ./dev test once) for the simulator.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
N=${1:-20000}; C=${2:-50}; RUNS=${3:-3}
BASE=${KANNEL_PORT_BASE:-13000}
ADMIN=$BASE; BOX=$((BASE + 1)); SENDSMS=$((BASE + 13))
WINDOW=${KANNEL_WINDOW:-10}
PASSERELLE=${PASSERELLE:-$HERE/../.venv/bin/passerelle}
TEXT="Benchmark+message+from+bench-peer"  # the text bench/legacy.sh sends: 33 characters
SENDSMS_PATH="/cgi-bin/sendsms?username=bench&password=bench&from=12345&text=$TEXT"
[ "${DLR:-0}" = 1 ] && SENDSMS_PATH="$SENDSMS_PATH&dlr-mask=3"

say() { printf '[kannel] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

install_debs() {  # Debian packages, without letting their services start
    local missing=() p own_policy=0
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    say "apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    [ $own_policy -eq 0 ] || rm -f /usr/sbin/policy-rc.d
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_until() {  # SECONDS COMMAND...: retry COMMAND every 0.1 s, bounded
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        "${@:2}" && return 0
        sleep 0.1
    done
    return 1
}

cpu_ticks() {  # user + system ticks of the given pids
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

install_debs kannel wrk
[ -x "$PASSERELLE" ] || die "no $PASSERELLE: run ./dev serve (or ./dev test) once first"
for port in "$ADMIN" "$BOX" "$SENDSMS"; do
    listening "$port" && die "127.0.0.1:$port is taken (set KANNEL_PORT_BASE)"
done

RUN=$(mktemp -d "${TMPDIR:-/tmp}/passerelle-kannel-XXXXXX")
PIDS=()
stop_all() {
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do  # smsbox, bearerbox, then the simulator
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        wait_until 20 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then say "run folder kept: $RUN"; else rm -rf "$RUN"; fi
}
trap stop_all EXIT

"$PASSERELLE" simulator --host 127.0.0.1 --port 0 --delay "${SIM_DELAY:-0.005}" --stats-file "$RUN/sim.json" \
    >"$RUN/simulator.log" 2>&1 &
PIDS+=($!)
wait_until 30 test -s "$RUN/sim.json" || die "the simulator did not start (see $RUN/simulator.log)"
SMSC_PORT=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$RUN/sim.json")

sed -e "s|@RUN@|$RUN|g" -e "s|@ADMIN_PORT@|$ADMIN|g" -e "s|@BOX_PORT@|$BOX|g" \
    -e "s|@SENDSMS_PORT@|$SENDSMS|g" -e "s|@SMSC_PORT@|$SMSC_PORT|g" \
    -e "s|@WINDOW@|$WINDOW|g" -e "s|@LOG_LEVEL@|${KANNEL_LOG_LEVEL:-1}|g" \
    "$HERE/kannel.conf" >"$RUN/kannel.conf"
/usr/sbin/bearerbox -v 2 "$RUN/kannel.conf" >"$RUN/bearerbox.out" 2>&1 &
PIDS+=($!)
wait_until 30 listening "$BOX" || die "bearerbox did not listen (see $RUN/bearerbox.out)"
/usr/sbin/smsbox -v 2 "$RUN/kannel.conf" >"$RUN/smsbox.out" 2>&1 &
PIDS+=($!)
wait_until 30 listening "$SENDSMS" || die "smsbox did not listen (see $RUN/smsbox.out)"
sim_online() {
    curl -s --max-time 2 "http://127.0.0.1:$ADMIN/status.txt?password=bench-status" \
        | grep -q "^ *sim.*online"
}
wait_until 30 sim_online || die "Kannel's SMSC link is not online (see $RUN/bearerbox.log)"
KANNEL_PIDS=("${PIDS[1]}" "${PIDS[2]}")
say "$(dpkg-query -W -f='Kannel ${Version}' kannel): sendsms on 127.0.0.1:$SENDSMS," \
    "SMSC = simulator on port $SMSC_PORT, window $WINDOW, N=$N C=$C runs=$RUNS"

sent_to_smsc() {  # messages bearerbox has sent to the SMSC since it started
    curl -s --max-time 2 "http://127.0.0.1:$ADMIN/status.txt?password=bench-status" \
        | sed -n '/^SMS: received/{s/.* sent \([0-9]*\).*/\1/p;q}'
}
SENT=0
all_sent() { local sent; sent=$(sent_to_smsc); [ "${sent:-0}" -ge "$SENT" ]; }

one_run() {  # LABEL COUNT FIRST_NUMBER: one wrk run; prints and records its figures
    local label=$1 count=$2 first=$3 before after start end
    SENT=$((SENT + count))
    before=$(cpu_ticks "${KANNEL_PIDS[@]}")
    start=$(date +%s.%N)
    wrk -t1 -c"$C" -d300s --timeout 30s -s "$HERE/sendsms.lua" "http://127.0.0.1:$SENDSMS" -- \
        "$count" "$SENDSMS_PATH" 202 "0: Accepted" "$first" to >"$RUN/wrk.out"
    wait_until 60 all_sent || say "$label: not every message reached the SMSC within 60 s"
    end=$(date +%s.%N)
    after=$(cpu_ticks "${KANNEL_PIDS[@]}")
    grep '^WRKJSON' "$RUN/wrk.out" | python3 -c '
import json, os, sys
label, count, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
e2e = count / (float(sys.argv[5]) - float(sys.argv[4]))
w = json.loads(sys.stdin.read()[8:])
ok = w["answered"] - w["non_success"]
rps = ok / (w["send_window_us"] / 1e6) if w["send_window_us"] > 0 else 0.0
cpu = ticks * 1e6 / os.sysconf("SC_CLK_TCK") / count
p50, p99 = w["p50_us"] / 1e3, w["p99_us"] / 1e3
row = {"kind": "kannel", "series": os.environ.get("SERIES", "kannel"), "label": label, "n": count, "accepted": ok, "accepted_rps": round(rps),
       "p50_ms": p50, "p99_ms": p99, "cpu_us_per_req": round(cpu), "to_smsc_msg_per_s": round(e2e),
       "bad_sample": w["bad_sample"]}
print(json.dumps(row))
print(f"{label}: accepted {ok}/{count}  {rps:.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
      f"  Kannel CPU {cpu:.0f} us/request  to the SMSC {e2e:.0f} msg/s", file=sys.stderr)
' "$label" "$count" "$((after - before))" "$start" "$end" >>"$RUN/runs.jsonl"
}

one_run warmup $((N / 10)) 33500000000
for ((run = 1; run <= RUNS; run++)); do
    one_run "run$run" "$N" $((33600000000 + run * N))
done
sleep 1  # the simulator writes its stats every 0.5 s
[ -z "${JSON:-}" ] || grep -v '"warmup"' "$RUN/runs.jsonl" >>"$JSON"
python3 - "$RUN/runs.jsonl" "$RUN/sim.json" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if '"warmup"' not in line]
sim = json.load(open(sys.argv[2]))
print(f"Kannel sendsms, median of {len(runs)} runs: "
      f"{statistics.median(r['accepted_rps'] for r in runs):.0f} req/s accepted "
      f"(runs: {' / '.join(str(r['accepted_rps']) for r in runs)}), "
      f"{statistics.median(r['to_smsc_msg_per_s'] for r in runs):.0f} msg/s to the SMSC; "
      f"simulator received {sim['submits_accepted']} submit_sm")
EOF
