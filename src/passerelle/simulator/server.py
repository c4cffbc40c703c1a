"""The simulator: an SMPP 3.4 server that accepts messages and delivers receipts.

`Simulator` listens, authenticates binds, answers submits as its failure modes say
(`policy`), numbers accepted messages, decides their outcome (`outcome`) and hands
their receipts to the `Outbox`. It saves its state and stats files periodically
when they are configured, and once more on `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from passerelle.simulator.config import Mode, SimulatorConfig
from passerelle.simulator.outbox import Outbox
from passerelle.simulator.outcome import DELIVRD, Outcomes
from passerelle.simulator.policy import SubmitPolicy, Verdict, garbage
from passerelle.simulator.receipt import Pending, ReceiptWriter, format_id, resp_in_hex
from passerelle.simulator.session import SmscSession
from passerelle.simulator.state import load_state, save_state
from passerelle.simulator.stats import SimulatorStats, write_json
from passerelle.smpp.frame import HEADER, encode
from passerelle.smpp.pdu import Bind, BindKind, CommandId, GenericNack, SubmitSm, SubmitSmResp
from passerelle.smpp.status import Status

log = logging.getLogger("passerelle.simulator")
WRITE_SHARE_FACTOR = 9.0  # wait 9 times what a write took: writes get at most 10 %
_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
_REFUSALS = {
    Verdict.QUEUE_FULL: Status.ESME_RMSGQFUL,
    Verdict.THROTTLE: Status.ESME_RTHROTTLED,
}


def pause_after(interval: float, spent: float) -> float:
    """Seconds before the next periodic write, one having taken `spent`: `interval`, or
    more when writing is slow (a large state file), so that writing never takes more
    than a tenth of the event loop that also answers submits and sends receipts."""
    return max(interval, WRITE_SHARE_FACTOR * spent)


class Simulator:
    """A built-in SMSC; `start` it on a running loop, `stop` it before the loop ends."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config = config if config is not None else SimulatorConfig()
        self.stats = SimulatorStats(host=config.host, port=config.port)
        self._policy = SubmitPolicy(config)
        self._outcomes = Outcomes.of_config(config)
        writer = ReceiptWriter(config.ids, Mode.TEXT_ONLY_RECEIPTS not in config.modes)
        self._outbox = Outbox(self.stats, writer, config.receipt_window, config.receipt_retry)
        self._resp_hex = resp_in_hex(config.ids)
        self._before_resp = Mode.RECEIPT_BEFORE_RESP in config.modes
        self._next = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[SmscSession] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._dirty = False

    @property
    def port(self) -> int:
        """The bound port (the configured one before `start`)."""
        return self.stats.port

    @property
    def pending_receipts(self) -> int:
        """Receipts owed: scheduled, ready, or sent and not yet acknowledged."""
        return sum(1 for _ in self._outbox.pending())

    async def start(self) -> int:
        """Load the state file, listen, and return the bound port."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        config = self.config
        base = config.id_start if config.id_start is not None else int(time.time() * 1e6)
        self._next = max(base, self._next)
        self._outbox.resume()
        saved = load_state(config.state_file) if config.state_file else None
        if saved is not None:
            self._next = max(self._next, saved.next_number)
            for pending in saved.pending:
                self._outbox.push(pending, time.time())
            self.stats.receipts_loaded = len(saved.pending)
        host = "127.0.0.1" if config.host == "localhost" else config.host
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SmscSession(self), host, config.port)
        self.stats.port = self._server.sockets[0].getsockname()[1]
        self._idle.set()
        if config.state_file is not None:
            self._periodic(config.state_interval, self._save_state)
        if config.stats_file is not None:
            self._write_stats()
            self._periodic(config.stats_interval, self._write_stats)
        log.info("SMSC simulator listening on %s port %d", host, self.stats.port)
        return self.stats.port

    async def stop(self) -> None:
        """Stop listening, unbind every session, save the state and the stats."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self._outbox.pause()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
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
        if session.kind in (BindKind.RECEIVER, BindKind.TRANSCEIVER):
            self._outbox.add_receiver(session)

    def unbound(self, session: SmscSession) -> None:
        """`session` unbinds: no more receipts for it."""
        self._outbox.remove_receiver(session)

    def closed(self, session: SmscSession) -> None:
        """`session`'s connection is gone."""
        self._outbox.remove_receiver(session)
        self._sessions.discard(session)
        self.stats.sessions_open -= 1
        if not self._sessions:
            self._idle.set()

    def answered(self, session: SmscSession, sequence: int, status: int) -> None:
        """A deliver_sm_resp (or generic_nack) from `session`."""
        if self._outbox.answered(session, sequence, status):
            self._dirty = True

    # -- submits

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
        # encode(SubmitSmResp(...)), without building the dataclass
        message_id = format_id(number, self._resp_hex).encode()
        resp = HEADER.pack(17 + len(message_id), _SUBMIT_SM_RESP, 0, pdu.sequence)
        resp += message_id + b"\x00"
        wanted = pdu.registered_delivery & 0x03
        stat = self._outcomes.of(number, destination) if wanted else DELIVRD
        if not wanted or (wanted == 2 and stat == DELIVRD):  # 2: receipt on failure only
            session.send(resp)
            return
        stats.receipts_scheduled += 1
        stats.outcomes[stat] = stats.outcomes.get(stat, 0) + 1
        if self._before_resp:
            pending = Pending.of_submit(session.system_id, number, stat, now, now, pdu)
            self._outbox.push_before(pending, session, resp)
            return
        session.send(resp)
        due = now + self.config.delay
        self._outbox.push(Pending.of_submit(session.system_id, number, stat, now, due, pdu), now)

    # -- files

    def _periodic(self, interval: float, action: Callable[[], None]) -> None:
        async def run() -> None:
            wait = interval
            while True:
                await asyncio.sleep(wait)
                started = time.perf_counter()
                try:
                    action()
                except OSError:
                    log.exception("simulator could not write its file")
                wait = pause_after(interval, time.perf_counter() - started)

        self._tasks.append(asyncio.get_running_loop().create_task(run()))

    def _save_state(self) -> None:
        if self.config.state_file is None or not self._dirty:
            return
        self._dirty = False
        save_state(self.config.state_file, self._next, self._outbox.pending())

    def _write_stats(self) -> None:
        if self.config.stats_file is not None:
            data = self.stats.as_dict(destinations=False)
            data["pending_receipts"] = self.pending_receipts
            write_json(self.config.stats_file, data)
