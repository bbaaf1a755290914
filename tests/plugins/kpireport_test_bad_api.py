"""A source that breaks contract 1.0: two rows for a total without dimensions.

It is the test API source (``kpireport_test_api``) with one bug a third party could ship: it
answers a total by channel even when the query asks no dimension, so a total gets one row per
channel. The engine must fail the client naming this plugin, never keep one of the rows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kpireport_test_api import ApiSource

from kpireport import Granularity, Query, Table, hookimpl

KPIREPORT_CONTRACT = "1"


class BadApiSource(ApiSource):
    name = "test_bad_api"
    label = "Bad API"

    def fetch(self, query: Query) -> Table:
        if query.granularity is Granularity.TOTAL and not query.dimensions:
            split = super().fetch(replace(query, dimensions=("channel",)))
            rows = [{m: row[m] for m in query.metrics} for row in split.rows]
            return replace(split, query=query, rows=rows)
        return super().fetch(query)


@hookimpl
def register_sources(register: Any) -> None:
    register(BadApiSource)
