"""The per-account request limit, shared by every front door (the legacy API and the
JSON API): `settings.account_rate_limit` requests per second, or the account's own
`rate_limit` when it has one; 0 is unlimited.

Two gates: this process's token bucket first (a flood is refused without a database
write), then, for an existing account only (a row per login: unknown logins would grow
the table), the fixed window every process counts in through the store (N processes do
not allow N x rate). A refusal is `exceptions.RateLimited` (16).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from passerelle import exceptions as exc
from passerelle.core.ratelimit import RequestLimiter, request_window
from passerelle.core.values import Account
from passerelle.settings import Settings
from passerelle.store.base import Store


class RequestLimits:
    """The request limit of each login, over `store` (its shared windows)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock  # the database's clock (the shared windows)
        self._monotonic = monotonic  # this process's buckets
        self._buckets = RequestLimiter()

    def rate_of(self, account: Account | None) -> float:
        """The requests per second allowed to `account` (0: unlimited)."""
        if account is not None and account.rate_limit is not None:
            return account.rate_limit
        return self.settings.account_rate_limit

    async def check(self, login: str, account: Account | None, now: float | None = None) -> None:
        """Count a request of `login` (`account`: its account, None when there is none);
        RateLimited when it is over the limit. `now`: the monotonic time, if read already."""
        rate = self.rate_of(account)
        if not login or rate <= 0:
            return
        if not self._buckets.allow(login, rate, self._monotonic() if now is None else now):
            raise exc.RateLimited()
        if account is not None:
            window = request_window(login, rate, self._clock())
            if not await self.store.count_request(window):
                raise exc.RateLimited()
