"""What the JSON API answers, as frozen dataclasses read from its JSON (no pydantic)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# recipient states that never change again (docs/api-v1.md)
FINAL_STATES = frozenset({"delivered", "undelivered", "expired", "rejected", "failed"})


def _time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time of the API (``...Z``) as an aware datetime; None stays None."""
    if value is None:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a message and where it stands."""

    dest: str
    state: str  # queued, submitted, delivered, undelivered, expired, rejected, failed
    statut: int  # the legacy statut: 0 in flight, 1 delivered, 2 not delivered
    stat: str | None  # the operator's receipt status (DELIVRD, ...)
    updated_at: dt.datetime | None

    @property
    def final(self) -> bool:
        """True when the state will not change any more."""
        return self.state in FINAL_STATES

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Recipient:
        """A recipient from its JSON object."""
        return cls(
            dest=str(data["dest"]),
            state=str(data["state"]),
            statut=int(data["statut"]),
            stat=None if data.get("stat") is None else str(data["stat"]),
            updated_at=_time(data.get("updated_at")),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """A message of the account and its recipients; `replayed` is True when the answer
    was the remembered first answer of its Idempotency-Key (nothing sent again)."""

    msgid: int
    created_at: dt.datetime
    sender: str
    text: str
    cost: int
    statut: int  # the legacy statut of the whole message
    recipients: tuple[Recipient, ...]
    replayed: bool = False

    @property
    def final(self) -> bool:
        """True when every recipient listed is in a final state."""
        return all(r.final for r in self.recipients)

    @classmethod
    def of(cls, data: Mapping[str, Any], replayed: bool = False) -> Message:
        """A message from its JSON object."""
        created = _time(data["created_at"])
        if created is None:
            raise ValueError("a message without created_at")
        return cls(
            msgid=int(data["msgid"]),
            created_at=created,
            sender=str(data["sender"]),
            text=str(data["text"]),
            cost=int(data["cost"]),
            statut=int(data["statut"]),
            recipients=tuple(Recipient.of(r) for r in data.get("recipients", ())),
            replayed=replayed,
        )
