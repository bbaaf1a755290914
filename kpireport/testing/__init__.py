"""The plugin author's kit: what kpireport's own tests use, shipped for plugins' tests.

- :class:`~kpireport.testing.server.FakeServer`: a fake HTTP API on 127.0.0.1 that logs every
  call and scripts failures, so a source's real client code runs in tests.
"""

from kpireport.testing.server import Call, FakeServer, Reply

__all__ = ["Call", "FakeServer", "Reply"]
