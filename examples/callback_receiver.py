"""Passerelle delivery-receipt callback receiver (docs/callbacks.md), standard library only.

    PASSERELLE_CALLBACK_SECRET=... python callback_receiver.py 8000

The secret is the one `passerelle account show LOGIN` prints.
"""

import hashlib
import hmac
import os
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

SECRET = os.environ["PASSERELLE_CALLBACK_SECRET"]
DATABASE = os.environ.get("PASSERELLE_EVENTS_DB", "passerelle-events.db")
TOLERANCE = 300  # seconds allowed between the signature's time and ours


def signature_ok(secret: str, header: str, payload: bytes, now: float) -> bool:
    """True when X-Passerelle-Signature `header` signs `payload` (POST body, GET query)."""
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or abs(now - int(t)) > TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), t.encode() + b"." + payload, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), v1)


class Receiver(BaseHTTPRequestHandler):
    db = sqlite3.connect(DATABASE, check_same_thread=False)
    db.execute(
        "CREATE TABLE IF NOT EXISTS events (event_id INTEGER PRIMARY KEY,"
        " msgid TEXT, dest TEXT, statut INTEGER, stat TEXT, date TEXT)"
    )
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.handle_event(body)

    def do_GET(self) -> None:
        self.handle_event(urlsplit(self.path).query.encode())

    def handle_event(self, payload: bytes) -> None:
        header = self.headers.get("X-Passerelle-Signature", "")
        if not signature_ok(SECRET, header, payload, time.time()):
            return self.answer(400, b"invalid signature\n")
        fields = dict(parse_qsl(payload.decode(), keep_blank_values=True))
        with self.lock, self.db:  # idempotent: the same event_id is stored once
            self.db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                (int(fields["event_id"]), fields["msgid"], fields["dest"],
                 int(fields["statut"]), fields["stat"], fields["date"]),
            )  # fmt: skip
        self.answer(200, b"OK\n")  # any 2xx within 10 s: delivered

    def answer(self, status: int, text: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
