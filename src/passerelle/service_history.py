"""Reads of the console's message pages: the history's filters (state groups, dates)
and what the live stream (`/sms/live`) sends.

The history groups recipient states as the manual's customers read them: "en cours"
(queued, submitted), "reçu" (delivered), "non reçu" (undelivered, expired, rejected),
"échec" (failed, refunded). The store filters by one state; a group of several is the
merge of one query per state (each sorted newest first), so pages stay exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from passerelle.core.console import MessageQuery
from passerelle.core.states import RecipientState as S
from passerelle.core.values import MessageSummary, RecipientStatus
from passerelle.store.base import Store

PAGE_SIZE = 50
MAX_PAGE = 200  # deeper pages: narrow the dates instead
MAX_LIVE_IDS = 100
LIVE_STREAMS = 100  # live streams one process serves at once
LIVE_PER_ACCOUNT = 4  # of them, for one account (a few tabs)
MAX_MSGID_DIGITS = 18

GROUPS: dict[str, tuple[S, ...]] = {
    "en_cours": (S.QUEUED, S.SUBMITTED),
    "recu": (S.DELIVERED,),
    "non_recu": (S.UNDELIVERED, S.EXPIRED, S.REJECTED),
    "echec": (S.FAILED,),
}
GROUP_OF: dict[S, str] = {state: name for name, states in GROUPS.items() for state in states}


def group_of(state: int) -> str:
    """The history group of a recipient state (its label key is ``state.<group>``)."""
    return GROUP_OF[S(state)]


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """The history's filters as the page's query string gives them, checked."""

    since: dt.date | None = None
    until: dt.date | None = None  # inclusive: the whole day
    group: str = ""
    number: str = ""
    page: int = 1

    def query(self, states: S | None, limit: int, offset: int) -> MessageQuery:
        """The store's query for one state (or none) of this filter."""
        return MessageQuery(
            since=None if self.since is None else day_start(self.since),
            until=None if self.until is None else day_start(self.until) + 86400,
            state=states,
            dest=self.number or None,
            limit=limit,
            offset=offset,
        )


def day_start(day: dt.date) -> float:
    """Unix seconds of midnight UTC starting `day`."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def parse_day(value: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` date, or None (empty); ValueError when it is not one."""
    if not value:
        return None
    if len(value) != 10:
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def parse_filter(since: str, until: str, group: str, number: str, page: str) -> HistoryFilter:
    """The filter of the history's query parameters; ValueError for a bad date or state."""
    if group and group not in GROUPS:
        raise ValueError(group)
    digits = "".join(c for c in number if c.isascii() and c.isdigit())[:20]
    number_page = int(page) if page.isascii() and page.isdigit() and len(page) <= 4 else 1
    return HistoryFilter(
        since=parse_day(since),
        until=parse_day(until),
        group=group,
        number=digits,
        page=min(max(number_page, 1), MAX_PAGE),
    )


async def search(
    store: Store, account_id: int, wanted: HistoryFilter
) -> tuple[list[MessageSummary], bool]:
    """One page of the account's history (newest first) and whether a next one exists."""
    offset = (wanted.page - 1) * PAGE_SIZE
    states: Sequence[S | None] = GROUPS[wanted.group] if wanted.group else (None,)
    if len(states) == 1:
        found = await store.search_messages(
            account_id, wanted.query(states[0], PAGE_SIZE + 1, offset)
        )
    else:
        merged: dict[int, MessageSummary] = {}
        for state in states:
            rows = await store.search_messages(
                account_id, wanted.query(state, offset + PAGE_SIZE + 1, 0)
            )
            for row in rows:
                merged.setdefault(row.msgid, row)
        ordered = sorted(merged.values(), key=lambda m: (m.created_at, m.msgid), reverse=True)
        found = ordered[offset : offset + PAGE_SIZE + 1]
    return found[:PAGE_SIZE], len(found) > PAGE_SIZE


def parse_msgid(value: str) -> int | None:
    """A msgid as the path or the stream gives it, or None when it cannot be one."""
    if value.isascii() and value.isdigit() and 0 < len(value) <= MAX_MSGID_DIGITS:
        return int(value)
    return None


def parse_ids(value: str) -> list[int]:
    """The msgids of a ``1,2,3`` list: malformed ones dropped, duplicates once, at most
    `MAX_LIVE_IDS` (the rest ignored)."""
    found: dict[int, None] = {}
    for item in value.split(",")[: 4 * MAX_LIVE_IDS]:
        msgid = parse_msgid(item.strip())
        if msgid is not None:
            found[msgid] = None
        if len(found) >= MAX_LIVE_IDS:
            break
    return list(found)


Snapshot = tuple[tuple[str, int], ...]


class LiveTracker:
    """What the live stream has sent: the changes of the watched messages since the last
    event (all of them the first time); a message whose recipients are all final is sent
    once more and then no longer read."""

    def __init__(self, msgids: Sequence[int], shown: int) -> None:
        self.watching = list(msgids)
        self.shown = shown  # recipients sent per message (the pages show as many)
        self.sent: dict[int, Snapshot] = {}
        self.credits: int | None = None

    def changes(
        self, states: dict[int, tuple[RecipientStatus, ...]]
    ) -> list[tuple[int, tuple[RecipientStatus, ...]]]:
        """The messages of `states` that changed since they were last sent (their first
        `shown` recipients); the finished ones stop being watched."""
        changed = []
        for msgid in list(self.watching):
            recipients = states.get(msgid)
            if recipients is None:  # not the account's, or purged: never sent
                self.watching.remove(msgid)
                continue
            shown = recipients[: self.shown]
            snapshot = tuple((r.dest, int(r.state)) for r in shown)
            if self.sent.get(msgid) != snapshot:
                self.sent[msgid] = snapshot
                changed.append((msgid, shown))
            if all(r.state.final for r in recipients):
                self.watching.remove(msgid)
        return changed

    def balance_changed(self, credits: int) -> bool:
        """True when `credits` differs from the last balance sent (or none was)."""
        if credits == self.credits:
            return False
        self.credits = credits
        return True


class LiveSlots:
    """The live streams one process serves at once (each holds a connection and reads
    the store every second): at most `limit`, and at most `per_key` for one key (an
    account), so that one customer cannot take every slot."""

    def __init__(self, limit: int = LIVE_STREAMS, per_key: int = LIVE_PER_ACCOUNT) -> None:
        self.limit = limit
        self.per_key = per_key
        self.active = 0
        self.by_key: dict[str, int] = {}

    def take(self, key: str) -> bool:
        """A slot for `key`, or False when the process's or the key's are all taken."""
        held = self.by_key.get(key, 0)
        if self.active >= self.limit or held >= self.per_key:
            return False
        self.active += 1
        self.by_key[key] = held + 1
        return True

    def give(self, key: str) -> None:
        """Give a slot of `key` back."""
        self.active = max(0, self.active - 1)
        held = self.by_key.get(key, 0) - 1
        if held > 0:
            self.by_key[key] = held
        else:
            self.by_key.pop(key, None)
