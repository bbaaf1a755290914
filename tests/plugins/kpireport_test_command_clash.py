"""A plugin whose ``run`` command clashes with the core one; its other command is fine."""

from __future__ import annotations

import click

from kpireport import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("run")
    def run():
        click.echo("the plugin's run")

    @cli.command("hello")
    def hello():
        click.echo("the clashing plugin's hello")

    @cli.command("tidy")
    def tidy():
        click.echo("tidied")
