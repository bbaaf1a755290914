"""Faithful fakes of the remote services kpireport's sources talk to, each on a
:class:`~kpireport.testing.FakeServer`: import the module of the service you need
(``kpireport.testing.fakes.salesforce``, ``.hubspot``, ``.meta``, …)."""
