"""Callback signatures (pure): ``X-Passerelle-Signature: t=<unix>,v1=<hex>``.

``v1`` is HMAC-SHA256 keyed with the account's callback secret exactly as shown (its
UTF-8 bytes) over ``"<t>." + payload``, where the payload is the form-encoded body of
a POST, or the query string of a GET. PHP verifies it with
``hash_hmac('sha256', "$t.$body", $secret)``.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Passerelle-Signature"
EVENT_HEADER = "X-Passerelle-Event-Id"
DEFAULT_TOLERANCE = 300  # seconds a receiver should accept between t and its clock


def sign(secret: str, timestamp: int, payload: bytes) -> str:
    """The signature header value for `payload` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, payload: bytes, now: float, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """True when `header` signs `payload` with `secret` and its time is within tolerance."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, payload).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
