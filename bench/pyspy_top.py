#!/usr/bin/env python3
"""Summarise a `py-spy record --format raw --threads` file: where the time goes.

    pyspy_top.py PROFILE.txt [--top 25] [--thread SUBSTRING]

Prints the share of samples per thread, then per function: "self" (the sample's
innermost frame) and "inclusive" (the function is anywhere on the stack), plus a
coarse breakdown of the event-loop thread by component (uvicorn/httptools,
our legacy handler, logging, metrics, asyncio, ...).
"""

from __future__ import annotations

import argparse
import collections
import re

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

COMPONENTS = (  # first match on the stack, innermost first
    (
        "logging (access log)",
        (
            "logging/",
            "passerelle/logs.py",
            "passerelle/access_log.py",
            "passerelle/redaction.py",
            "structlog/",
        ),
    ),
    ("prometheus metrics", ("prometheus_client/",)),
    ("sqlite writer / group commit", ("passerelle/store/writer.py", "passerelle/store/sqlite.py")),
    (
        "legacy param parsing / validation",
        (
            "passerelle/api/params.py",
            "passerelle/core/message.py",
            "passerelle/core/numbers.py",
            "passerelle/core/charset.py",
        ),
    ),
    ("auth / rate limits", ("passerelle/auth.py", "passerelle/core/ratelimit.py")),
    ("service", ("passerelle/service.py",)),
    ("legacy handler", ("passerelle/api/legacy.py", "passerelle/api/errors.py")),
    ("uvicorn / httptools protocol", ("uvicorn/",)),
    ("asyncio / uvloop", ("asyncio/", "uvloop")),
)


def parse(path: str) -> list[tuple[str, list[str], int]]:
    out = []
    with open(path) as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw:
                continue
            stack, _, count = raw.rpartition(" ")
            frames = stack.split(";")
            thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else "?"
            body = [fr for fr in frames if not fr.startswith(("thread", "process"))]
            out.append((thread, body, int(count)))
    return out


def short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    file = m.group("file")
    for cut in ("site-packages/", "lib/python3.11/", "src/"):
        if cut in file:
            file = file.split(cut, 1)[1]
    return f"{m.group('func')} ({file})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--thread", default="", help="only threads whose label contains this")
    args = ap.parse_args()
    samples = [s for s in parse(args.profile) if args.thread in s[0]]
    total = sum(c for _, _, c in samples) or 1
    threads: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    comp: collections.Counter[str] = collections.Counter()
    for thread, frames, count in samples:
        threads[thread] += count
        if frames:
            own[short(frames[-1])] += count
        for name in {short(f) for f in frames}:
            incl[name] += count
        label = "other"
        for frame in reversed(frames):
            hit = next((name for name, keys in COMPONENTS if any(k in frame for k in keys)), None)
            if hit:
                label = hit
                break
        comp[label] += count
    print(f"{total} samples")
    print("\nby thread:")
    for name, c in threads.most_common(10):
        print(f"  {100 * c / total:5.1f} %  {name}")
    print("\nby component (innermost recognised frame):")
    for name, c in comp.most_common():
        print(f"  {100 * c / total:5.1f} %  {name}")
    print(f"\nself time, top {args.top}:")
    for name, c in own.most_common(args.top):
        print(f"  {100 * c / total:5.1f} %  {name}")
    print(f"\ninclusive time, top {args.top}:")
    for name, c in incl.most_common(args.top):
        print(f"  {100 * c / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
