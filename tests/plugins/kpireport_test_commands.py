"""A plugin adding its own subcommands: ``hello`` and a ``link`` group (as kpireport_google
offers ``kpireport connect google``)."""

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
    def link():
        pass

    @link.command()
    @click.argument("account")
    def acme(account):
        if account == "refused":
            raise KpiReportError(f"acme refused access to {account!r}")
        click.echo(f"linked acme account {account}")
        return 3 if account == "partial" else None
