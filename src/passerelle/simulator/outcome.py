"""Which final state a message gets: deterministic, from its number or its destination.

``sequence`` (the default) spreads the outcomes like Bresenham's line: message number
``k`` (plus the seed) is DELIVRD when ``floor((k+1)·d) - floor(k·d)`` is 1, with ``d``
the deliver ratio as an exact fraction. So *any* run of N consecutive message
numbers holds ``floor(N·d)`` or ``ceil(N·d)`` DELIVRD (exactly 70 of 100 for 0.7).
The others are split the same way, in turn, into EXPIRED, REJECTD and UNDELIV, each
by its share of what is left. Message numbers are only spent on accepted submits,
so "N consecutive accepted messages" is what the exactness is about.

``destination`` hashes the seed and the destination (BLAKE2b) to a number in [0, 1)
and compares it with the cumulative ratios: the same number always gets the same
outcome (a dead phone stays dead across retries), with the ratios holding only
statistically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction

from passerelle.simulator.config import OutcomeKey, SimulatorConfig

DELIVRD = "DELIVRD"
EXPIRED = "EXPIRED"
REJECTD = "REJECTD"
UNDELIV = "UNDELIV"
_LIMIT = 1_000_000


def _fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(_LIMIT)


def _share(part: Fraction, rest: Fraction) -> tuple[int, int]:
    """`part` of `rest` as (numerator, denominator); (0, 1) when nothing is left."""
    if rest <= 0:
        return 0, 1
    share = min(part / rest, Fraction(1))
    return share.numerator, share.denominator


@dataclass(frozen=True, slots=True)
class Outcomes:
    """The outcome rule of one configuration; `of` gives a message's stat."""

    by: OutcomeKey
    seed: int
    deliver: tuple[int, int]
    expire: tuple[int, int]
    reject: tuple[int, int]
    thresholds: tuple[float, float, float]

    @classmethod
    def of_config(cls, config: SimulatorConfig) -> Outcomes:
        """The rule for `config`'s ratios, seed and key."""
        d = _fraction(config.deliver_ratio)
        e = _fraction(config.expire_ratio)
        r = _fraction(config.reject_ratio)
        return cls(
            by=config.outcome_by,
            seed=config.seed,
            deliver=_share(d, Fraction(1)),
            expire=_share(e, 1 - d),
            reject=_share(r, 1 - d - e),
            thresholds=(float(d), float(d + e), float(d + e + r)),
        )

    def of(self, number: int, destination: str) -> str:
        """The final stat of message `number` sent to `destination`."""
        if self.by is OutcomeKey.DESTINATION:
            return self._by_destination(destination)
        k = number + self.seed
        for share, stat in ((self.deliver, DELIVRD), (self.expire, EXPIRED)):
            num, den = share
            low = k * num // den
            if (k + 1) * num // den != low:
                return stat
            k -= low  # rank among the messages that did not get `stat`
        num, den = self.reject
        return REJECTD if (k + 1) * num // den != k * num // den else UNDELIV

    def _by_destination(self, destination: str) -> str:
        digest = hashlib.blake2b(f"{self.seed}:{destination}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        delivered, expired, rejected = self.thresholds
        if u < delivered:
            return DELIVRD
        if u < expired:
            return EXPIRED
        return REJECTD if u < rejected else UNDELIV
