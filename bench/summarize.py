#!/usr/bin/env python3
"""Summarise a bench/sitting.sh folder: medians of clean runs and ratios to Kannel.

    summarize.py OUT_DIR

Reads OUT_DIR/passerelle.jsonl (bench/legacy_bench.py --json) and OUT_DIR/kannel.jsonl
(bench/kannel.sh with JSON=..., one series per SERIES label) and prints a Markdown table.
Kannel runs are not checked for foreign load (they last about 2 s each): compare the
series taken before and after Passerelle's.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def med(rows: list[dict], key: str) -> float | None:
    vals = [float(r[key]) for r in rows if r.get(key) is not None]
    return round(statistics.median(vals), 2) if vals else None


def main() -> None:
    out = Path(sys.argv[1])
    mine = load(out / "passerelle.jsonl")
    series: dict[str, list[dict]] = {}
    flagged: dict[str, list[dict]] = {}
    for r in load(out / "kannel.jsonl"):
        series.setdefault(r.get("series", "kannel"), []).append(r)
    for r in mine:
        if r["kind"] == "get" and r["label"] == "measured":
            name = "passerelle " + r["tag"]
            (flagged if r.get("contaminated") else series).setdefault(name, []).append(r)
            series.setdefault(name, [])
    kannel = [r for k, v in series.items() if k.startswith("kannel") for r in v]
    k_rps = med(kannel, "accepted_rps") or 0
    print(f"Kannel reference: median of {len(kannel)} runs = {k_rps} req/s\n")
    print(
        "| series | clean runs | accepted req/s (runs) | ratio to Kannel | p50 ms | p99 ms"
        " | server CPU µs/req | peak RSS MiB | flagged runs req/s (excluded) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows in series.items():
        noisy = " / ".join(str(round(float(r["accepted_rps"]))) for r in flagged.get(name, []))
        if not rows:
            print(f"| {name} | 0 | - | - | - | - | - | - | {noisy} |")
            continue
        rps = med(rows, "accepted_rps")
        runs = " / ".join(str(round(float(r["accepted_rps"]))) for r in rows)
        if name.startswith("kannel"):
            cpu = med(rows, "cpu_us_per_req") or 0
            rss = "-"
        else:
            cpu = med(rows, "server_cpu_us_per_req") or 0
            rss = f"{max(float(r['server_rss_peak_mib']) for r in rows):.1f}"
        ratio = f"{rps / k_rps:.2f}×" if k_rps and rps else "-"
        print(
            f"| {name} | {len(rows)} | **{rps:.0f}** ({runs}) | {ratio} | {med(rows, 'p50_ms')}"
            f" | {med(rows, 'p99_ms')} | {cpu:.0f} | {rss} | {noisy} |"
        )
    posts = [r for r in mine if r["kind"] == "post"]
    for tag in sorted({r["tag"] for r in posts}):
        secs = sorted(float(r["seconds"]) for r in posts if r["tag"] == tag)
        ok = all(r["accepted"] and r["rows_match"] for r in posts if r["tag"] == tag)
        print(
            f"\nPOST {posts[0]['recipients']} recipients [{tag}]: {len(secs)} runs,"
            f" min {secs[0]:.3f} s,"
            f" median {statistics.median(secs):.3f} s, max {secs[-1]:.3f} s; every answer a msgid"
            f" with all recipient rows: {ok}"
        )
    count = sum(1 for r in mine if r.get("contaminated"))
    print(
        f"\nruns flagged as contaminated (another process used > 5 % of the machine) and"
        f" excluded: {count}"
    )


if __name__ == "__main__":
    main()
