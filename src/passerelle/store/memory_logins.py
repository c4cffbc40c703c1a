"""In-memory twin of the failed-login counters (`sqlite_logins.py`) and request-rate
windows (`sqlite_requests.py`): data, no rules
(the rule is `core.ratelimit.decide_attempt`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from passerelle.core.ratelimit import (
    AttemptDecision,
    Counter,
    LoginPolicy,
    RequestWindow,
    address_key,
    decide_attempt,
    login_key,
    uncount,
)


@dataclass
class MemoryLogins:
    """Counters by key, the (login, address) pairs that succeeded, with their time, and
    the request-rate windows by key."""

    login_counters: dict[str, Counter] = field(default_factory=dict)
    login_known: dict[tuple[str, str], float] = field(default_factory=dict)
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    async def count_request(self, window: RequestWindow) -> bool:
        start, count = self.windows.get(window.key, (window.start, 0))
        count = count + 1 if start == window.start else 1
        self.windows[window.key] = (window.start, count)
        return count <= window.limit

    async def begin_login_attempt(
        self, login: str, address: str, now: float, policy: LoginPolicy
    ) -> AttemptDecision:
        known_at = self.login_known.get((login, address))
        decision = decide_attempt(
            self.login_counters.get(login_key(login)),
            self.login_counters.get(address_key(address)),
            known_at is not None and known_at > now - policy.known_s,
            now,
            policy,
        )
        if decision.allowed:
            self.login_counters[login_key(login)] = decision.login
            self.login_counters[address_key(address)] = decision.address
        return decision

    async def login_succeeded(self, login: str, address: str, now: float) -> None:
        for key in (login_key(login), address_key(address)):
            counter = uncount(self.login_counters.get(key))
            if counter is not None:
                self.login_counters[key] = counter
        self.login_known[(login, address)] = now

    async def login_blocks(
        self, now: float, policy: LoginPolicy
    ) -> tuple[dict[str, float], dict[str, float]]:
        logins: dict[str, float] = {}
        addresses: dict[str, float] = {}
        for key, counter in self.login_counters.items():
            if counter.start <= now - policy.window:
                continue
            kind, name = key[:2], key[2:]
            if kind == "l:" and 0 < policy.per_login <= counter.count:
                logins[name] = counter.start + policy.window
            elif kind == "a:" and 0 < policy.per_address <= counter.count:
                addresses[name] = counter.start + policy.window
        return logins, addresses

    async def known_address(self, login: str, address: str, since: float) -> bool:
        at = self.login_known.get((login, address))
        return at is not None and at > since
