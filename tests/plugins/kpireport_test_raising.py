"""A plugin that raises while registering (sources, commands), and in a lifecycle hook."""

from kpireport import hookimpl


@hookimpl
def register_sources(register):
    raise RuntimeError("cannot reach my licence server")


@hookimpl
def report_started(client, period):
    raise RuntimeError("lifecycle hook exploded")


@hookimpl
def register_commands(cli):
    @cli.command("half-made")
    def half_made():
        pass

    raise RuntimeError("command hook exploded")
