"""GA4, Search Console and Meta say which dimensions each metric splits by (contract 1.2's
``Capabilities.metric_dimensions``): ``kpireport validate`` refuses, offline, a KPI asking
one of them for a split its API does not give, and accepts the ones it gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kpireport.cli import main
from kpireport.testing import make_context
from kpireport_ga4.settings import Ga4Settings
from kpireport_ga4.source import Ga4Source
from kpireport_ga4.vocabulary import DIMENSIONS as GA4_DIMENSIONS
from kpireport_ga4.vocabulary import metrics as ga4_metrics
from kpireport_meta.settings import MetaSettings
from kpireport_meta.source import MetaSource
from kpireport_search_console.api import DIMENSIONS as GSC_DIMENSIONS
from kpireport_search_console.source import METRICS as GSC_METRICS
from kpireport_search_console.source import SearchConsoleSource

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


# --- Each declaration against the plugin's own metric and dimension lists ---------------------


def ga4(tmp_path: Path, **settings: Any) -> Ga4Source:
    values = {"property_id": "123", "auth": {"service_account_file": "key.json"}, **settings}
    return Ga4Source(Ga4Settings(**values), make_context(tmp_path, plugin="ga4"))


def test_ga4_declares_every_metric_it_can_offer_and_no_other(tmp_path: Path) -> None:
    declared = Ga4Source.capabilities().metric_dimensions
    # The metrics depend on the settings (leads only with key events named): the declaration
    # covers all the settings can give, and each configured source's metrics are among them.
    plain, named = ga4(tmp_path), ga4(tmp_path, conversions=["purchase"],
                                      leads=["generate_lead", "form_submit"])
    assert "leads" not in plain.metrics() and "leads" in named.metrics()
    assert set(declared) == set(plain.metrics()) | set(named.metrics())
    assert set(declared) == set(ga4_metrics(leads=("x",)))
    for name, dims in declared.items():
        # Every dimension the plugin maps to GA4 splits every metric (none is event-scoped
        # attribution or item-scoped: the channel and source are the session's).
        assert dims == tuple(GA4_DIMENSIONS), name
    assert GA4_DIMENSIONS["channel"] == "sessionDefaultChannelGroup"
    assert GA4_DIMENSIONS["source"] == "sessionSourceMedium"
    assert not [d for d in GA4_DIMENSIONS.values() if d.startswith("item")]


def test_search_console_declares_its_four_metrics_by_its_four_dimensions() -> None:
    caps = SearchConsoleSource.capabilities()
    assert set(caps.metric_dimensions) == set(SearchConsoleSource.metrics()) == set(GSC_METRICS)
    assert caps.dimensions == GSC_DIMENSIONS == ("query", "page", "country", "device")
    assert all(dims == GSC_DIMENSIONS for dims in caps.metric_dimensions.values())


@pytest.mark.parametrize("events", [["purchase"], ["purchase", "lead", "add_to_cart"],
                                    ["custom:123"]])
def test_meta_declares_each_metric_its_settings_offer(tmp_path: Path,
                                                      events: list[str]) -> None:
    source = MetaSource(MetaSettings(ad_account_id="act_1", events=events),
                        make_context(tmp_path, plugin="meta"))
    caps = source.capabilities()
    assert set(caps.metric_dimensions) == set(source.metrics())
    assert ("ad_leads" in caps.metric_dimensions) == ("lead" in events)
    assert caps.dimensions == ("campaign",)
    assert all(dims == ("campaign",) for dims in caps.metric_dimensions.values())


def test_plugins_lists_no_metric_that_splits_by_every_dimension(capsys: Any) -> None:
    # A declaration equal to the source's dimensions says nothing `plugins` must repeat.
    assert main(["plugins", "--source", "search_console"]) == 0
    out = capsys.readouterr().out
    assert "capabilities: dimensions query, page, country, device" in out
    assert "clicks: dimensions" not in out


# --- validate, offline ------------------------------------------------------------------------


def write(tmp_path: Path, source: dict[str, Any], kpis: list[Any]) -> Path:
    (tmp_path / "key.json").write_text("{}", encoding="utf-8")
    data = {"agency": {"name": "Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR"},
            "clients": [{"id": "shop", "name": "The Shop", "sources": {"src": source},
                         "kpis": kpis}]}
    path = tmp_path / "agency.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def validate(path: Path, capsys: Any) -> tuple[int, str]:
    code = main(["validate", str(path), "--no-data"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


GA4 = {"plugin": "ga4", "label": "GA", "settings": {
    "property_id": "123", "auth": {"service_account_file": "key.json"},
    "conversions": ["purchase"]}}
GSC = {"plugin": "search_console", "label": "GSC", "settings": {
    "site": "sc-domain:shop.example", "auth": {"service_account_file": "key.json"}}}
META = {"plugin": "meta", "label": "Ads", "settings": {
    "ad_account_id": "act_42", "access_token": "not-a-real-token", "events": ["purchase"]}}

CASES = [
    # source, a split it gives, a split it does not give (metric, dimension), what exists
    (GA4, {"kpi": "sessions", "filters": [{"dimension": "channel", "equals": "Organic Search"}]},
     {"kpi": "sessions", "id": "odd_split",
      "filters": [{"dimension": "query", "contains": "shoes"}]},
     "sessions", "query", "channel, source, page, landing_page, page_title, device, country"),
    (GSC, {"kpi": "organic_clicks", "filters": [{"dimension": "device", "equals": "MOBILE"}]},
     {"kpi": "organic_clicks", "id": "odd_split",
      "filters": [{"dimension": "channel", "equals": "Email"}]},
     "clicks", "channel", "query, page, country, device"),
    (META, {"kpi": "ad_spend", "filters": [{"dimension": "campaign", "contains": "Black"}]},
     {"kpi": "ad_spend", "id": "odd_split",
      "filters": [{"dimension": "device", "equals": "mobile"}]},
     "spend", "device", "campaign"),
]


@pytest.mark.parametrize(("source", "given", "refused", "metric", "dimension", "exists"), CASES,
                         ids=["ga4", "search_console", "meta"])
def test_validate_refuses_a_split_the_source_cannot_give(
        tmp_path: Path, capsys: Any, source: dict[str, Any], given: dict[str, Any],
        refused: dict[str, Any], metric: str, dimension: str, exists: str) -> None:
    path = write(tmp_path, source, [given])
    code, out = validate(path, capsys)
    assert code == 0, out
    path = write(tmp_path, source, [given, refused])
    code, out = validate(path, capsys)
    assert code == 2
    [line] = [x for x in out.splitlines() if "cannot" in x]
    # The file (and line), the client, the KPI, the source, the metric, the dimension asked,
    # and the dimensions that exist.
    assert f"{path}:" in line and "clients[0].kpis[1].filters" in line
    assert "client 'shop', KPI 'odd_split'" in line
    assert (f"{source['label']} (src) cannot split or filter {metric} by {dimension} "
            f"({metric} offers: {exists})") in line


@pytest.mark.parametrize(("source", "kpis"), [
    (GA4, ["traffic_sources", "top_pages", {
        "kpi": "sessions", "id": "mobile_blog_sessions",
        "filters": [{"dimension": "landing_page", "contains": "/blog"},
                    {"dimension": "device", "equals": "mobile"}]}]),
    (GSC, ["top_queries", "search_top_pages", "clicks_by_device", "clicks_by_country"]),
    (META, ["top_campaigns", {"kpi": "ad_reach", "filters": [
        {"dimension": "campaign", "equals": "Black Friday"}]}]),
], ids=["ga4", "search_console", "meta"])
def test_validate_accepts_the_splits_each_source_gives(tmp_path: Path, capsys: Any,
                                                       source: dict[str, Any],
                                                       kpis: list[Any]) -> None:
    code, out = validate(write(tmp_path, source, kpis), capsys)
    assert code == 0, out
    assert "configuration is valid" in out


def test_the_example_config_validates(capsys: Any) -> None:
    code, out = validate(EXAMPLE, capsys)
    assert code == 0, out
