"""`passerelle serve`: bind the socket, then run uvicorn (or the workers) until a signal."""

from __future__ import annotations

import contextlib
import gc
import logging
import resource
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import click

from passerelle.cli.common import _fail, _load, _prepare, _probe, _warn_unknown
from passerelle.exceptions import ConfigError, StoreError
from passerelle.logs import setup_logging
from passerelle.settings import Settings

ROLES = ("all", "api", "delivery", "callbacks", "retention")


def _roles(values: tuple[str, ...]) -> tuple[str, ...]:
    """The roles named by `--role` values, each a comma list; BadParameter for others."""
    named = tuple(r.strip() for value in values for r in value.split(",") if r.strip())
    unknown = [r for r in named if r not in ROLES]
    if unknown or (values and not named):
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing'}: choose among {', '.join(ROLES)}"
        )
    return named


@click.command()
@click.option("--host", help="Address to listen on (PASSERELLE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on, 0 for any (PASSERELLE_PORT, 8080).")
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the port actually bound to this file (useful with --port 0).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="API processes sharing the socket (PASSERELLE_WORKERS, default 1); worker 0 "
    "also runs delivery and retention, worker 1 the callback sender.",
)
@click.option(
    "--role",
    "roles",
    multiple=True,
    callback=lambda _ctx, _param, values: _roles(values),
    metavar="ROLE[,ROLE…]",
    help="What this process runs: all (the default), api (the legacy API), delivery, "
    "callbacks, retention; a comma list, or repeat the option (each as far as "
    "PASSERELLE_API, _DELIVERY, _CALLBACKS and _RETENTION allow). Every process answers "
    "/healthz, /readyz and /metrics. Every worker of --workers N then runs the same roles.",
)
def serve(
    host: str | None,
    port: int | None,
    port_file: Path | None,
    workers: int | None,
    roles: tuple[str, ...],
) -> None:
    """Run the gateway: legacy API, delivery, callbacks, health and metrics."""
    from passerelle.roles import Role, role_settings

    overrides: dict[str, object] = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    if roles and "all" not in roles:
        env = _load(**overrides)
        chosen = role_settings(frozenset(Role(r) for r in roles))
        overrides.update({name: on and bool(getattr(env, name)) for name, on in chosen.items()})
        overrides["fixed_roles"] = True
    settings = _load(**overrides)
    setup_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("passerelle")
    _warn_unknown(log.warning)
    try:
        _prepare(settings)
        _probe(settings)  # "listening" below means the store opens and takes writes
    except (ConfigError, StoreError) as error:
        _fail(error)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        _fail(ConfigError(f"cannot listen on {settings.host}:{settings.port}: {error}"))
    sock.listen(4096)
    bound = sock.getsockname()[1]
    log.info(
        "listening",
        extra={
            "url": f"http://{settings.host}:{bound}",
            "port": bound,
            "workers": settings.workers,
        },
    )
    if settings.workers > 1:
        from passerelle.workers import WorkerPool

        supervisor = WorkerPool(sock, settings.workers, {**overrides, "migrate_on_start": False})
        if port_file is not None:
            port_file.write_text(str(bound))
        sys.exit(supervisor.run(settings.shutdown_grace_s))
    sys.exit(run_roles(sock, overrides, settings, port_file))


def run_roles(
    sock: socket.socket,
    overrides: dict[str, object],
    settings: Settings,
    port_file: Path | None = None,
) -> int:
    """Serve `settings`' roles on `sock` until SIGTERM/SIGINT, the delivery in a child
    process when the API runs here too (`sidecar.py`); the exit status (0: clean stop).
    Writes the bound port into `port_file` once the application is built."""
    from passerelle import sidecar as sidecars
    from passerelle.wiring import create_app

    child = None
    status = 0
    try:
        try:
            if sidecars.wanted(settings):
                child = sidecars.Sidecar(overrides)
                settings = settings.model_copy(update=child.api_overrides())
            app = create_app(settings)
            if child is not None:
                child.start()
        except OSError as error:  # its socket (bind) or its process (spawn)
            _fail(ConfigError(f"cannot start the delivery process: {error}"))
        except (ConfigError, StoreError) as error:
            _fail(error)
        if port_file is not None:
            port_file.write_text(str(sock.getsockname()[1]))
        run_server(app, sock, settings)  # a lifespan that cannot start exits 3 (one line)
    finally:
        if child is not None:
            status = child.stop(settings.shutdown_grace_s)
    return status


def run_server(app: Any, sock: socket.socket, settings: Settings) -> None:
    """Serve `app` on the listening `sock` until SIGTERM/SIGINT (graceful, exit 0)."""
    import uvicorn

    from passerelle.api.protocol import HttpLimits, protocol_class

    GracefulServer = _graceful_server_class(getattr(app, "begin_shutdown", None))
    limits = HttpLimits(
        max_connections=connection_cap(settings.http_max_connections),
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
    )
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=protocol_class(limits),
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=settings.http_keepalive_s,  # type: ignore[arg-type]
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        backlog=4096,
    )
    # Everything imported and built so far lives as long as the process: moved out of
    # the collector's sight, it is not walked again by every full collection.
    gc.collect()
    gc.freeze()
    GracefulServer(config).run(sockets=[sock])


FD_RESERVE = 128  # descriptors kept for the database, SMPP links, callbacks and logs


def connection_cap(wanted: int) -> int:
    """Raise the soft open-files limit to the hard one; the HTTP connection cap that
    leaves `FD_RESERVE` descriptors for everything else (never below 16)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - FD_RESERVE))


def _graceful_server_class(on_exit: Callable[[], None] | None = None) -> type[Any]:
    import uvicorn

    class Graceful(uvicorn.Server):
        """uvicorn's server, but a SIGTERM/SIGINT that ended in a clean shutdown exits 0.

        uvicorn re-raises the caught signal after shutting down, so the process would
        die "of SIGTERM" even though every request finished and every write committed.
        """

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            if on_exit is not None:
                on_exit()  # a flag: safe in a signal handler

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            original = {s: signal.signal(s, self.handle_exit) for s in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Graceful


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
