"""Typed settings from ``PASSERELLE_*`` environment variables (and an optional .env).

Read once at start (`Settings.load()`), validated with a clear message, and passed
down; no module reads the environment on its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.core.deadline import DEFAULT_DEADLINE_S
from passerelle.exceptions import ConfigError


class Settings(BaseSettings):
    """Every setting, its default serving a laptop. See README "Configuration"."""

    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///./passerelle.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = True
    legacy_charset: Literal["utf-8", "iso-8859-1"] = "utf-8"

    max_recipients_get: int = Field(default=500, ge=1)
    max_recipients_post: int = Field(default=50_000, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    http_max_connections: int = Field(default=1000, ge=1)  # per process, then 503
    http_header_timeout_s: float = Field(default=10.0, gt=0)  # the whole head, from 1st byte
    http_body_timeout_s: float = Field(default=60.0, gt=0)  # the whole body, from its head
    http_keepalive_s: float = Field(default=5.0, gt=0)  # idle kept-alive connection

    account_rate_limit: float = Field(default=0.0, ge=0)  # requests/s; 0 = unlimited
    login_failures_per_login: int = Field(default=10, ge=0)
    login_failures_per_address: int = Field(default=30, ge=0)
    login_failure_window_s: float = Field(default=300.0, gt=0)

    min_api_password_length: int = Field(default=8, ge=1)
    auth_cache_ttl_s: float = Field(default=60.0, ge=0)
    account_cache_ttl_s: float = Field(default=1.0, ge=0)

    group_commit_max_batch: int = Field(default=512, ge=1)
    database_pool_size: int = Field(default=10, ge=2, le=500)  # PostgreSQL, per process
    sqlite_synchronous: Literal["FULL", "EXTRA"] = "FULL"
    migrate_on_start: bool = True
    retention: bool = True  # run the retention purge in `serve` (worker 0)
    retention_days: int = Field(default=180, ge=0)  # 0 = keep everything
    shutdown_grace_s: float = Field(default=15.0, ge=0)

    api: bool = True  # answer the legacy API in `serve` (health and metrics always)
    delivery: bool = True  # run the dispatcher and SMPP links in `serve`
    delivery_process: bool = True  # beside the API: delivery in a child process (sidecar.py)
    delivery_peer: str = ""  # set by `serve`: the socket of that child (not for users)
    builtin_simulator: bool = True  # with no connector configured, deliver to it
    simulator_delay_s: float = Field(default=0.2, ge=0)
    simulator_deliver_ratio: float = Field(default=1.0, ge=0, le=1)
    simulator_window: int = Field(default=100, ge=1)
    connector_refresh_s: float = Field(default=1.0, gt=0)
    connector_lease_s: float = Field(default=3.0, gt=0)  # one process binds a connector
    smpp_response_timeout_s: float = Field(default=10.0, gt=0)
    dispatch_batch: int = Field(default=500, ge=1)
    dispatch_lease_s: float = Field(default=60.0, gt=0)
    receipt_deadline_s: float = Field(default=DEFAULT_DEADLINE_S, gt=0)  # then EXPIRED

    callbacks: bool = True  # run the callback sender in `serve`
    fixed_roles: bool = False  # `serve --role` chose the roles: every worker runs them
    callback_allow_private: bool = False  # SSRF guard off (tests, private networks)
    callback_timeout_s: float = Field(default=10.0, gt=0)
    callback_horizon_s: float = Field(default=72 * 3600.0, gt=0)
    callback_concurrency: int = Field(default=100, ge=1)
    callback_per_host: int = Field(default=8, ge=1)
    callback_lease_s: float = Field(default=30.0, gt=0)
    callback_batch: int = Field(default=500, ge=1)

    # e-mail (sent by the `callbacks` role's mail sender); no SMTP host: .eml files
    smtp_host: str = ""  # empty: write each e-mail into `mail_dir` instead
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""  # empty: no AUTH
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True  # require STARTTLS (false: plain, e.g. a local relay)
    smtp_timeout_s: float = Field(default=30.0, gt=0)  # one attempt's limit
    mail_from: str = "passerelle@localhost"
    mail_dir: str = "./mail"  # created 0700; one .eml file (0600) per e-mail
    mail_horizon_s: float = Field(default=72 * 3600.0, gt=0)  # then failed
    mail_lease_s: float = Field(default=60.0, gt=0)

    # the web console (docs/console.md), served with the `api` role
    console: bool = True
    public_url: str = ""  # base of the links in e-mails and examples; empty: the request's
    free_credits: int = Field(default=10, ge=0)  # granted on activation ("COMPTE TEST")
    session_ttl_s: float = Field(default=12 * 3600.0, gt=0)  # then log in again
    link_ttl_s: float = Field(default=48 * 3600.0, gt=0)  # activation and reset links
    min_console_password_length: int = Field(default=10, ge=1)
    signups_per_hour: int = Field(default=5, ge=0)  # per client address; 0 = unlimited
    cookie_secure: bool = False  # always mark cookies Secure (else: when served over https)

    @field_validator("mail_from")
    @classmethod
    def _one_sender(cls, value: str) -> str:
        """`mail_from` is one address, optionally with a display name, on one line."""
        address = parseaddr(value)[1]
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError("must be an e-mail address, e.g. Passerelle <no-reply@example.com>")
        return value

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Read the environment once; raise ConfigError naming each bad setting."""
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as error:
            lines = [
                f"PASSERELLE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in error.errors()
            ]
            raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One sentence per ``PASSERELLE_*`` variable that names no setting (it is ignored),
    with the setting it probably meant when one is close."""
    names = [name.upper() for name in Settings.model_fields]
    lines = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith("PASSERELLE_") or upper.removeprefix("PASSERELLE_") in names:
            continue
        close = difflib.get_close_matches(upper.removeprefix("PASSERELLE_"), names, n=1)
        hint = f"; did you mean PASSERELLE_{close[0]}?" if close else ""
        lines.append(f"{variable} is not a Passerelle setting and is ignored{hint}")
    return lines
