"""The simulator's options: one frozen `SimulatorConfig`, and the enums it uses.

Every field maps 1:1 to a ``passerelle simulator`` option (``--deliver-ratio`` for
``deliver_ratio``; ``--mode`` may repeat):

======================  =====================  ===============================================
option                  default                meaning
======================  =====================  ===============================================
``host``                ``127.0.0.1``          address to listen on (loopback unless
                                               ``allow_remote``)
``port``                ``0``                  TCP port; 0 picks a free one (logged, returned
                                               by ``start``, written to the stats file)
``allow_remote``        ``False``              allow a non-loopback ``host``
``system_id``           ``None``               required bind system_id; None accepts any
``password``            ``None``               required bind password; None accepts any
``smsc_system_id``      ``passerelle-sim``     system_id sent in bind_resp
``delay``               ``0.0``                seconds between submit_sm and its receipt
``deliver_ratio``       ``1.0``                share of messages that end DELIVRD
``expire_ratio``        ``0.0``                share that end EXPIRED
``reject_ratio``        ``0.0``                share that end REJECTD (the rest: UNDELIV)
``outcome_by``          ``sequence``           what decides a message's outcome:
                                               ``sequence`` (message number + seed: exact
                                               ratios over any run of consecutive messages)
                                               or ``destination`` (hash of seed +
                                               destination: a number always gets the same
                                               outcome)
``seed``                ``0``                  shifts the outcome pattern
``id_format``           ``decimal``            ``decimal``, ``hex`` (both sides),
                                               ``hex-resp`` (hex in submit_sm_resp, decimal
                                               in receipts) or ``hex-receipt``
``id_start``            ``None``               first message number; None: the wall clock
                                               in µs, so a restart never reuses an id
``modes``               none                   failure modes, see `Mode` (repeatable)
``every``               ``10``                 N of the "every Nth submit" modes
``max_rate``            ``0.0``                THROTTLE / QUEUE_FULL: submits per second
                                               above which they answer (0: every Nth)
``reject_status``       ``0x0B``               command_status of REJECT
``malformation``        ``unknown-command``    MALFORMED_PDU's garbage, see `Malformation`
``receipt_window``      ``10``                 outstanding receipt deliver_sm per session
``receipt_retry``       ``1.0``                seconds before re-sending a receipt that
                                               was answered with an error
``state_file``          ``None``               JSON file of the id counter and unacked
                                               receipts, reloaded at start
``state_interval``      ``0.5``                seconds between state saves
``stats_file``          ``None``               JSON file of `SimulatorStats`
``stats_interval``      ``0.5``                seconds between stats writes
``track_destinations``  ``True``               count accepted submits per destination
``unbind_timeout``      ``1.0``                seconds `stop` waits for unbind_resp
======================  =====================  ===============================================
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from passerelle.exceptions import ConfigError


class Mode(enum.Enum):
    """Named failure modes; several combine (the first that applies to a submit wins,
    in this order: DISCONNECT_ON_SUBMIT, NO_ANSWER, REJECT, GENERIC_NACK, QUEUE_FULL,
    THROTTLE)."""

    NO_ANSWER = "no-answer"  # never answer submit_sm (no id, no receipt)
    THROTTLE = "throttle"  # ESME_RTHROTTLED to every Nth submit or above max_rate
    QUEUE_FULL = "queue-full"  # ESME_RMSGQFUL likewise
    GENERIC_NACK = "generic-nack"  # generic_nack (ESME_RSYSERR) to every Nth submit
    DISCONNECT_ON_SUBMIT = "disconnect-on-submit"  # close upon every Nth submit
    RECEIPT_BEFORE_RESP = "receipt-before-resp"  # receipt at once (no delay), then the resp
    HEX_IDS = "hex-ids"  # shorthand for id_format hex-resp when id_format is decimal
    TEXT_ONLY_RECEIPTS = "text-only-receipts"  # receipts without TLVs
    MALFORMED_PDU = "malformed-pdu"  # a garbage frame after every Nth submit
    REFUSE_BIND = "refuse-bind"  # every bind answered ESME_RBINDFAIL
    REJECT = "reject"  # every submit answered reject_status


class IdFormat(enum.Enum):
    """How message ids are written in submit_sm_resp and in receipts.

    In `passerelle.core.receipts.IdMode` terms: HEX_RESP is ``dec-to-hex`` and
    HEX_RECEIPT is ``hex-to-dec``; DECIMAL and HEX are ``as-is``.
    """

    DECIMAL = "decimal"
    HEX = "hex"
    HEX_RESP = "hex-resp"
    HEX_RECEIPT = "hex-receipt"


class OutcomeKey(enum.Enum):
    """What a message's final state is derived from."""

    SEQUENCE = "sequence"
    DESTINATION = "destination"


class Malformation(enum.Enum):
    """The garbage MALFORMED_PDU sends."""

    UNKNOWN_COMMAND = "unknown-command"  # well framed, unknown command_id: generic_nack it
    TRUNCATED_BODY = "truncated-body"  # a deliver_sm whose sm_length runs past the PDU
    BAD_LENGTH = "bad-length"  # command_length 8: the stream is lost, close it


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Every option of the simulator; the module docstring tables them."""

    host: str = "127.0.0.1"
    port: int = 0
    allow_remote: bool = False
    system_id: str | None = None
    password: str | None = None
    smsc_system_id: str = "passerelle-sim"
    delay: float = 0.0
    deliver_ratio: float = 1.0
    expire_ratio: float = 0.0
    reject_ratio: float = 0.0
    outcome_by: OutcomeKey = OutcomeKey.SEQUENCE
    seed: int = 0
    id_format: IdFormat = IdFormat.DECIMAL
    id_start: int | None = None
    modes: frozenset[Mode] = frozenset()
    every: int = 10
    max_rate: float = 0.0
    reject_status: int = 0x0B
    malformation: Malformation = Malformation.UNKNOWN_COMMAND
    receipt_window: int = 10
    receipt_retry: float = 1.0
    state_file: Path | None = None
    state_interval: float = 0.5
    stats_file: Path | None = None
    stats_interval: float = 0.5
    track_destinations: bool = True
    unbind_timeout: float = 1.0

    def __post_init__(self) -> None:
        ratios = (self.deliver_ratio, self.expire_ratio, self.reject_ratio)
        if any(not 0.0 <= r <= 1.0 for r in ratios) or sum(ratios) > 1.0 + 1e-9:
            raise ConfigError("simulator ratios must be within 0..1 and sum to at most 1")
        if self.every < 1 or self.receipt_window < 1:
            raise ConfigError("simulator every and receipt_window must be at least 1")
        if min(self.delay, self.max_rate, self.receipt_retry) < 0:
            raise ConfigError("simulator delay, max_rate and receipt_retry cannot be negative")
        if min(self.state_interval, self.stats_interval) <= 0:
            raise ConfigError("simulator state and stats intervals must be positive")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"simulator port {self.port} out of range")
        if not self.allow_remote and not is_loopback(self.host):
            raise ConfigError(f"simulator host {self.host!r} is not loopback (allow_remote)")

    @property
    def ids(self) -> IdFormat:
        """The id format in force, HEX_IDS folded in."""
        if self.id_format is IdFormat.DECIMAL and Mode.HEX_IDS in self.modes:
            return IdFormat.HEX_RESP
        return self.id_format


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
