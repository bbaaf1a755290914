"""A plugin written for a contract kpireport does not have yet."""

from kpireport import hookimpl

KPIREPORT_CONTRACT = "2"


@hookimpl
def register_kpis(register):
    raise AssertionError("a plugin of another contract must not be called")
