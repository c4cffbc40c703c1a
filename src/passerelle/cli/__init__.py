"""The `passerelle` command: serve, db, account, connector, route, simulator, callbacks,
operator, key, and send and status (clients of the JSON API) (README, "Command line").
Each area's commands live in a module of this package; here they are attached to `main`,
the console-script entry point (`passerelle.cli:main`)."""

from __future__ import annotations

import click

from passerelle import __version__
from passerelle.cli import (
    accounts,
    delivery,
    keys,
    maintenance,
    operators,
    send,
    server,
    simulation,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="passerelle")
def main() -> None:
    """Passerelle: the Connect-Mobile HTTP SMS API, delivered over SMPP.

    Settings come from PASSERELLE_* environment variables (see the README).
    """


main.add_command(server.serve)
main.add_command(maintenance.db)
main.add_command(accounts.account)
main.add_command(delivery.connector)
main.add_command(delivery.route)
main.add_command(simulation.simulator)
main.add_command(maintenance.callbacks)
main.add_command(operators.operator)
main.add_command(keys.key)
main.add_command(send.send)
main.add_command(send.status)
