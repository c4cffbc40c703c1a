"""`passerelle simulator`: the built-in SMSC simulator, with its failure modes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from passerelle.cli.common import _settings, err
from passerelle.cli.output import plain
from passerelle.exceptions import ConfigError
from passerelle.logs import setup_logging


def _sim_modes() -> list[Any]:
    from passerelle.simulator import Mode

    return list(Mode)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=2775,
    show_default=True,
    help="Port; 0 picks a free one (logged, and written to the stats file).",
)
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host.")
@click.option("--system-id", help="Required bind system_id (default: accept any).")
@click.option("--password", help="Required bind password (default: accept any).")
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between submit_sm and its receipt.",
)
@click.option("--deliver-ratio", type=click.FloatRange(0, 1), default=1.0, show_default=True)
@click.option("--expire-ratio", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--reject-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="The rest after delivered, expired and rejected ends UNDELIV.",
)
@click.option(
    "--outcome-by",
    type=click.Choice(["sequence", "destination"]),
    default="sequence",
    show_default=True,
    help="Outcome from the message number (exact ratios) or the destination.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--id-format",
    type=click.Choice(["decimal", "hex", "hex-resp", "hex-receipt"]),
    default="decimal",
    show_default=True,
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice([m.value for m in _sim_modes()]),
    help="Failure mode (repeatable).",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="N of the every-Nth-submit modes.",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="throttle/queue-full: answer above this submits/s (0: every Nth).",
)
@click.option(
    "--receipt-window",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Outstanding receipts per session.",
)
@click.option(
    "--receipt-retry",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds before re-sending a receipt answered with an error.",
)
@click.option(
    "--id-start",
    type=click.IntRange(min=0),
    help="First message number (default: the clock in µs).",
)
@click.option(
    "--reject-status",
    type=click.IntRange(0, 0xFFFFFFFF),
    default=0x0B,
    show_default=True,
    help="command_status answered by --mode reject.",
)
@click.option(
    "--malformation",
    type=click.Choice(["unknown-command", "truncated-body", "bad-length"]),
    default="unknown-command",
    show_default=True,
    help="What --mode malformed-pdu sends.",
)
@click.option(
    "--smsc-system-id",
    default="passerelle-sim",
    show_default=True,
    help="system_id sent in bind_resp.",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the id counter and unacknowledged receipts across restarts.",
)
@click.option(
    "--stats-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write counters as JSON every 0.5 s.",
)
def simulator(
    modes: tuple[str, ...], outcome_by: str, id_format: str, malformation: str, **options: Any
) -> None:
    """Run the SMSC simulator: a real SMPP 3.4 server with receipts and failure modes."""
    from passerelle.simulator import (
        IdFormat,
        Malformation,
        Mode,
        OutcomeKey,
        SimulatorConfig,
        run_standalone,
    )
    from passerelle.simulator.config import is_loopback

    if not options["allow_remote"] and not is_loopback(options["host"]):
        err.print(
            f"[red]error:[/red] --host {plain(options['host'])} is not a loopback address: "
            "add --allow-remote to listen there (anyone who can reach it can bind)"
        )
        sys.exit(2)
    settings = _settings()
    setup_logging(settings.log_level, settings.log_format)
    try:
        config = SimulatorConfig(
            modes=frozenset(Mode(m) for m in modes),
            outcome_by=OutcomeKey(outcome_by),
            id_format=IdFormat(id_format),
            malformation=Malformation(malformation),
            **options,
        )
    except ConfigError as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(2)
    try:
        import uvloop

        uvloop.run(run_standalone(config))
    except OSError as error:
        err.print(f"[red]error:[/red] cannot listen: {error}")
        sys.exit(3)
