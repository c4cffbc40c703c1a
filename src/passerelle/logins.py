"""Failed-login limits as one process applies them (the rule is `core.ratelimit`).

The counters live in the store, shared by every process of an installation. Each
argon2 verification is counted there *before* it runs, atomically with the check of
the limits (`begin`), so concurrent guesses and several processes cannot pass them.

Requests that need no verification (a pair this process verified lately) must still
respect the limits, or a locked-out guesser would learn the right password the day
it guesses it. So each process keeps a view of who is refused: the logins and
addresses at their limit, read from the store at most every `REFRESH_S` seconds and
updated at once by its own decisions. A refused address is refused for every login.
A refused login is refused except from an address it succeeded from within
`LoginPolicy.known_s`: the customer's own scripts are not locked out by someone else's
failures.
"""

from __future__ import annotations

from collections.abc import Callable

from passerelle import exceptions as exc
from passerelle.core.ratelimit import AttemptDecision, LoginPolicy
from passerelle.store.base import LoginStore

REFRESH_S = 1.0
KNOWN_CACHE_S = 60.0
MAX_ENTRIES = 100_000


class LoginLimits:
    """This process's view of the shared failed-login limits."""

    def __init__(self, store: LoginStore, policy: LoginPolicy, clock: Callable[[], float]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._logins: dict[str, float] = {}  # login -> refused until (wall clock)
        self._addresses: dict[str, float] = {}  # address -> refused until
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}  # -> (known, until)
        self._refreshed_at = float("-inf")

    def refused_now(self, login: str, address: str) -> bool | None:
        """`refused` from what this process already knows, without awaiting; None when
        the store must be asked (a refresh is due, or whether the address is known)."""
        now = self._clock()
        if now - self._refreshed_at >= REFRESH_S:
            return None
        if self._addresses and self._addresses.get(address, 0.0) > now:
            return True
        if login and self._logins and self._logins.get(login, 0.0) > now:
            cached = self._known.get((login, address))
            return None if cached is None or cached[1] <= now else not cached[0]
        return False

    async def refused(self, login: str, address: str) -> bool:
        """True when the address, or the login from this address, is at its limit."""
        now = self._clock()
        if now - self._refreshed_at >= REFRESH_S:
            self._refreshed_at = now
            self._logins, self._addresses = await self._store.login_blocks(now, self._policy)
        if self._addresses.get(address, 0.0) > now:
            return True
        if login and self._logins.get(login, 0.0) > now:
            return not await self._known_address(login, address, now)
        return False

    async def begin(self, login: str, address: str) -> AttemptDecision:
        """Count a verification about to start; RateLimited when a limit refuses it."""
        decision = await self._store.begin_login_attempt(
            login, address, self._clock(), self._policy
        )
        if not decision.allowed:
            self._remember(login, address, decision.blocked_until, decision.by_address)
            raise exc.RateLimited()
        return decision

    def failed(self, login: str, address: str, decision: AttemptDecision) -> None:
        """The verification `decision` allowed failed: if that used up a limit, the
        next request is refused here without asking the store."""
        refusal = decision.refusal_after_failure(self._policy)
        if refusal is not None:
            self._remember(login, address, *refusal)

    async def succeeded(self, login: str, address: str) -> None:
        """A counted verification succeeded: give its count back, remember the address."""
        await self._store.login_succeeded(login, address, self._clock())
        self._known[(login, address)] = (True, self._clock() + KNOWN_CACHE_S)

    async def _known_address(self, login: str, address: str, now: float) -> bool:
        cached = self._known.get((login, address))
        if cached is not None and cached[1] > now:
            return cached[0]
        known = await self._store.known_address(login, address, now - self._policy.known_s)
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        self._known[(login, address)] = (known, now + KNOWN_CACHE_S)
        return known

    def _remember(self, login: str, address: str, until: float, by_address: bool) -> None:
        if by_address:
            self._addresses[address] = until
        else:
            self._logins[login] = until
