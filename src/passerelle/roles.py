"""The named roles of a process (`serve --role`, `--workers`): what it runs besides
answering health and metrics. Kept apart from `wiring` so that the workers' parent process can name
roles without importing the gateway."""

from __future__ import annotations

import enum

from passerelle.settings import Settings


class Role(enum.StrEnum):
    """What a process runs: `api` answers the legacy API (every process answers
    /healthz, /readyz and /metrics)."""

    API = "api"
    DELIVERY = "delivery"
    CALLBACKS = "callbacks"
    RETENTION = "retention"


def roles_of(settings: Settings) -> frozenset[Role]:
    """The roles `settings` turn on."""
    on = {Role.API} if settings.api else set()
    if settings.delivery:
        on.add(Role.DELIVERY)
    if settings.callbacks:
        on.add(Role.CALLBACKS)
    if settings.retention:
        on.add(Role.RETENTION)
    return frozenset(on)


def role_settings(roles: frozenset[Role]) -> dict[str, bool]:
    """The setting switches that run exactly `roles` (each still needs its own setting
    on: a role is never turned on against `PASSERELLE_DELIVERY=false` and the like)."""
    return {
        "api": Role.API in roles,
        "delivery": Role.DELIVERY in roles,
        "callbacks": Role.CALLBACKS in roles,
        "retention": Role.RETENTION in roles,
    }
