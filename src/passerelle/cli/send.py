"""`passerelle send` and `passerelle status`: the JSON API through `passerelle.client`,
from any machine that reaches the server (`--url`, `--key`, or PASSERELLE_API_URL and
PASSERELLE_API_KEY). They never open the database.

Exit codes: 0 done; 1 the API refused (or some lines of a file were refused, or the
message was not final within `--timeout`); 3 the server could not be reached.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from passerelle.cli import output
from passerelle.cli.batches import BatchSender, NumbersFile, Summary, key_base, read_numbers
from passerelle.cli.common import err, out
from passerelle.client import Client, Message
from passerelle.client.retry import KEY_ENV, URL_ENV
from passerelle.core.numbers import split_dest
from passerelle.exceptions import ClientError, ClientUnavailable

F = TypeVar("F", bound=Callable[..., Any])
MAX_BATCH = 50_000


def api_options(command: F) -> F:
    """The --url and --key options of the commands that call the API."""
    command = click.option(
        "--key",
        envvar=KEY_ENV,
        required=True,
        help=f"An API key; prefer {KEY_ENV} (a command line is seen in every process list).",
    )(command)
    return click.option(
        "--url",
        envvar=URL_ENV,
        required=True,
        help=f"The server's address, e.g. http://localhost:8000 (or {URL_ENV}).",
    )(command)


def _client(url: str, key: str) -> Client:
    try:
        return Client(url, key)
    except ClientError as error:
        _fail(error)


def _fail(error: ClientError) -> NoReturn:
    err.print(Text.assemble(("error:", "red"), " ", str(error)), soft_wrap=True)
    sys.exit(3 if isinstance(error, ClientUnavailable) else 1)


def recipients_table(message: Message) -> Table:
    """The recipients of `message`, one row each."""
    table = output.table("dest", "state", "statut", "stat", "updated")
    for r in message.recipients:
        when = r.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC") if r.updated_at else "-"
        table.add_row(r.dest, r.state, str(r.statut), Text(r.stat or "-"), when)
    return table


@click.command("send")
@api_options
@click.option("--to", "to", help="Numbers, separated by commas.")
@click.option(
    "--file",
    "numbers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of numbers: one a line, or the first column of a CSV.",
)
@click.option("--text", required=True, help="The message.")
@click.option("--from", "sender", envvar="PASSERELLE_SENDER", required=True, help="The sender.")
@click.option("--sender-type", type=click.Choice(["0", "1", "5"]), default="5", show_default=True)
@click.option(
    "--batch",
    type=click.IntRange(1, MAX_BATCH),
    default=1000,
    show_default=True,
    help="Numbers per message with --file.",
)
def send(
    url: str,
    key: str,
    to: str | None,
    numbers_file: Path | None,
    text: str,
    sender: str,
    sender_type: str,
    batch: int,
) -> None:
    """Send a message to --to numbers, or to every number of --file in batches."""
    if (to is None) == (numbers_file is None):
        raise click.UsageError("give either --to or --file")
    with _client(url, key) as client:
        if numbers_file is not None:
            _send_file(client, numbers_file, text, sender, int(sender_type), batch)
            return
        try:
            sent = client.send(split_dest(to or ""), text, sender, sender_type=int(sender_type))
        except ClientError as error:
            _fail(error)
    again = " (already sent: the first answer)" if sent.replayed else ""
    out.print(Text(f"msgid {sent.msgid}{again}"))
    out.print(recipients_table(sent))


def _send_file(
    client: Client, path: Path, text: str, sender: str, sender_type: int, batch: int
) -> None:
    found = read_numbers(path)
    base = key_base(found.digest, text, sender, sender_type, batch)
    progress = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task("send", total=len(found.good))
        sender_of = BatchSender(
            client, text, sender, sender_type, lambda n: progress.advance(task, n)
        )
        summary = sender_of.run(found.good, batch, base)
    _print_summary(found, summary)
    if summary.stopped is not None or summary.refused or found.bad:
        sys.exit(1)


def _print_summary(found: NumbersFile, summary: Summary) -> None:
    replayed = f" ({summary.replayed} already sent by an earlier run)" if summary.replayed else ""
    out.print(Text(f"{summary.accepted} numbers accepted{replayed}"))
    if found.duplicates:
        out.print(Text(f"{found.duplicates} duplicate lines skipped"))
    refused = sorted([*found.bad, *summary.refused], key=lambda r: r.line)
    out.print(Text(f"{len(refused)} lines refused"))
    if refused:
        table = output.table("line", "number", "reason")
        for r in refused:
            table.add_row(str(r.line), Text(r.number), Text(r.reason))
        out.print(table)
    if summary.stopped is not None:
        out.print(Text(f"stopped: {summary.stopped}; {summary.not_sent} numbers not sent"))
    out.print(Text("msgids: " + (" ".join(str(m) for m in summary.msgids) or "-")))


@click.command("status")
@api_options
@click.argument("msgid", type=click.IntRange(min=0))
@click.option("--watch", is_flag=True, help="Refresh until every recipient is final.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="With --watch: give up after this many seconds (exit 1).",
)
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True)
def status(url: str, key: str, msgid: int, watch: bool, timeout: float, interval: float) -> None:
    """The recipients of message MSGID and their states."""
    with _client(url, key) as client:
        try:
            message = client.message(msgid)
            if watch:
                message = _watch(client, message, timeout, interval)
        except ClientError as error:
            _fail(error)
    out.print(Text(f"msgid {message.msgid}, from {message.sender}, statut {message.statut}"))
    out.print(recipients_table(message))
    if watch and not message.final:
        err.print(Text(f"not final after {timeout:g} s"))
        sys.exit(1)


def _watch(client: Client, message: Message, timeout: float, interval: float) -> Message:
    """Read `message` again every `interval` until it is final or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    live = Live(recipients_table(message), console=out, transient=True) if out.is_terminal else None
    try:
        if live is not None:
            live.start()
        while not message.final and time.monotonic() < deadline:
            time.sleep(min(interval, max(deadline - time.monotonic(), 0.0)))
            message = client.message(message.msgid)
            if live is not None:
                live.update(recipients_table(message))
    finally:
        if live is not None:
            live.stop()
    return message
