"""kpireport's connection to Google, shared by the GA4 and Search Console sources.

``auth:`` in a Google source's settings (:class:`GoogleAuth`), the client that calls Google's
APIs with it (:class:`GoogleClient`), and the ``kpireport connect google`` command that
connects an agency's own Google account once. google-auth is imported only when a source
calls Google or the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kpireport import hookimpl
from kpireport_google.settings import ANALYTICS_SCOPE, WEBMASTERS_SCOPE, GoogleAuth

if TYPE_CHECKING:
    from kpireport_google.client import GoogleClient

KPIREPORT_CONTRACT = "1"

__all__ = ["ANALYTICS_SCOPE", "WEBMASTERS_SCOPE", "GoogleAuth", "GoogleClient"]


def __getattr__(name: str) -> Any:
    if name == "GoogleClient":  # imported when a source needs it, not when plugins load
        from kpireport_google.client import GoogleClient

        return GoogleClient
    raise AttributeError(name)


@hookimpl
def register_commands(cli: click.Group) -> None:
    group = cli.commands.get("connect")
    if not isinstance(group, click.Group):
        @cli.group()
        def connect() -> None:
            """Connect kpireport to an account of a service, once for every client."""

        group = connect

    @group.command("google")
    @click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=str))
    @click.option("--name", required=True,
                  help="The name the sources use: auth: {account: NAME}.")
    @click.option("--client-secrets", required=True,
                  type=click.Path(exists=True, dir_okay=False, path_type=str),
                  help="The OAuth client JSON (type 'Desktop app') from the Google Cloud "
                       "console.")
    @click.option("--output", type=click.Path(file_okay=False, path_type=str), default=None,
                  help="As given to `kpireport run --output` (where the state folder is).")
    @click.option("--no-browser", is_flag=True,
                  help="Print the address instead of opening a browser (on a server: open it "
                       "on your machine with an SSH tunnel to the port shown).")
    @click.option("--port", type=int, default=0, show_default=True,
                  help="The local port Google redirects to (0: any free port).")
    def google(config: str, name: str, client_secrets: str, output: str | None,
               no_browser: bool, port: int) -> None:
        """Connect the agency's Google account (GA4 and Search Console, read-only).

        Runs Google's consent flow once and keeps the refresh token in the state folder
        (never in the config); every client's Google source can then use it with
        ``auth: {account: NAME}``. Run it again to renew a revoked or expired authorisation.
        """
        from pathlib import Path

        from kpireport import state_folder
        from kpireport_google.connect import connect_google

        connect_google(state_folder(config, output=output), name=name,
                       client_secrets=Path(client_secrets), open_browser=not no_browser,
                       port=port, echo=click.echo)
