"""Receipts on their way: scheduled, ready, in flight; the window and the re-sends.

Receipts are owed to a system_id, not to a connection: they go to any session bound
with that system_id as receiver or transceiver, at most ``receipt_window``
unacknowledged deliver_sm per session, and wait while none is bound. A receipt is
done when a deliver_sm_resp ESME_ROK comes back; an error (or a generic_nack) sends
it again ``receipt_retry`` seconds later; a connection lost with receipts in flight
puts them back at the head of the line, to go again on the next bind (so an ESME may
see a receipt twice, never zero times).

Receipts wait their ``delay`` in a heap; one timer, fired at most 5 ms late so that
receipts falling due together leave in one batch, moves them to per-system_id FIFOs.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import replace

from passerelle.simulator.receipt import Pending, ReceiptWriter
from passerelle.simulator.session import SmscSession
from passerelle.simulator.stats import SimulatorStats

_SLACK = 0.005


class Outbox:
    """Every receipt a simulator owes, until acknowledged."""

    def __init__(
        self, stats: SimulatorStats, writer: ReceiptWriter, window: int, retry: float
    ) -> None:
        self._stats = stats
        self._frame = writer.frame
        self._window = window
        self._retry = retry
        self._receivers: dict[str, list[SmscSession]] = {}
        self._ready: dict[str, deque[Pending]] = {}
        self._scheduled: list[tuple[float, int, Pending]] = []
        self._ticket = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._held: dict[int, tuple[SmscSession, bytes]] = {}
        self.paused = False

    def pending(self) -> Iterator[Pending]:
        """Every receipt owed: scheduled (by due time), ready, then in flight."""
        for item in sorted(self._scheduled):
            yield item[2]
        for queue in self._ready.values():
            yield from queue
        for receivers in self._receivers.values():
            for session in receivers:
                yield from session.inflight.values()

    def pause(self) -> None:
        """Send nothing more (stopping): receipts stay owed, for the state file."""
        self.paused = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def resume(self) -> None:
        """Send again (started)."""
        self.paused = False
        if self._scheduled:
            self._arm(self._scheduled[0][0])

    # -- receivers

    def add_receiver(self, session: SmscSession) -> None:
        """`session` can take receipts for its system_id."""
        session.receiving = True
        self._receivers.setdefault(session.system_id, []).append(session)
        self._pump(session.system_id)

    def remove_receiver(self, session: SmscSession) -> None:
        """`session` unbinds or is gone: its receipts in flight go back to the head."""
        if session.receiving:
            session.receiving = False
            receivers = self._receivers.get(session.system_id, [])
            if session in receivers:
                receivers.remove(session)
        inflight = session.inflight
        if inflight:
            self._queue(session.system_id).extendleft(reversed(list(inflight.values())))
            self._stats.receipts_requeued += len(inflight)
            inflight.clear()
            self._pump(session.system_id)
        if self._held:
            for number in [n for n, (s, _) in self._held.items() if s is session]:
                del self._held[number]

    # -- receipts

    def push(self, pending: Pending, now: float) -> None:
        """A new receipt; sent at once when it is due."""
        if pending.due > now:
            self._schedule(pending)
        else:
            self._queue(pending.system_id).append(pending)
            self._pump(pending.system_id)

    def push_before(self, pending: Pending, session: SmscSession, resp: bytes) -> None:
        """A receipt sent at once; `resp` goes to `session` right after it is written."""
        self._held[pending.number] = (session, resp)
        self._queue(pending.system_id).append(pending)
        self._pump(pending.system_id)

    def answered(self, session: SmscSession, sequence: int, status: int) -> bool:
        """A deliver_sm_resp or generic_nack; True when it answered one of our receipts."""
        pending = session.inflight.pop(sequence, None)
        if pending is None:
            return False
        now = time.time()
        if status == 0:
            self._stats.receipts_acked += 1
            self._stats.last_receipt_acked_at = now
        else:
            self._stats.receipts_nacked += 1
            self._schedule(replace(pending, due=now + self._retry))
        self._pump(session.system_id)
        return True

    def _queue(self, system_id: str) -> deque[Pending]:
        queue = self._ready.get(system_id)
        if queue is None:
            queue = self._ready[system_id] = deque()
        return queue

    def _pump(self, system_id: str) -> None:
        """Send ready receipts of `system_id` to its receivers, within their windows."""
        queue = self._ready.get(system_id)
        receivers = self._receivers.get(system_id)
        if not queue or not receivers or self.paused:
            return
        window, frame, held = self._window, self._frame, self._held
        now = time.time()
        sent = 0
        for session in receivers:
            inflight = session.inflight
            while queue and len(inflight) < window:
                pending = queue.popleft()
                sequence = session.next_sequence()
                inflight[sequence] = pending
                session.send(frame(pending, sequence, now))
                sent += 1
                if held and (answer := held.pop(pending.number, None)) is not None:
                    answer[0].send(answer[1])
            if not queue:
                break
        if sent:
            self._stats.receipts_sent += sent
            self._stats.last_receipt_sent_at = now

    def _schedule(self, pending: Pending) -> None:
        self._ticket += 1
        heapq.heappush(self._scheduled, (pending.due, self._ticket, pending))
        self._arm(pending.due)

    def _arm(self, due: float) -> None:
        if self.paused or (self._timer is not None and self._timer_at <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        delay = max(0.0, due - time.time()) + _SLACK
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        heap = self._scheduled
        now = time.time() + _SLACK
        due: set[str] = set()
        while heap and heap[0][0] <= now:
            pending = heapq.heappop(heap)[2]
            self._queue(pending.system_id).append(pending)
            due.add(pending.system_id)
        for system_id in due:
            self._pump(system_id)
        if heap:
            self._arm(heap[0][0])
