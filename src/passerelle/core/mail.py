"""What an e-mail of the outbox may hold (pure): one plain address, a one-line subject.

Header values are checked when the e-mail is queued, not when it is sent: a line break
in an address or a subject would let it add headers (header injection), and an e-mail
refused at sending would only be retried until its horizon.
"""

from __future__ import annotations

import re

MAX_ADDRESS = 254  # RFC 5321's path limit, less the angle brackets
MAX_SUBJECT = 998  # RFC 5322's line limit
# local@domain: no spaces, no control characters, no angle brackets, quotes or commas
_ADDRESS = re.compile(r"[^\s@<>\",;:()\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def mail_problem(to_addr: str, subject: str) -> str | None:
    """Why an e-mail to `to_addr` with `subject` cannot be queued, or None when it can."""
    if len(to_addr) > MAX_ADDRESS or _ADDRESS.fullmatch(to_addr) is None:
        return f"not a plain e-mail address: {to_addr!r}"
    if len(subject) > MAX_SUBJECT or any(ord(c) < 32 or ord(c) == 127 for c in subject):
        return "a subject is one line of at most 998 characters, without control characters"
    return None
