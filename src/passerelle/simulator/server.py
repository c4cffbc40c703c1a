"""The simulator: an SMPP 3.4 server that accepts messages and delivers receipts.

Receipts are owed to a system_id, not to a connection: they go to any session bound
with that system_id as receiver or transceiver, at most ``receipt_window``
unacknowledged deliver_sm per session, and wait while none is bound. A receipt is
done when a deliver_sm_resp ESME_ROK comes back; an error (or a generic_nack) sends it
again ``receipt_retry`` seconds later; a connection lost with receipts in flight puts
them back at the head of the queue, to be sent again on the next bind (so an ESME may
see a receipt twice, never zero times).

Receipts wait ``delay`` seconds in a heap (the timer fires at most 5 ms late, so
that receipts falling due together go out in one batch), then in a per-system_id FIFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace

from passerelle.simulator.config import Mode, SimulatorConfig
from passerelle.simulator.outcome import DELIVRD, Outcomes
from passerelle.simulator.policy import SubmitPolicy, Verdict, garbage
from passerelle.simulator.receipt import Pending, ReceiptWriter, format_id, resp_in_hex
from passerelle.simulator.session import SmscSession
from passerelle.simulator.state import load_state, save_state
from passerelle.simulator.stats import SimulatorStats, write_json
from passerelle.smpp.pdu import Bind, BindKind, GenericNack, SubmitSm, SubmitSmResp, encode
from passerelle.smpp.status import Status

log = logging.getLogger("passerelle.simulator")
_SLACK = 0.005
_REFUSALS = {
    Verdict.QUEUE_FULL: Status.ESME_RMSGQFUL,
    Verdict.THROTTLE: Status.ESME_RTHROTTLED,
}


class Simulator:
    """A built-in SMSC; `start` it on a running loop, `stop` it before the loop ends."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config = config if config is not None else SimulatorConfig()
        self.stats = SimulatorStats(host=config.host, port=config.port)
        self._policy = SubmitPolicy(config)
        self._outcomes = Outcomes.of_config(config)
        self._writer = ReceiptWriter(config.ids, Mode.TEXT_ONLY_RECEIPTS not in config.modes)
        self._resp_hex = resp_in_hex(config.ids)
        self._before_resp = Mode.RECEIPT_BEFORE_RESP in config.modes
        self._next = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[SmscSession] = set()
        self._receivers: dict[str, list[SmscSession]] = {}
        self._ready: dict[str, deque[Pending]] = {}
        self._scheduled: list[tuple[float, int, Pending]] = []
        self._ticket = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._held: dict[int, tuple[SmscSession, bytes]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._dirty = False
        self._stopping = False

    @property
    def port(self) -> int:
        """The bound port (the configured one before `start`)."""
        return self.stats.port

    @property
    def pending_receipts(self) -> int:
        """Receipts owed: scheduled, ready, or sent and not yet acknowledged."""
        return sum(1 for _ in self._all_pending())

    async def start(self) -> int:
        """Load the state file, listen, and return the bound port."""
        config = self.config
        self._stopping = False
        base = config.id_start if config.id_start is not None else int(time.time() * 1e6)
        self._next = base
        saved = load_state(config.state_file) if config.state_file else None
        if saved is not None:
            self._next = max(base, saved.next_number)
            for pending in saved.pending:
                self._schedule(pending)
            self.stats.receipts_loaded = len(saved.pending)
        host = "127.0.0.1" if config.host == "localhost" else config.host
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SmscSession(self), host, config.port)
        self.stats.port = self._server.sockets[0].getsockname()[1]
        self._idle.set()
        if config.state_file is not None:
            self._periodic(config.state_interval, self._save_state)
        if config.stats_file is not None:
            self._periodic(config.stats_interval, self._write_stats)
        log.info("SMSC simulator listening on %s port %d", host, self.stats.port)
        return self.stats.port

    async def stop(self) -> None:
        """Stop listening, unbind every session, save the state and the stats."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._receivers.clear()
        for session in list(self._sessions):
            session.unbind()
        try:
            await asyncio.wait_for(self._idle.wait(), self.config.unbind_timeout)
        except TimeoutError:
            for session in list(self._sessions):
                session.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 1.0)
        await server.wait_closed()
        self._dirty = True
        self._save_state()
        self._write_stats()
        log.info("SMSC simulator on port %d stopped", self.stats.port)

    # -- sessions

    def opened(self, session: SmscSession) -> None:
        """A connection was accepted."""
        self._sessions.add(session)
        self._idle.clear()
        self.stats.connections += 1
        self.stats.sessions_open += 1

    def authenticate(self, bind: Bind) -> int:
        """The bind_resp status for `bind`."""
        config = self.config
        if Mode.REFUSE_BIND in config.modes:
            status: int = Status.ESME_RBINDFAIL
        elif config.system_id is not None and bind.system_id != config.system_id:
            status = Status.ESME_RBINDFAIL
        elif config.password is not None and bind.password != config.password:
            status = Status.ESME_RINVPASWD
        else:
            return 0
        self.stats.binds_refused += 1
        return status

    def bound(self, session: SmscSession) -> None:
        """`session` is bound: receipts owed to its system_id may flow to it."""
        self.stats.binds += 1
        if session.kind in (BindKind.RECEIVER, BindKind.TRANSCEIVER) and not self._stopping:
            session.receiving = True
            self._receivers.setdefault(session.system_id, []).append(session)
            self._pump(session.system_id)

    def unbound(self, session: SmscSession) -> None:
        """`session` unbinds: no more receipts for it."""
        if session.receiving:
            session.receiving = False
            receivers = self._receivers.get(session.system_id, [])
            if session in receivers:
                receivers.remove(session)

    def closed(self, session: SmscSession) -> None:
        """`session`'s connection is gone: its unacknowledged receipts go back in line."""
        self.unbound(session)
        self._sessions.discard(session)
        self.stats.sessions_open -= 1
        inflight = session.inflight
        if inflight:
            self._queue(session.system_id).extendleft(reversed(list(inflight.values())))
            self.stats.receipts_requeued += len(inflight)
            inflight.clear()
            self._pump(session.system_id)
        if self._held:
            for number in [n for n, (s, _) in self._held.items() if s is session]:
                del self._held[number]
        if not self._sessions:
            self._idle.set()

    # -- submits and receipts

    def submit(self, session: SmscSession, pdu: SubmitSm) -> None:
        """Answer a submit_sm from a bound transmitter or transceiver."""
        stats = self.stats
        count = stats.submits = stats.submits + 1
        now = time.time()
        if stats.first_submit_at is None:
            stats.first_submit_at = now
        stats.last_submit_at = now
        verdict = self._policy.verdict(count)
        if verdict is Verdict.ACCEPT:
            self._accept(session, pdu, now)
        elif verdict is Verdict.DISCONNECT:
            stats.disconnects += 1
            session.close()
            return
        elif verdict is Verdict.NO_ANSWER:
            stats.submits_unanswered += 1
        elif verdict is Verdict.NACK:
            stats.nacks_sent += 1
            session.send(encode(GenericNack(pdu.sequence, Status.ESME_RSYSERR)))
        else:
            if verdict is Verdict.REJECT:
                stats.rejected += 1
                status = self.config.reject_status
            else:
                status = _REFUSALS[verdict]
                if verdict is Verdict.THROTTLE:
                    stats.throttled += 1
                else:
                    stats.queue_full += 1
            session.send(encode(SubmitSmResp(pdu.sequence, status)))
        if self._policy.malformed_after(count):
            stats.malformed_sent += 1
            session.send(garbage(self.config.malformation, session.next_sequence()))

    def _accept(self, session: SmscSession, pdu: SubmitSm, now: float) -> None:
        stats = self.stats
        number = self._next
        self._next = number + 1
        self._dirty = True
        stats.submits_accepted += 1
        destination = pdu.destination_addr
        if self.config.track_destinations:
            seen = stats.accepted_by_destination
            times = seen.get(destination, 0)
            seen[destination] = times + 1
            if times:
                stats.duplicate_accepts += 1
        resp = encode(SubmitSmResp(pdu.sequence, 0, format_id(number, self._resp_hex)))
        wanted = pdu.registered_delivery & 0x03
        stat = self._outcomes.of(number, destination) if wanted else DELIVRD
        if not wanted or (wanted == 2 and stat == DELIVRD):  # 2: receipt on failure only
            session.send(resp)
            return
        stats.receipts_scheduled += 1
        stats.outcomes[stat] = stats.outcomes.get(stat, 0) + 1
        if self._before_resp:
            pending = Pending.of_submit(session.system_id, number, stat, now, now, pdu)
            self._held[number] = (session, resp)
            self._queue(session.system_id).append(pending)
            self._pump(session.system_id)
            return
        session.send(resp)
        delay = self.config.delay
        pending = Pending.of_submit(session.system_id, number, stat, now, now + delay, pdu)
        if delay > 0:
            self._schedule(pending)
        else:
            self._queue(session.system_id).append(pending)
            self._pump(session.system_id)

    def answered(self, session: SmscSession, sequence: int, status: int) -> None:
        """A deliver_sm_resp (or generic_nack) for one of our receipts."""
        pending = session.inflight.pop(sequence, None)
        if pending is None:
            return
        now = time.time()
        self._dirty = True
        if status == 0:
            self.stats.receipts_acked += 1
            self.stats.last_receipt_acked_at = now
        else:
            self.stats.receipts_nacked += 1
            self._schedule(replace(pending, due=now + self.config.receipt_retry))
        self._pump(session.system_id)

    def _queue(self, system_id: str) -> deque[Pending]:
        queue = self._ready.get(system_id)
        if queue is None:
            queue = self._ready[system_id] = deque()
        return queue

    def _pump(self, system_id: str) -> None:
        """Send ready receipts of `system_id` to its receivers, within their windows."""
        queue = self._ready.get(system_id)
        receivers = self._receivers.get(system_id)
        if not queue or not receivers or self._stopping:
            return
        window = self.config.receipt_window
        now = time.time()
        frame = self._writer.frame
        sent = 0
        for session in receivers:
            inflight = session.inflight
            while queue and len(inflight) < window:
                pending = queue.popleft()
                sequence = session.next_sequence()
                inflight[sequence] = pending
                session.send(frame(pending, sequence, now))
                sent += 1
                if self._held:
                    held = self._held.pop(pending.number, None)
                    if held is not None:
                        held[0].send(held[1])
            if not queue:
                break
        if sent:
            self.stats.receipts_sent += sent
            self.stats.last_receipt_sent_at = now

    def _schedule(self, pending: Pending) -> None:
        self._ticket += 1
        heapq.heappush(self._scheduled, (pending.due, self._ticket, pending))
        self._arm(pending.due)

    def _arm(self, due: float) -> None:
        if self._stopping or (self._timer is not None and self._timer_at <= due):
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

    # -- files

    def _all_pending(self) -> Iterator[Pending]:
        for item in sorted(self._scheduled):
            yield item[2]
        for queue in self._ready.values():
            yield from queue
        for session in self._sessions:
            yield from session.inflight.values()

    def _periodic(self, interval: float, action: Callable[[], None]) -> None:
        async def run() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    action()
                except OSError:
                    log.exception("simulator could not write its file")

        self._tasks.append(asyncio.get_running_loop().create_task(run()))

    def _save_state(self) -> None:
        if self.config.state_file is None or not self._dirty:
            return
        self._dirty = False
        save_state(self.config.state_file, self._next, self._all_pending())

    def _write_stats(self) -> None:
        if self.config.stats_file is not None:
            data = self.stats.as_dict(destinations=False)
            data["pending_receipts"] = self.pending_receipts
            write_json(self.config.stats_file, data)
