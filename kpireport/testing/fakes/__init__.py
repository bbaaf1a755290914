"""Faithful fakes of the remote services source plugins call, each on a :class:`FakeServer`.

Every fake is a module of its own; import the one a test needs, e.g.
``from kpireport.testing.fakes.ga4 import GA4Fake``. This package imports nothing on purpose.
"""
