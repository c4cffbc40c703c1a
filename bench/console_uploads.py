"""What the console's uploads cost: a spreadsheet of contacts (CSV and XLSX) read by the
import, and a 2 MB multipart body parsed by the form reader. In-process, no server.

    .venv/bin/python bench/console_uploads.py [--rows 10000] [--repeat 5]

Prints, for each, the medians of `--repeat` runs: CPU seconds (the import reads on a
worker thread, but openpyxl holds the GIL while it reads, so its CPU is what one upload
can take from the event loop) and the size the limits look at (an XLSX's unpacked size).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
import zipfile
from typing import Any

import openpyxl
from starlette.requests import Request

from passerelle.console.imports import read_upload


def sheet(rows: int) -> tuple[bytes, bytes]:
    """The same contacts as CSV and as XLSX."""
    lines = [("numero", "nom")] + [(f"336{i:08d}", f"Contact {i} Dupont") for i in range(rows)]
    csv = "\n".join(";".join(line) for line in lines).encode()
    book = openpyxl.Workbook()
    for line in lines:
        book.active.append(list(line))  # type: ignore[union-attr]
    out = io.BytesIO()
    book.save(out)
    return csv, out.getvalue()


def multipart(size: int) -> tuple[bytes, bytes]:
    """A multipart body with one file of `size` bytes, and its content type."""
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
        + b"3361234567;x\n" * (size // 13)
        + b"\r\n--B--\r\n"
    )
    return body, b"multipart/form-data; boundary=B"


async def parse_form(body: bytes, content_type: bytes) -> None:
    """Parse `body` on the event loop as a page would (below the thread threshold)."""
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": [(b"content-type", content_type)]}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, receive)
    request._body = body
    await request.form(max_files=1, max_fields=10, max_part_size=len(body))


def cpu(run: Any, repeat: int) -> float:
    """Median CPU seconds of `run()` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    csv, xlsx = sheet(args.rows)
    unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(xlsx)).infolist())
    print(f"contacts: {args.rows}")
    csv_s = cpu(lambda: read_upload(csv), args.repeat)
    print(f"csv:  {len(csv):>9} bytes, read in {csv_s:.3f} s CPU")
    print(f"xlsx: {len(xlsx):>9} bytes ({unpacked} unpacked), read in "
          f"{cpu(lambda: read_upload(xlsx), args.repeat):.3f} s CPU")  # fmt: skip
    body, kind = multipart(2 * 1024 * 1024)
    seconds = cpu(lambda: asyncio.run(parse_form(body, kind)), args.repeat)
    print(f"multipart: {len(body)} bytes parsed in {seconds * 1000:.1f} ms CPU (on a thread "
          f"above 64 KiB: web.THREAD_BYTES)")  # fmt: skip


if __name__ == "__main__":
    main()
