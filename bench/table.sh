#!/usr/bin/env bash
# bench/table.sh [options]   -- run by hand, never in CI (about 10 minutes at the defaults)
#
# One sitting that fills the whole comparison table with Kannel: Kannel without and
# with delivery reports, Passerelle with a connector to a separate simulator, with its
# built-in simulator, accepting only, and on PostgreSQL with one and two API processes.
# Every row runs RUNS times at the same load (N single-recipient `envoi` GETs, C
# connections, wrk with 1 thread, all on 127.0.0.1); runs disturbed by processes we did
# not start are flagged, left out and repeated. It prints a Markdown table of the
# medians, their ratios to Kannel of the same sitting and the targets, and keeps the
# raw JSON lines, the harnesses' logs and the table in a folder (bench/table.py has the
# details). Needs .venv (./dev test or ./dev serve once); installs wrk and Kannel from
# Debian when missing; the PostgreSQL rows need a server at 127.0.0.1:5432 (--pg-url).
#   bench/table.sh                                # N=20000 C=50, 3 runs a row
#   bench/table.sh -n 4000 --runs 1 --only 1,3    # a quick try of two rows
#   bench/table.sh --out /tmp/sitting --write-docs   # and append it to docs/performance.md
#   bench/table.sh --help
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY="$HERE/../.venv/bin/python"
[ -x "$PY" ] || { echo "no .venv: run ./dev test (or ./dev serve) once first" >&2; exit 2; }
exec "$PY" "$HERE/table.py" "$@"
