"""Issue #10's acceptance tests: plugin contract 1.0 end to end, through the real pipeline.

A remote-API source written against ``kpireport``'s public surface only (the ``test_api``
plugin, ``tests/plugins/kpireport_test_api.py``) is configured like any source; its fake API
(``tests/api_fake.py``) logs every call, so each test asserts what was asked as well as what
the report says. Expected figures are summed here from the fake's own daily rows
(:func:`api_fake.daily_rows`), never through kpireport's aggregation.

Most tests stop at ``compute_report`` (no PDF); those that run ``kpireport`` itself fork a
worker and render, and are marked so.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_fake import SECRET, FakeApi
from pypdf import PdfReader
from shared import months

from kpireport import Granularity, NoteKind, PluginError, SourceError
from kpireport.cli import main
from kpireport.config import load_config
from kpireport.data import DateRange
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.testing import Call, FakeServer, Reply

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
"""The run's "today": 2026-11-25, so October 2026 (ended 25 days before) is final."""
AS_OF = ["--as-of", "2026-11-25"]
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
OCT_LAST_YEAR = DateRange(start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31))
REPORT_CALLS = r"/v1/.*"
SPARE_KEY = "a-secret-value-123"

CALLS_PER_REPORT = 3 + 1 + 25
"""Report calls the test API source makes for October 2026: the period's, the previous
period's and last year's totals, the period by day (one month), and the 25 months of the
charts' series, one call a month."""


# --- Helpers ----------------------------------------------------------------------------------


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def api(server):
    return FakeApi(server, currency="USD", timezone="America/Los_Angeles")


@pytest.fixture(scope="module")
def plugins():
    # Set up before conftest's per-test isolation: only kpireport's own entry points, here too.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", "kpireport")
        return load_plugins(["kpireport_test_api", "kpireport_test_bad_api"])


def expected(api: FakeApi, metric: str, rng: DateRange, channel: str | None = None) -> float:
    """The metric's sum over ``rng`` from the fake's daily rows."""
    return sum(r[metric] for r in api.rows if rng.start <= r["date"] <= rng.end
               and (channel is None or r["channel"] == channel))


def source(url: str, *, account: str = "123", label: str | None = "Acme Analytics",
           plugin: str = "test_api", **settings: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"plugin": plugin, "settings": {
        "base_url": url, "account": account, "client_secret": SECRET, **settings}}
    if label:
        ref["label"] = label
    return ref


def client(url: str, *, id: str = "acme", kpis: list[Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"id": id, "name": id.title(), "sources": {"web": source(url)},
            "kpis": kpis or ["sessions", "revenue"], **extra}


def write_config(tmp_path: Path, *clients: dict[str, Any], **defaults: Any) -> Path:
    data = {"agency": {"name": "Contract Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR", **defaults},
            "clients": list(clients)}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def compute(path: Path, plugins: Any, client_id: str = "acme") -> Any:
    config = load_config(path)
    return compute_report(config, config.client(client_id), plugins, now=NOW,
                          state_root=path.parent / "state")


def cli(*args: str) -> int:
    return main(["-p", "kpireport_test_api", "-p", "kpireport_test_bad_api", *args])


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def report_calls(server: FakeServer) -> list[Call]:
    return server.calls_to(REPORT_CALLS)


# --- 1. A source written against the public surface only works end to end --------------------


def test_a_public_surface_source_gives_the_report_its_figures(tmp_path, server, api, plugins,
                                                               monkeypatch):
    monkeypatch.setenv("TEST_API_SECRET", SECRET)
    acme = client(server.url)
    acme["sources"]["web"]["settings"]["client_secret"] = "${TEST_API_SECRET}"
    report = compute(write_config(tmp_path, acme), plugins)

    assert (report.period.range, report.period.previous, report.period.last_year) == (
        OCT, SEP, OCT_LAST_YEAR)
    for metric in ("sessions", "revenue"):
        kpi = report.kpis[metric]
        assert kpi.error is None
        assert kpi.value == pytest.approx(expected(api, metric, OCT))
        assert kpi.previous == pytest.approx(expected(api, metric, SEP))
        assert kpi.last_year == pytest.approx(expected(api, metric, OCT_LAST_YEAR))
        # 25 months for the charts: this year's thirteen and the twelve before them.
        wanted = months(dt.date(2024, 10, 1), dt.date(2026, 10, 1))
        assert [p.start for p in kpi.monthly] == [m.start for m in wanted]
        assert [p.value for p in kpi.monthly] == pytest.approx(
            [expected(api, metric, m) for m in wanted])
        assert [p.value for p in kpi.daily] == pytest.approx(
            [expected(api, metric, DateRange(start=d, end=d)) for d in OCT.iter_days()])
    # One call per query shape and month (the source asks month by month, to cache each final
    # month on its own): the three totals, October by day, the 25 months of the series; both
    # KPIs in each; the token obtained once, from the secret the environment gave.
    calls = report_calls(server)
    assert len(calls) == CALLS_PER_REPORT
    assert all(c.json()["metrics"] == ["sessions", "revenue"] for c in calls)
    assert len(server.calls_to("/oauth/token")) == 1 and len(api.tokens) == 1


# --- 2. Two rows for a total fails the client with a clear error -----------------------------


def test_two_rows_for_a_total_fail_the_client_naming_the_plugin(tmp_path, server, api, plugins):
    bad = client(server.url, id="bad")
    bad["sources"]["web"] = source(server.url, plugin="test_bad_api", label="Bad Analytics")
    path = write_config(tmp_path, bad)
    with pytest.raises(PluginError) as raised:
        compute(path, plugins, "bad")
    message = str(raised.value)
    assert "'test_bad_api'" in message and "broke the contract" in message
    assert "4 rows for a total of sessions, revenue over 2026-10-01..2026-10-31" in message


@pytest.mark.pdf
@pytest.mark.workers
def test_two_rows_for_a_total_fail_that_client_and_the_others_are_delivered(tmp_path, server,
                                                                             api, capsys):
    bad = client(server.url, id="bad")
    bad["sources"]["web"] = source(server.url, plugin="test_bad_api", label="Bad Analytics")
    path = write_config(tmp_path, bad, client(server.url, id="good"))
    assert cli("run", str(path), "--all", "--workers", "1", *AS_OF) == 1
    out = capsys.readouterr().out
    [bad_line] = [line for line in out.splitlines() if line.startswith("bad ")]
    assert "failed" in bad_line and "source plugin 'test_bad_api' broke the contract" in bad_line
    [good_line] = [line for line in out.splitlines() if line.startswith("good ")]
    assert "delivered" in good_line
    assert (tmp_path / "out" / "good" / "good-2026-10.pdf").is_file()
    assert not (tmp_path / "out" / "bad").exists()


# --- 3. An authentication error: the source is called once per report -----------------------


def refuse_every_token(server: FakeServer) -> None:
    server.fail("POST", REPORT_CALLS, Reply(status=401, body={"error": "token expired"}),
                times=100)


def test_a_refused_token_costs_one_call_and_partial_states_the_gap(tmp_path, server, api,
                                                                   plugins):
    refuse_every_token(server)
    report = compute(write_config(tmp_path, client(server.url, on_source_error="partial")),
                     plugins)
    assert len(report_calls(server)) == 1  # not one per query: nothing more was asked
    assert set(report.fetched.errors) == {"web"}
    assert report.fetched.errors["web"].startswith("the access token was refused")
    [gap] = [n for n in report.notes if n.kind is NoteKind.SOURCE_FAILED]
    assert gap.source == "web"
    for kpi in report.kpis.values():
        assert kpi.value is None and kpi.error and kpi.failed_source == "web"


def test_a_refused_token_fails_the_client_naming_the_source_once(tmp_path, server, api,
                                                                 plugins):
    refuse_every_token(server)
    with pytest.raises(SourceError) as raised:
        compute(write_config(tmp_path, client(server.url)), plugins)
    message = str(raised.value)
    assert message.startswith("Acme Analytics: the access token was refused")
    assert message.count("Acme Analytics") == 1 and "Test API" not in message
    assert raised.value.source == "web"
    assert len(report_calls(server)) == 1


@pytest.mark.pdf
@pytest.mark.workers
def test_a_refused_token_through_kpireport_run(tmp_path, server, api, capsys):
    refuse_every_token(server)
    path = write_config(tmp_path, client(server.url))
    assert cli("run", str(path), "--workers", "1", *AS_OF) == 1
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.startswith("acme ")]
    assert "failed" in line and "Acme Analytics: the access token was refused" in line
    assert line.count("Acme Analytics") == 1
    assert len(report_calls(server)) == 1


# --- 4. Two sources of one report fetch concurrently -----------------------------------------


@pytest.mark.workers  # the sources' fetches run in threads, and this one waits on them
def test_two_sources_of_a_report_are_fetched_concurrently(tmp_path, server, plugins):
    delay = 0.1
    # Registered before the fake's own route, so it answers first: the fake's reply, late.
    server.route("POST", r"/v1/accounts/[^/]+:report", lambda call: slow(api.report(call)))

    def slow(reply: Reply | dict[str, Any]) -> Reply:
        reply = reply if isinstance(reply, Reply) else Reply(body=reply)
        reply.delay = delay
        return reply

    api = FakeApi(server)
    two = client(server.url, kpis=[{"kpi": "sessions", "source": "ads"},
                                   {"kpi": "revenue", "source": "shop"}])
    two["sources"] = {"ads": source(server.url, account="111", label="Ads"),
                      "shop": source(server.url, account="222", label="Shop")}
    started = time.monotonic()
    report = compute(write_config(tmp_path, two), plugins)
    elapsed = time.monotonic() - started

    assert report.kpis["sessions"].value == pytest.approx(expected(api, "sessions", OCT))
    assert report.kpis["revenue"].value == pytest.approx(expected(api, "revenue", OCT))
    per_account = {a: [c for c in report_calls(server) if f"/accounts/{a}:" in c.path]
                   for a in ("111", "222")}
    assert all(c.json()["metrics"] == ["sessions"] for c in per_account["111"])
    assert all(c.json()["metrics"] == ["revenue"] for c in per_account["222"])
    # Each source asks its own queries one after the other; the two sources at once.
    assert server.max_concurrency(REPORT_CALLS) == 2
    calls = len(per_account["111"]) + len(per_account["222"])
    assert elapsed < 0.8 * calls * delay  # one after the other would take calls * delay


# --- 5. A second run and a re-render make zero calls -----------------------------------------


@pytest.mark.pdf
@pytest.mark.workers
def test_a_second_run_and_a_rerender_ask_the_api_nothing(tmp_path, server, api):
    path = write_config(tmp_path, client(server.url))
    assert cli("run", str(path), "--period", "2026-10", "--workers", "1", *AS_OF) == 0
    first = len(report_calls(server))
    assert first == CALLS_PER_REPORT  # all of October's data is final

    assert cli("run", str(path), "--period", "2026-10", "--force", "--workers", "1",
               *AS_OF) == 0
    assert len(report_calls(server)) == first  # every answer came from the cache
    assert len(server.calls_to("/oauth/token")) == 1  # nor was a token needed

    target = tmp_path / "again.pdf"
    assert cli("rerender", str(path), "--client", "acme", "--period", "2026-10",
               "--to", str(target)) == 0
    assert len(report_calls(server)) == first
    assert target.is_file() and len(PdfReader(target).pages) >= 1

    cache = tmp_path / "out" / ".kpireport" / "plugins" / "test_api" / "cache"
    entries = list(cache.glob("*/*.json"))
    assert len(entries) == first
    assert cache.stat().st_mode & 0o777 == 0o700
    assert cache.parent.stat().st_mode & 0o777 == 0o700
    assert all(folder.stat().st_mode & 0o777 == 0o700 for folder in cache.iterdir())
    assert all(entry.stat().st_mode & 0o777 == 0o600 for entry in entries)


# --- 6. Secrets stay secret -------------------------------------------------------------------


def echo_the_token_on_daily_calls(server: FakeServer, api_ref: list[FakeApi]) -> list[str]:
    """A route in front of the fake's: a query by day gets an HTTP 500 whose body quotes the
    request's token and the spare key (an API echoing its input in an error); the source
    retries twice, then gives up on that query. Returns what it echoed."""
    echoed: list[str] = []

    def handler(call: Call) -> Reply | dict[str, Any]:
        if call.json()["granularity"] == Granularity.DAY.value:
            auth = call.headers.get("Authorization", "")
            echoed.append(auth)
            return Reply(status=500, body={"error": f"backend failed for '{auth}' with key "
                                                    f"{SPARE_KEY}"})
        return api_ref[0].report(call)

    server.route("POST", r"/v1/accounts/[^/]+:report", handler)
    return echoed


def secret_client(url: str) -> dict[str, Any]:
    acme = client(url, on_source_error="partial")
    settings = acme["sources"]["web"]["settings"]
    settings["client_secret"] = "${TEST_API_SECRET}"
    settings["spare_keys"] = [SPARE_KEY]
    return acme


def test_secrets_stay_out_of_the_logs_of_a_report(tmp_path, server, plugins, monkeypatch,
                                                  caplog):
    monkeypatch.setenv("TEST_API_SECRET", SECRET)
    api_ref: list[FakeApi] = []
    echoed = echo_the_token_on_daily_calls(server, api_ref)
    api_ref.append(FakeApi(server))
    caplog.set_level(logging.DEBUG)
    report = compute(write_config(tmp_path, secret_client(server.url)), plugins)

    token = api_ref[0].tokens[0]
    assert echoed and all(token in e for e in echoed)  # the API did quote it
    assert "HTTP 500" in report.fetched.errors["web"] and "***" in report.fetched.errors["web"]
    assert "the API failed with HTTP 500" in caplog.text  # the source logged the reply
    for secret in (token, SECRET, SPARE_KEY):
        assert secret not in caplog.text
        assert secret not in report.fetched.errors["web"]


@pytest.mark.pdf
@pytest.mark.workers
def test_secrets_stay_out_of_every_output_of_a_run(tmp_path, server, monkeypatch, capfd):
    monkeypatch.setenv("TEST_API_SECRET", SECRET)
    api_ref: list[FakeApi] = []
    echoed = echo_the_token_on_daily_calls(server, api_ref)
    api_ref.append(FakeApi(server))
    path = write_config(tmp_path, secret_client(server.url))
    assert cli("-v", "run", str(path), "--workers", "1", *AS_OF) == 0
    out, err = capfd.readouterr()

    token = api_ref[0].tokens[0]
    assert echoed and all(token in e for e in echoed)
    assert "delivered" in out and "HTTP 500" in out + err  # the gap is reported, masked
    texts = {"stdout": out, "stderr": err}
    state = tmp_path / "out"
    for file in state.rglob("*"):
        if not file.is_file():
            continue
        data = file.read_bytes()
        name = str(file.relative_to(tmp_path))
        texts[name] = data.decode("utf-8", "replace")
        if file.suffix == ".gz":
            texts[f"{name} (gunzipped)"] = gzip.decompress(data).decode("utf-8")
        if file.suffix == ".pdf":
            texts[f"{name} (text)"] = pdf_text(file)
    assert {"ledger.sqlite", "2026-10.json.gz", "2026-10.json", "acme-2026-10.pdf"} <= {
        Path(name).name for name in texts}
    ledger = next(t for n, t in texts.items() if n.endswith("ledger.sqlite"))
    assert "delivered with gaps: Acme Analytics: HTTP 500" in ledger and "***" in ledger
    for name, text in texts.items():
        for secret in (token, SECRET, SPARE_KEY):
            assert secret not in text, f"{secret!r} in {name}"


# --- 7. Currency and time zone ----------------------------------------------------------------


@pytest.mark.pdf
def test_amounts_in_another_currency_are_shown_in_it(tmp_path, server, api, plugins):
    from kpireport.pipeline.deliver import render

    path = write_config(tmp_path, client(server.url))
    report = compute(path, plugins)
    revenue = report.kpis["revenue"]
    assert revenue.currency == "USD"
    assert revenue.value == pytest.approx(expected(api, "revenue", OCT))  # as the API gave it
    assert report.kpis["sessions"].currency is None
    [note] = [n for n in revenue.notes if n.kind is NoteKind.CURRENCY]
    assert dict(note.params) == {"currency": "USD"}
    assert not [n for n in report.kpis["sessions"].notes if n.kind is NoteKind.CURRENCY]

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(load_config(path), report, plugins, notify=False).pdf)
    text = pdf_text(pdf)
    # Babel's en_GB sign for the US dollar is "US$"; the client's euro sign is nowhere.
    assert re.search(r"US\$\s?[\d,]+", text)
    assert "€" not in text
    assert "Acme Analytics gives its amounts in USD: they are shown in USD." in text


def test_amounts_are_converted_at_the_configured_rate(tmp_path, server, api, plugins):
    report = compute(write_config(tmp_path, client(server.url), exchange_rates={"USD": 0.5}),
                     plugins)
    revenue = report.kpis["revenue"]
    assert revenue.currency is None  # in the client's currency now
    assert revenue.value == pytest.approx(expected(api, "revenue", OCT) / 2)
    assert revenue.previous == pytest.approx(expected(api, "revenue", SEP) / 2)
    assert revenue.monthly[-1].value == pytest.approx(expected(api, "revenue", OCT) / 2)
    assert report.kpis["sessions"].value == pytest.approx(expected(api, "sessions", OCT))
    [note] = [n for n in revenue.notes if n.kind is NoteKind.CURRENCY]
    assert dict(note.params) == {"currency": "USD", "rate": "0.5"}
    assert "converted into EUR at 0.5" in note.message


def test_the_time_zone_note_appears_once_in_the_report(tmp_path, server, api, plugins):
    report = compute(write_config(tmp_path, client(server.url)), plugins)
    # Every table of the source carries it (both KPIs' five queries)…
    assert all(any(n.kind is NoteKind.TIMEZONE for n in table.notes)
               for table in report.fetched.tables.values())
    assert len(report.fetched.tables) == 5
    # …the report's notes say it once.
    [note] = [n for n in report.notes if n.kind is NoteKind.TIMEZONE]
    assert dict(note.params) == {"timezone": "America/Los_Angeles"}
    assert note.source == "web"


# --- 8. Filters from config -------------------------------------------------------------------

ORGANIC = {"kpi": "sessions", "id": "organic_sessions", "label": "Organic sessions",
           "description": "Sessions from organic search.",
           "filters": [{"dimension": "channel", "equals": "Organic Search"}]}


def test_a_filter_from_the_config_reaches_the_figures(tmp_path, server, api, plugins):
    report = compute(write_config(tmp_path, client(server.url, kpis=["sessions", ORGANIC])),
                     plugins)
    organic = report.kpis["organic_sessions"]
    assert organic.label == "Organic sessions"
    assert organic.value == pytest.approx(expected(api, "sessions", OCT, "Organic Search"))
    assert organic.last_year == pytest.approx(
        expected(api, "sessions", OCT_LAST_YEAR, "Organic Search"))
    assert report.kpis["sessions"].value == pytest.approx(expected(api, "sessions", OCT))
    assert organic.value < report.kpis["sessions"].value
    filtered = [c.json() for c in report_calls(server) if c.json()["filters"]]
    assert len(filtered) == CALLS_PER_REPORT and all(
        body["filters"] == [{"dimension": "channel", "operator": "equals",
                             "values": ["Organic Search"], "negate": False}]
        for body in filtered)


def test_a_filter_the_source_cannot_apply_fails_validate(tmp_path, server, api, capsys):
    by_page = {"kpi": "sessions", "id": "home_sessions", "label": "Home page sessions",
               "description": "Sessions on the home page.",
               "filters": [{"dimension": "page", "equals": "/"}]}
    path = write_config(tmp_path, client(server.url, kpis=["sessions", by_page]))
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines, 1) if "id: home_sessions" in line) - 1
    last = next(i for i, line in enumerate(lines, 1) if "equals: /" in line)
    assert cli("validate", str(path), "--no-data") == 2
    err = capsys.readouterr().err
    assert re.search(r"\bpage\b", err), err
    where = [int(n) for n in re.findall(rf"{re.escape(path.name)}:(\d+)", err)]
    assert any(first <= n <= last for n in where), err
    assert not report_calls(server)  # validate asks no source anything
