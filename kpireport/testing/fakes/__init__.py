"""Faithful fakes of the remote services source plugins call, each on a
:class:`~kpireport.testing.FakeServer`: Google's token endpoint (``google_oauth``), GA4
(``ga4``), Search Console (``search_console``), Salesforce (``salesforce``), HubSpot
(``hubspot``) and Meta (``meta``). Import the module a test needs, e.g.
``from kpireport.testing.fakes.ga4 import GA4Fake``; this package imports nothing on purpose.
"""
