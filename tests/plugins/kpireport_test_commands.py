"""A plugin adding its own subcommands: ``hello`` and a ``connect`` group (as a plugin for an
API would offer ``kpireport connect google``)."""

from __future__ import annotations

import click

from kpireport import hookimpl
from kpireport.errors import KpiReportError


@hookimpl
def register_commands(cli):
    @cli.command(help="say hello")
    @click.option("--name", default="world", help="who to greet")
    @click.option("--shout", is_flag=True)
    def hello(name, shout):
        greeting = f"hello, {name}!"
        click.echo(greeting.upper() if shout else greeting)

    @cli.group(help="authorise kpireport to read an account")
    def connect():
        pass

    @connect.command()
    @click.argument("account")
    def google(account):
        if account == "refused":
            raise KpiReportError(f"google refused access to {account!r}")
        click.echo(f"connected google account {account}")
        return 3 if account == "partial" else None
