"""What the simulator does with the Nth submit_sm, given its failure modes.

"Every Nth" counts every submit_sm the simulator received (all sessions, failed ones
included), so with ``every`` 3 the 3rd, 6th, 9th... are hit. With ``max_rate`` set,
THROTTLE and QUEUE_FULL hit instead the submits above that rate (a token bucket of
one second's worth of submits, refilled continuously; refused submits take no token).
"""

from __future__ import annotations

import enum
import time

from passerelle.simulator.config import Malformation, Mode, SimulatorConfig
from passerelle.smpp.frame import HEADER
from passerelle.smpp.pdu import CommandId

_SUBMIT_MODES = frozenset(
    {
        Mode.NO_ANSWER,
        Mode.THROTTLE,
        Mode.QUEUE_FULL,
        Mode.GENERIC_NACK,
        Mode.DISCONNECT_ON_SUBMIT,
        Mode.REJECT,
    }
)
_BAD_COMMAND = 0x00000BAD


class Verdict(enum.Enum):
    """The fate of one submit_sm."""

    ACCEPT = "accept"
    NO_ANSWER = "no-answer"
    DISCONNECT = "disconnect"
    NACK = "nack"
    REJECT = "reject"
    QUEUE_FULL = "queue-full"
    THROTTLE = "throttle"


class SubmitPolicy:
    """Applies the failure modes of a configuration, submit after submit."""

    __slots__ = ("_every", "_last", "_malformed", "_modes", "_plain", "_rate", "_tokens")

    def __init__(self, config: SimulatorConfig) -> None:
        self._modes = config.modes
        self._every = config.every
        self._rate = config.max_rate
        self._tokens = max(config.max_rate, 1.0)
        self._last = time.monotonic()
        self._plain = not (config.modes & _SUBMIT_MODES)
        self._malformed = Mode.MALFORMED_PDU in config.modes

    def verdict(self, count: int) -> Verdict:
        """The fate of the submit_sm numbered `count` (from 1)."""
        if self._plain:
            return Verdict.ACCEPT
        modes = self._modes
        nth = count % self._every == 0
        if nth and Mode.DISCONNECT_ON_SUBMIT in modes:
            return Verdict.DISCONNECT
        if Mode.NO_ANSWER in modes:
            return Verdict.NO_ANSWER
        if Mode.REJECT in modes:
            return Verdict.REJECT
        if nth and Mode.GENERIC_NACK in modes:
            return Verdict.NACK
        limited = Mode.QUEUE_FULL in modes or Mode.THROTTLE in modes
        if limited and self._over(nth):
            return Verdict.QUEUE_FULL if Mode.QUEUE_FULL in modes else Verdict.THROTTLE
        return Verdict.ACCEPT

    def malformed_after(self, count: int) -> bool:
        """True when a garbage frame follows the answer to submit `count`."""
        return self._malformed and count % self._every == 0

    def _over(self, nth: bool) -> bool:
        if self._rate <= 0:
            return nth
        now = time.monotonic()
        capacity = max(self._rate, 1.0)
        self._tokens = min(capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return False
        return True


def garbage(kind: Malformation, sequence: int) -> bytes:
    """The frame MALFORMED_PDU sends, numbered `sequence`."""
    if kind is Malformation.BAD_LENGTH:
        return HEADER.pack(8, _BAD_COMMAND, 0, sequence) + b"\xde\xad\xbe\xef" * 2
    if kind is Malformation.TRUNCATED_BODY:
        # service_type, source, destination (empty), esm..priority, schedule, validity,
        # registered..default_msg_id, then sm_length 200 for 5 octets of message
        body = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc8hello"
        return HEADER.pack(16 + len(body), CommandId.DELIVER_SM, 0, sequence) + body
    return HEADER.pack(24, _BAD_COMMAND, 0, sequence) + b"\xde\xad\xbe\xef" * 2
