"""One client's report as stages, each in its own module, read in this order:

:mod:`~kpireport.pipeline.plan` (which sources, KPIs and queries) →
:mod:`~kpireport.pipeline.fetch` (the queries answered, live or from a snapshot) →
:mod:`~kpireport.pipeline.compute` (KPI values) →
:mod:`~kpireport.pipeline.assess` (objectives, OKRs, recommendations) →
:mod:`~kpireport.pipeline.report` (the four above, for one client) →
:mod:`~kpireport.pipeline.deliver` (render the report and hand it to the delivery targets).
"""
