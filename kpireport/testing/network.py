"""Keeping a test off the network: any connection to another host than this machine fails.

:func:`network_guard` patches :meth:`socket.socket.connect` (and ``connect_ex``),
:func:`socket.create_connection` and :func:`socket.getaddrinfo` (for host names) for as long
as it is active, in every thread. A blocked attempt raises :class:`NetworkBlocked` where it
happens and is also recorded (``attempts``), so that a test whose code swallowed the error
still fails: the ``only_localhost`` fixture fails it at teardown.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "::ffff:127.0.0.1"})


class NetworkBlocked(AssertionError):
    """A test tried to reach another host than this machine."""


def _host_of(address: Any) -> str | None:
    """The host of a socket address; None for what is not a network address (AF_UNIX)."""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None


def _is_local(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host) in (ipaddress.ip_address("127.0.0.1"),
                                              ipaddress.ip_address("::1"))
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def message(host: str, port: Any, *, everything: bool = False) -> str:
    where = f"{host}:{port}" if port is not None else host
    if everything:
        return (f"a connection to {where} was attempted where no network call is allowed at "
                f"all: metrics(), capabilities() and check() must not call the API "
                f"(kpireport validate calls them offline); declare them from the settings")
    return (f"a connection to {where} was attempted: tests reach only 127.0.0.1; point "
            f"your source's base URL at a kpireport.testing.FakeServer (server.url) instead "
            f"of the real API")


@contextmanager
def network_guard(*, allow_localhost: bool = True) -> Iterator[list[str]]:
    """Refuse connections to any host but 127.0.0.1/::1/localhost (or to every host, without
    ``allow_localhost``). Yields the list of the attempts it refused, as messages."""
    attempts: list[str] = []
    everything = not allow_localhost

    def refuse(host: str, port: Any) -> NetworkBlocked:
        text = message(host, port, everything=everything)
        attempts.append(text)
        return NetworkBlocked(text)

    def allowed(host: str) -> bool:
        return allow_localhost and _is_local(host)

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        host = _host_of(address)
        if host is not None and not allowed(host):
            raise refuse(host, address[1] if len(address) > 1 else None)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        host = _host_of(address)
        if host is not None and not allowed(host):
            raise refuse(host, address[1] if len(address) > 1 else None)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host = _host_of(address)
        if host is not None and not allowed(host):
            raise refuse(host, address[1] if len(address) > 1 else None)
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # A name is refused before it is resolved: no DNS query leaves a test either.
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and not _is_ip(name) and not allowed(name):
            raise refuse(name, port)
        return real_getaddrinfo(host, port, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        mp.setattr(socket, "create_connection", create_connection)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts
