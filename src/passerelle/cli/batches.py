"""`passerelle send --file`: reading a file of numbers, and sending it in batches.

The file has one number a line, or numbers in the first column of a CSV (``,``, ``;``
or tab); blank lines are skipped, and so is a first line without any digit (a header).
Numbers are normalised and checked here with the gateway's own rules
(`passerelle.core.numbers`): a bad line is reported with its number and reason and not
sent. Each batch carries an Idempotency-Key made from a digest of the file and of the
command (text, sender, batch size) and the batch's index, so running the same command
again gets the first answers back instead of sending again. A batch the API refuses
for a number (codes 05, 06, 07), for its size (15, 413) is split in two, and so on
down to the lines at fault.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from passerelle.client import Client
from passerelle.core.numbers import NumberFault, normalise_one, number_fault
from passerelle.exceptions import ApiRefused, ClientBadRequest, ClientError, ClientTooLarge

REASONS = {
    NumberFault.NOT_NUMERIC: "05: not a number",
    NumberFault.TOO_SHORT: "06: fewer than 10 or more than 15 digits",
    NumberFault.BAD_PREFIX: "07: no international calling code",
}
SPLIT_CODES = frozenset({"05", "06", "07", "15"})  # refusals that a smaller batch may avoid


@dataclass(frozen=True, slots=True)
class Line:
    """A number of the file and the line it is on (counted from 1)."""

    line: int
    number: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A line not sent, and why."""

    line: int
    number: str
    reason: str


@dataclass(slots=True)
class NumbersFile:
    """What a file holds: the numbers to send, the lines refused here, the count of
    lines whose number was already on an earlier line, and the file's SHA-256."""

    good: list[Line] = field(default_factory=list)
    bad: list[Refusal] = field(default_factory=list)
    duplicates: int = 0
    digest: str = ""


@dataclass(slots=True)
class Summary:
    """The outcome of a run: numbers accepted (and among them those answered from an
    earlier run's send), lines refused, msgids, and the error that stopped it, if any."""

    accepted: int = 0
    replayed: int = 0
    refused: list[Refusal] = field(default_factory=list)
    msgids: list[int] = field(default_factory=list)
    stopped: str | None = None
    not_sent: int = 0


def first_column(text: str) -> str:
    """The first field of a line (the line itself when it has no separator)."""
    for separator in (",", ";", "\t"):
        if separator in text:
            return next(csv.reader([text], delimiter=separator), [""])[0]
    return text


def read_numbers(path: Path) -> NumbersFile:
    """The numbers of the file at `path`, checked and without duplicates."""
    raw = path.read_bytes()
    found = NumbersFile(digest=hashlib.sha256(raw).hexdigest())
    seen: set[str] = set()
    first = True
    for index, text in enumerate(raw.decode("utf-8-sig", "replace").splitlines(), 1):
        value = first_column(text).strip()
        if not value:
            continue
        if first and not any(c.isdigit() for c in value):
            first = False
            continue  # a header
        first = False
        number = normalise_one(value)
        fault = number_fault(number)
        if fault is not None:
            found.bad.append(Refusal(index, value, REASONS[fault]))
        elif number in seen:
            found.duplicates += 1
        else:
            seen.add(number)
            found.good.append(Line(index, number))
    return found


def key_base(digest: str, text: str, sender: str, sender_type: int, batch: int) -> str:
    """The prefix of a run's Idempotency-Keys: the same file and command, the same keys."""
    command = json.dumps([digest, text, sender, sender_type, batch]).encode()
    return "passerelle-send-" + hashlib.sha256(command).hexdigest()[:40]


@dataclass
class BatchSender:
    """Sends batches of lines with one message each; `progress` is told how many lines
    each batch settled."""

    client: Client
    text: str
    sender: str
    sender_type: int
    progress: Callable[[int], None] = lambda _n: None
    summary: Summary = field(default_factory=Summary)

    def run(self, lines: Sequence[Line], batch: int, base: str) -> Summary:
        """Send `lines` in batches of `batch`, with keys `base`-<index>."""
        for index, start in enumerate(range(0, len(lines), batch)):
            chunk = lines[start : start + batch]
            if self.summary.stopped is not None:
                self.summary.not_sent += len(chunk)
                continue
            self._send(chunk, f"{base}-{index}")
        return self.summary

    def _send(self, chunk: Sequence[Line], key: str) -> None:
        try:
            sent = self.client.send(
                [line.number for line in chunk],
                self.text,
                self.sender,
                sender_type=self.sender_type,
                idempotency_key=key,
            )
        except (ClientBadRequest, ClientTooLarge) as refused:
            if not _splittable(refused):
                self._stop(refused, len(chunk))
            elif len(chunk) == 1:
                reason = f"{refused.code or refused.status}: {refused.detail}"
                self.summary.refused.append(Refusal(chunk[0].line, chunk[0].number, reason))
                self.progress(1)
            else:
                half = len(chunk) // 2
                self._send(chunk[:half], key + ".0")
                if self.summary.stopped is None:
                    self._send(chunk[half:], key + ".1")
                else:
                    self.summary.not_sent += len(chunk) - half
            return
        except ClientError as error:
            self._stop(error, len(chunk))
            return
        self.summary.accepted += len(chunk)
        self.summary.replayed += len(chunk) if sent.replayed else 0
        self.summary.msgids.append(sent.msgid)
        self.progress(len(chunk))

    def _stop(self, error: ClientError, unsent: int) -> None:
        self.summary.stopped = str(error)
        self.summary.not_sent += unsent


def _splittable(refused: ApiRefused) -> bool:
    return isinstance(refused, ClientTooLarge) or refused.code in SPLIT_CODES
