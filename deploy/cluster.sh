#!/usr/bin/env bash
# A Passerelle cluster on one machine, to try the scale-out shape or to test it:
# PostgreSQL, the SMSC simulator, 2 API processes, 2 delivery workers, 1 callback worker.
#
#   deploy/cluster.sh start DIR   start everything; DIR keeps the logs, the pids and
#                                 cluster.env (the database URL and the API addresses)
#   deploy/cluster.sh stop DIR    stop what `start` started, by pid (TERM, then KILL)
#   deploy/cluster.sh status DIR  which of its processes are alive
#
# PostgreSQL: PASSERELLE_DATABASE_URL when set (an empty database, or one of ours);
# otherwise a server of the cluster's own, made with Debian's `postgresql` package
# (initdb in DIR/pg, trust authentication, 127.0.0.1 only, a free port; as root it
# runs as the `postgres` user, in a folder of its own under /tmp that `stop` removes). `passerelle` is taken from $PASSERELLE, else from PATH.
# Counts: API=2 DELIVERY=2 CALLBACKS=1 (environment variables) change them; CONNECTORS
# (default: as many as delivery workers) connectors to the simulator are configured.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,16p' "$0" >&2; exit 2; }
PASSERELLE=${PASSERELLE:-$(command -v passerelle || true)}
PYTHON="$(dirname "${PASSERELLE:-/nonexistent}")/python"
[ -x "$PYTHON" ] || PYTHON=python3

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg_user() {  # exec a PostgreSQL binary (as `postgres` when we are root): same pid
    if [ "$(id -u)" -eq 0 ]; then
        exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    fi
    exec "$@"
}

wait_for_file() {  # wait_for_file FILE SECONDS: until FILE holds something
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $1" >&2
    return 1
}

alive() {  # alive PID: the process runs (a zombie, ended but not yet reaped, does not)
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

record() {  # record NAME PID
    echo "$1 $2" >>"$dir/pids"
}

start_postgres() {
    local bin port pg
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries: install Debian's postgresql package" >&2; exit 1; }
    if [ "$(id -u)" -eq 0 ]; then
        # the server runs as `postgres`, who may not be able to enter DIR: its data goes
        # to a folder of its own under /tmp (removed by `stop`)
        pg=$(mktemp -d /tmp/passerelle-cluster-pg.XXXXXX)
        chown postgres "$pg"
    else
        pg="$dir/pg"
        mkdir -p "$pg"
    fi
    chmod 700 "$pg"
    echo "$pg" >"$dir/pgdir"
    (as_pg_user "$bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8) >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    # the subshell execs postgres itself: $! is the server's own pid
    (as_pg_user "$bin/postgres" -D "$pg/data" -p "$port" -k "$pg" \
        -c listen_addresses=127.0.0.1 -c max_connections=200) >"$dir/postgres.log" 2>&1 &
    record postgres $!
    for ((i = 0; i < 200; i++)); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
        sleep 0.05
    done
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE passerelle" postgres
    PASSERELLE_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/passerelle"
}

serve() {  # serve NAME ROLE
    PASSERELLE_MIGRATE_ON_START=false "$PASSERELLE" serve --role "$2" --port 0 \
        --port-file "$dir/$1.port" >"$dir/$1.log" 2>&1 &
    record "$1" $!
}

start() {
    [ -x "$PASSERELLE" ] || { echo "passerelle not found: set PASSERELLE=/path/to/passerelle" >&2; exit 2; }
    [ -e "$dir/pids" ] && { echo "$dir already holds a cluster: stop it first" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    : >"$dir/pids"
    [ -n "${PASSERELLE_DATABASE_URL:-}" ] || start_postgres
    export PASSERELLE_DATABASE_URL
    "$PASSERELLE" db upgrade >/dev/null
    "$PASSERELLE" simulator --port 0 --stats-file "$dir/simulator.json" >"$dir/simulator.log" 2>&1 &
    record simulator $!
    wait_for_file "$dir/simulator.json" 10
    local sim_port
    sim_port=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$dir/simulator.json")
    # one connector per delivery worker, all to the simulator: each worker binds one
    local i api=()
    for ((i = 1; i <= ${CONNECTORS:-${DELIVERY:-2}}; i++)); do
        "$PASSERELLE" connector remove "simulator$i" --force >/dev/null 2>&1 || true
        "$PASSERELLE" connector add "simulator$i" --host 127.0.0.1 --port "$sim_port" \
            --system-id "cluster$i" --password cluster >/dev/null
    done
    for ((i = 1; i <= ${API:-2}; i++)); do serve "api$i" api; done
    for ((i = 1; i <= ${DELIVERY:-2}; i++)); do serve "delivery$i" delivery; done
    for ((i = 1; i <= ${CALLBACKS:-1}; i++)); do serve "callbacks$i" callbacks; done
    for ((i = 1; i <= ${API:-2}; i++)); do
        wait_for_file "$dir/api$i.port" 30
        api+=("http://127.0.0.1:$(cat "$dir/api$i.port")")
    done
    {
        echo "PASSERELLE_DATABASE_URL=$PASSERELLE_DATABASE_URL"
        echo "API_URLS=\"${api[*]}\""
        echo "SIMULATOR_PORT=$sim_port"
    } >"$dir/cluster.env"
    echo "cluster up in $dir"
    cat "$dir/cluster.env"
}

stop() {
    [ -f "$dir/pids" ] || { echo "no cluster in $dir" >&2; exit 1; }
    local name pid waited
    # gateway processes first (they finish their writes), the database last
    tac "$dir/pids" | while read -r name pid; do
        [ "$name" = postgres ] && continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    for ((waited = 0; waited < 300; waited++)); do
        alive=0
        while read -r name pid; do
            [ "$name" = postgres ] && continue
            alive "$pid" && alive=1
        done <"$dir/pids"
        [ "$alive" -eq 0 ] && break
        sleep 0.05
    done
    while read -r name pid; do
        if [ "$name" = postgres ]; then
            kill -INT "$pid" 2>/dev/null || true  # fast shutdown
            for ((waited = 0; waited < 200; waited++)); do
                alive "$pid" || break
                sleep 0.05
            done
        fi
        if alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null && echo "$name ($pid) killed" >&2 || true
        fi
    done <"$dir/pids"
    rm -f "$dir/pids"
    if [ -f "$dir/pgdir" ]; then
        case "$(cat "$dir/pgdir")" in /tmp/passerelle-cluster-pg.*) rm -rf "$(cat "$dir/pgdir")" ;; esac
        rm -f "$dir/pgdir"
    fi
    echo "cluster in $dir stopped"
}

status() {
    [ -f "$dir/pids" ] || { echo "no cluster in $dir"; exit 1; }
    while read -r name pid; do
        if alive "$pid"; then echo "$name $pid alive"; else echo "$name $pid gone"; fi
    done <"$dir/pids"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
