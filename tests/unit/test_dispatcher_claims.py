"""The dispatcher's claims: batched apart from the windows, given back when not submitted.

The store is the in-memory twin (its claims, leases and claim-guarded releases); the
links are fakes whose submits wait until the test answers them, on a clock the test
moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from passerelle.core.routing import Route
from passerelle.core.states import RecipientState
from passerelle.core.values import Connector, DueRecipient, NewAccount, NewMessage
from passerelle.delivery.dispatcher import AHEAD, CLAIM_FLOOR, RECORDING_AHEAD, Dispatcher
from passerelle.delivery.link import CLAIM_ENDING, SubmitResult
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.service_workers import Operations
from passerelle.smpp.pdu import SubmitSm
from passerelle.store.memory import MemoryStore

QUEUED = RecipientState.QUEUED
LEASE = 60.0
HOLD = 1.0


class CountingStore(MemoryStore):
    """The twin, keeping the limit of every claim (one transaction each in SQLite)."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[int] = []
        self.got: list[int] = []
        self.recording = asyncio.Event()  # cleared: recording a submit waits
        self.recording.set()

    async def claim_due(self, now: float, lease: float, limit: int) -> list[DueRecipient]:
        self.limits.append(limit)
        due = await super().claim_due(now, lease, limit)
        self.got.append(len(due))
        return due

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        await self.recording.wait()
        await super().mark_submitted(recipient_id, connector, smsc_id, now)


class FakeLink:
    """A link whose submits take a window slot and wait for `answer`."""

    def __init__(self, name: str, window: int, clock: list[float] | None = None) -> None:
        self.name = name
        self.now = clock or [0.0]  # the link's clock (the test's)
        self.connector = Connector(name, "127.0.0.1", 1, "x", "y", window=window)
        self.up = True
        self.started = 0  # submits waiting for their slot or their answer
        self.most = 0  # the most ever started at once
        self.dests: list[str] = []
        self._slots = asyncio.Semaphore(window)
        self._answers: list[asyncio.Future[SubmitResult]] = []

    def clock(self) -> float:
        return self.now[0]

    async def submit(self, pdu: SubmitSm, not_after: float | None = None) -> SubmitResult:
        self.started += 1
        self.most = max(self.most, self.started)
        try:
            async with self._slots:
                if not_after is not None and self.now[0] > not_after:
                    return SubmitResult(None, error=CLAIM_ENDING)  # as Link.submit
                self.dests.append(pdu.destination_addr)
                answer: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
                self._answers.append(answer)
                return await answer
        finally:
            self.started -= 1

    async def answer(self, count: int) -> None:
        """Accept the `count` oldest submits sent, then let their tasks run."""
        for _ in range(count):
            answer = self._answers.pop(0)
            answer.set_result(SubmitResult(0, f"id{len(self.dests)}"))
        await settle()


@dataclass
class FakeLinks:
    """The supervisor's side: routes, links, health and capacity."""

    links: dict[str, FakeLink]
    rules: list[Route] = field(default_factory=list)

    def routes(self) -> Sequence[Route]:
        return self.rules or [Route(0, "", tuple(self.links))]

    def get(self, name: str) -> FakeLink | None:
        return self.links.get(name)

    def healthy(self, name: str) -> bool:
        return name in self.links and self.links[name].up

    def capacity(self) -> int:
        return sum(link.connector.window for link in self.links.values() if link.up)


@dataclass
class Rig:
    store: CountingStore
    link: FakeLink
    links: FakeLinks
    dispatcher: Dispatcher
    now: list[float]

    def row(self, recipient_id: int) -> tuple[float | None, float, RecipientState]:
        r = self.store.outbox[recipient_id]
        return r.claimed_until, r.next_attempt_at, r.state

    def claimed(self) -> list[int]:
        """The queued recipients under a claim."""
        return [
            rid
            for rid, r in self.store.outbox.items()
            if r.state is RecipientState.QUEUED and r.claimed_until is not None
        ]

    def free(self) -> int:
        """The queued recipients under no claim and due from the start."""
        return sum(1 for rid in self.store.outbox if self.row(rid) == (None, 0.0, QUEUED))


async def settle() -> None:
    """Let the tasks that can run do so."""
    for _ in range(20):
        await asyncio.sleep(0)


async def queue(store: MemoryStore, dests: Sequence[str], at: float = 0.0) -> None:
    account = await store.create_account(
        NewAccount(f"a{at}", "a@x.fr", "h", "s", at, credits=len(dests))
    )
    message = NewMessage(account.id, at, "S", 5, "x", False, False, tuple(dests), len(dests))
    await store.accept_message(message)


async def step(rig: Rig) -> None:
    """One dispatcher step, then the submits it started run up to their wait."""
    await rig.dispatcher.step()
    await settle()


def numbers(count: int, prefix: str = "3361") -> list[str]:
    return [f"{prefix}{i:07d}" for i in range(count)]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    store = CountingStore()
    await store.open()
    now = [10.0]
    link = FakeLink("a", window=10, clock=now)
    links = FakeLinks({"a": link})
    dispatcher = Dispatcher(
        Operations(store),
        links,  # type: ignore[arg-type]  # FakeLink stands for Link
        DeliveryMetrics(CollectorRegistry()),
        lease=LEASE,
        poll=0.01,
        wait_hold=HOLD,
        clock=lambda: now[0],
    )
    yield Rig(store, link, links, dispatcher, now)
    await dispatcher.stop(0)
    for _ in range(10):  # the submits still waiting end as lost connections
        for fake in links.links.values():
            for answer in fake._answers:
                answer.set_result(SubmitResult(None, error="connection lost"))
            fake._answers.clear()
        await settle()
    await store.close()


async def test_a_small_window_claims_in_runs_of_half_the_look_ahead(rig: Rig) -> None:
    """At window 10, 200 recipients are taken by 6 claims (64, then 32 or more each),
    never one per freed slot, and no more than AHEAD submits per slot start at once."""
    await queue(rig.store, numbers(200))
    while len(rig.link.dests) < 200:
        await step(rig)
        if rig.link._answers:
            await rig.link.answer(1)
    assert rig.store.limits[0] == CLAIM_FLOOR
    assert all(limit >= CLAIM_FLOOR // 2 for limit in rig.store.limits)
    assert len([got for got in rig.store.got if got]) == 6
    assert rig.link.most == AHEAD * 10
    assert sorted(rig.link.dests) == numbers(200)


async def test_a_short_claim_is_not_repeated_at_each_freed_slot(rig: Rig) -> None:
    """A claim that found fewer than it asked for is repeated only after `poll`, on
    `notify` (once) or once the claimed recipients are all handed over, not when a
    slot frees."""
    await queue(rig.store, numbers(30))
    await step(rig)
    assert (rig.store.limits, rig.dispatcher.ready, rig.link.started) == ([64], 10, 20)
    for _ in range(5):
        await rig.link.answer(1)
        await step(rig)
    assert (len(rig.store.limits), rig.dispatcher.ready) == (1, 5)
    rig.dispatcher.notify()
    await rig.link.answer(1)
    await step(rig)
    await rig.link.answer(1)
    await step(rig)
    assert (len(rig.store.limits), rig.dispatcher.ready) == (2, 3)
    rig.now[0] += 0.02  # the poll interval passed
    await rig.link.answer(1)
    await step(rig)
    assert len(rig.store.limits) == 3


async def test_stop_releases_the_claimed_recipients_not_handed_to_a_link(rig: Rig) -> None:
    """On stop, the recipients claimed but not yet submitted are released at once (due as
    they were, not counted as reclaims); those submitted keep their claim."""
    await queue(rig.store, numbers(100))
    await step(rig)
    assert (rig.dispatcher.ready, rig.link.started) == (44, 20)
    await rig.dispatcher.stop(0.01)
    assert rig.dispatcher.ready == 0
    held = rig.claimed()
    assert len(held) == 20
    assert set(rig.link.dests) <= {rig.store.outbox[rid].dest for rid in held}
    again = await rig.store.claim_due(rig.now[0], LEASE, 100)
    assert len(again) == 80
    assert not any(r.reclaimed for r in again)


async def test_no_link_up_gives_the_claimed_recipients_back(rig: Rig) -> None:
    """When no link of the process is up, its claimed recipients are released without a
    hold: another process with a link up may take them at once."""
    await queue(rig.store, numbers(100))
    await step(rig)
    assert (rig.dispatcher.ready, rig.free()) == (44, 36)
    rig.link.up = False
    await step(rig)
    assert (rig.dispatcher.ready, len(rig.claimed()), rig.free()) == (0, 20, 80)


async def test_recipients_past_half_their_lease_are_released_not_submitted(rig: Rig) -> None:
    """A claimed recipient with less than half of its lease left is released when its turn
    comes, never submitted under a claim about to end."""
    await queue(rig.store, numbers(100))
    await step(rig)
    assert rig.dispatcher.ready == 44
    rig.now[0] += LEASE / 2 + 1
    await rig.link.answer(5)
    sent = len(rig.link.dests)
    await step(rig)
    assert rig.dispatcher.ready == 0
    assert len(rig.link.dests) == sent  # only the 15 already waiting for a slot were sent
    assert (len(rig.claimed()), rig.free()) == (15, 80)


async def test_recording_back_pressure_holds_claims_and_submits(rig: Rig) -> None:
    """While RECORDING_AHEAD submits per slot await their commit, nothing is claimed and
    no claimed recipient is handed to a link."""
    rig.link = rig.links.links["a"] = FakeLink("a", window=1)
    await queue(rig.store, numbers(100))
    rig.store.recording.clear()
    await step(rig)
    for _ in range(RECORDING_AHEAD - 1):
        await rig.link.answer(1)
        await step(rig)
    await rig.link.answer(1)
    assert (len(rig.store.limits), rig.link.started) == (1, 1)
    for _ in range(3):
        await step(rig)
    assert (len(rig.store.limits), rig.link.started) == (1, 1)
    rig.store.recording.set()
    await settle()
    await step(rig)
    assert rig.link.started == AHEAD


async def test_recipients_with_no_connector_up_are_released_when_claimed(rig: Rig) -> None:
    """Recipients whose route has no connector up are released with the hold as soon as
    they are claimed, not kept in the look-ahead; the others are."""
    rig.links.links["b"] = FakeLink("b", window=10)
    rig.links.links["b"].up = False
    rig.links.rules = [Route(0, "3362", ("b",)), Route(1, "3361", ("a",))]
    await queue(rig.store, numbers(30, "3362") + numbers(30, "3361"))
    await step(rig)
    assert (rig.dispatcher.ready, rig.link.started) == (10, 20)
    waiting = [rid for rid, r in rig.store.outbox.items() if r.dest.startswith("3362")]
    assert all(rig.row(rid) == (None, 10.0 + HOLD, QUEUED) for rid in waiting)


async def test_a_batch_smaller_than_the_floor_bounds_the_look_ahead(rig: Rig) -> None:
    """With PASSERELLE_DISPATCH_BATCH 20 and window 10 no more than AHEAD * window (20)
    recipients are claimed at once (what a kill -9 can leave claimed), in claims of 10+."""
    rig.dispatcher.batch = 20
    await queue(rig.store, numbers(100))
    for _ in range(30):
        await step(rig)
        assert len(rig.claimed()) <= 20
        await rig.link.answer(1)
    assert rig.store.limits[0] == 20
    assert all(limit >= 10 for limit in rig.store.limits)
    assert len(rig.store.limits) <= 4


def recipient_of(rig: Rig, dest: str) -> int:
    """The id of the recipient with number `dest`."""
    return next(rid for rid, row in rig.store.outbox.items() if row.dest == dest)


async def test_a_submit_whose_claim_is_ending_is_given_back_unsent(rig: Rig) -> None:
    """A recipient that gets its window slot with under a quarter of its lease left is
    not written (another process may claim it again and send it) but released, due
    again, with no attempt counted."""
    rig.link = rig.links.links["a"] = FakeLink("a", window=1, clock=rig.now)
    first, second, _ = numbers(3)
    await queue(rig.store, numbers(3))
    await step(rig)  # one claim until 70: the first in flight, the second waits its slot
    assert rig.link.dests == [first]
    rig.now[0] = 10.0 + 0.75 * LEASE + 1  # the second's claim has < 1/4 of its lease left
    await rig.link.answer(1)  # the slot is free: too late for the second
    assert rig.link.dests == [first]
    waiting = rig.store.outbox[recipient_of(rig, second)]
    assert (waiting.claimed_until, waiting.state, waiting.attempts) == (None, QUEUED, 0)


async def test_stop_during_a_claim_gives_back_what_it_claimed(rig: Rig) -> None:
    """`stop` while a claim is being committed: the claim completes, its recipients not
    handed to the link are released; only the started submits (AHEAD per slot) hold theirs."""
    await queue(rig.store, numbers(100))
    committed, gate = asyncio.Event(), asyncio.Event()
    claim = rig.store.claim_due

    async def slow_claim(now: float, lease: float, limit: int) -> list[DueRecipient]:
        due = await claim(now, lease, limit)
        committed.set()  # the claim is in the database, its answer not yet back
        await gate.wait()
        return due

    rig.store.claim_due = slow_claim  # type: ignore[method-assign]
    rig.dispatcher.start()
    await asyncio.wait_for(committed.wait(), 2)
    stopping = asyncio.create_task(rig.dispatcher.stop(0.5))
    await settle()
    gate.set()
    await stopping
    assert len(rig.claimed()) == rig.link.started == AHEAD * 10  # of the 64 claimed
