"""A fake Meta Graph API: Ads Insights (sync and async), the ad account, Pixel stats.

What it serves (on a :class:`~kpireport.testing.FakeServer`, version ``v21.0``; the token as the
``access_token`` parameter or a Bearer header):

- ``GET /v21.0/act_{id}/insights``: ``fields``, ``time_range={"since","until"}`` (default the 30
  days before ``today``), ``time_increment`` (``1``…``90`` days, ``monthly``, ``all_days``; the
  default), ``level`` (``account``, ``campaign``), ``limit`` (default 25), ``after``,
  ``action_attribution_windows`` (``1d_click``, ``7d_click``, ``28d_click``, ``1d_view``: a key
  per window in each action). **Numbers are strings**; rows without impressions are left out;
  ``actions``/``action_values`` carry the aliases of one event together with the same figure
  (``offsite_conversion.fb_pixel_purchase``, ``purchase``, ``omni_purchase``;
  ``offsite_conversion.fb_pixel_lead``, ``lead``); ``reach`` is deduplicated per row (a range's
  reach is less than the sum of its days' reach: people overlap); ``paging.cursors`` and
  ``paging.next`` (a full URL to the fake) while more rows follow.
- Async report runs: ``POST /v21.0/act_{id}/insights`` (the same parameters, form or query) →
  ``{"report_run_id"}``; ``GET /v21.0/{run}`` → ``async_status`` ("Job Not Started", "Job
  Running", "Job Completed" or "Job Failed") and ``async_percent_completion``; then
  ``GET /v21.0/{run}/insights`` (paged like the sync call).
- ``GET /v21.0/act_{id}?fields=currency,timezone_name`` (also ``name``, ``account_id``).
- ``GET /v21.0/{pixel_id}/stats?aggregation=event&start_time&end_time`` (unix seconds or ISO):
  hourly buckets over the last 7 days before ``now`` only, newest first, paged; an hour in
  which the pixel received nothing has no bucket.
- Errors ``{"error": {"message", "type": "OAuthException", "code", "error_subcode",
  "fbtrace_id"}}``: 190 (expired token), 10 / 200 (permissions), throttling 4, 17, 613 and
  80000–80004 **as HTTP 400, never 429, no Retry-After**, 100 (bad parameter), 1 (HTTP 500,
  "reduce the amount of data"). Every reply carries ``x-business-use-case-usage`` (with
  ``estimated_time_to_regain_access`` in minutes), ``x-ad-account-usage`` and
  ``x-fb-ads-insights-throttle``. The subcodes are plausible, not confirmed by a reference.

A plugin's test points its Graph base URL at :attr:`FakeServer.url`::

    with FakeServer() as server:
        graph = MetaFake(server, seed=3)
        ...  # the source asks act_{graph.account_id}/insights with graph.token
        spend = sum(d.spend for d in graph.days if ...)  # raw rows, independent of the fake

Data (from ``seed``, 2024-01-01 .. 2026-11-30): :attr:`MetaFake.days`, one
:class:`CampaignDay` per campaign and day of delivery (spend, impressions, clicks, reach,
purchases and leads per attribution window, purchase value). :meth:`MetaFake.reach` is the
deduplication the fake applies, so a test can compute a range's reach independently.

Knobs: ``seed``, ``account_id``, ``pixel_id``, ``token``, ``currency``, ``timezone_name``,
``today`` (insights' default range), ``now`` (pixel stats' window); :meth:`silence_pixel`
(the pixel receives nothing between two moments: a tag removed); :meth:`expire_token`
(190), ``denied`` (10 or 200 for every call while set), :meth:`throttle` (a throttling code for
the next calls, or from the call after ``after`` more, with the minutes to regain access),
``sync_max_days`` (a synchronous call over a
longer range is refused with code 1 / HTTP 500: use an async run), ``async_polls`` (polls before
a run completes) and ``async_fail``; the server's ``latency`` and ``fail()``.

Deliberate limits: levels ``adset``/``ad``, breakdowns, ``date_preset``, filtering, sorting and
``time_ranges`` are not served (error 100); the reach model is a deterministic overlap formula,
not real people.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import math
import random
import threading
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from kpireport.testing.server import Call, FakeServer, Reply

VERSION = "v21.0"
TOKEN = "EAAfakeSystemUserTokenKpireport0123456789"
START, END = dt.date(2024, 1, 1), dt.date(2026, 11, 30)
WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view")
PURCHASE_ALIASES = ("offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase")
LEAD_ALIASES = ("offsite_conversion.fb_pixel_lead", "lead")
FIELDS = {"account_id", "account_name", "campaign_id", "campaign_name", "impressions", "clicks",
          "spend", "reach", "frequency", "ctr", "cpc", "cpm", "actions", "action_values",
          "cost_per_action_type", "purchase_roas", "date_start", "date_stop"}
GLOBAL_AUDIENCE = 3_000_000
PIXEL_EVENTS = ("PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Lead", "Purchase")

THROTTLE_MESSAGES = {
    4: ("Application request limit reached", 1504022),
    17: ("User request limit reached", 2446079),
    613: ("Calls to this api have exceeded the rate limit.", 1487742),
    80000: ("There have been too many calls from this ad-account. Wait a bit and try again. "
            "For more info, please refer to "
            "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.", 2446079),
    80001: ("There have been too many calls to this Page account. Wait a bit and try again.",
            2446079),
    80002: ("There have been too many calls to this Instagram account. Wait a bit and try "
            "again.", 2446079),
    80003: ("There have been too many calls to this custom audience. Wait a bit and try again.",
            2446079),
    80004: ("There have been too many calls to this ad-account. Wait a bit and try again. For "
            "more info, please refer to "
            "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
            2446079),
}
PERMISSION_MESSAGES = {
    10: "(#10) Application does not have permission for this action",
    200: "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
}


@dataclasses.dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    start: dt.date
    audience: int


@dataclasses.dataclass(frozen=True)
class CampaignDay:
    """One campaign's delivery on one day; conversions per attribution window."""

    campaign: Campaign
    day: dt.date
    spend: float
    impressions: int
    clicks: int
    reach: int
    purchases: dict[str, int]
    """Per window; the default figure (``value``) is ``7d_click`` + ``1d_view``."""
    leads: dict[str, int]
    purchase_value: dict[str, float]


def _windows(rnd: random.Random, mean: float) -> dict[str, int]:
    click7 = max(0, round(rnd.gauss(mean, mean / 3)))
    click1 = round(click7 * rnd.uniform(0.5, 0.9))
    click28 = click7 + rnd.randint(0, max(1, click7 // 4))
    view1 = rnd.randint(0, max(0, click7 // 3))
    return {"1d_click": click1, "7d_click": click7, "28d_click": click28, "1d_view": view1}


def default(figures: dict[str, Any]) -> Any:
    """The figure Meta reports in ``value`` (7-day click + 1-day view)."""
    return figures["7d_click"] + figures["1d_view"]


def generate(seed: int) -> tuple[list[Campaign], list[CampaignDay]]:
    rnd = random.Random(seed)
    campaigns = [Campaign(id=f"12021{seed:04d}000000{n:02d}", name=name, start=start,
                          audience=rnd.randint(200_000, 900_000))
                 for n, (name, start) in enumerate([
                     ("Prospecting – Broad", START), ("Retargeting – Cart", START),
                     ("Lead Gen – Webinar", dt.date(2024, 9, 15)),
                     ("Black Friday", dt.date(2025, 11, 1))], start=1)]
    days = []
    day = START
    while day <= END:
        for campaign in campaigns:
            if day < campaign.start or (campaign.name == "Black Friday" and day.month not in
                                        (11, 12)) or rnd.random() < 0.03:
                continue
            impressions = rnd.randint(2_000, 30_000)
            clicks = round(impressions * rnd.uniform(0.005, 0.03))
            purchases = _windows(rnd, 0 if "Lead" in campaign.name else clicks / 60)
            leads = _windows(rnd, clicks / 25 if "Lead" in campaign.name else 0.3)
            unit = rnd.uniform(35, 120)
            days.append(CampaignDay(
                campaign=campaign, day=day, spend=round(impressions * rnd.uniform(4, 14) / 1000,
                                                        2),
                impressions=impressions, clicks=clicks,
                reach=round(impressions / rnd.uniform(1.1, 1.8)), purchases=purchases,
                leads=leads, purchase_value={w: round(n * unit, 2)
                                             for w, n in purchases.items()}))
        day += dt.timedelta(days=1)
    return campaigns, days


def reach(rows: Sequence[CampaignDay]) -> int:
    """The deduplicated reach of ``rows``: within a campaign, each day reaches a random share
    of its audience (people overlap across days); campaigns overlap within a global audience."""
    by_campaign: dict[str, list[CampaignDay]] = {}
    for row in rows:
        by_campaign.setdefault(row.campaign.id, []).append(row)
    unique = []
    for members in by_campaign.values():
        audience = members[0].campaign.audience
        missed = sum(math.log1p(-min(r.reach, audience - 1) / audience) for r in members)
        unique.append(audience * -math.expm1(missed))
    if len(unique) == 1:
        return round(unique[0])
    missed = sum(math.log1p(-u / GLOBAL_AUDIENCE) for u in unique)
    return round(GLOBAL_AUDIENCE * -math.expm1(missed))


class GraphError(Exception):
    def __init__(self, code: int, message: str, subcode: int | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.status = code, message, subcode, status


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode().rstrip("=")


def _index(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("cursor:"))
    except (ValueError, UnicodeDecodeError):
        raise GraphError(100, "(#100) Invalid cursor", 1487390) from None


def _num(value: float, places: int = 6) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclasses.dataclass
class _Run:
    id: str
    params: dict[str, str]
    polls: int = 0


class MetaFake:
    """The routes of a fake Graph API (one ad account, one pixel) on ``server``."""

    def __init__(self, server: FakeServer, *, seed: int = 1, account_id: str = "1234567890",
                 pixel_id: str = "998877665544", token: str = TOKEN, currency: str = "EUR",
                 timezone_name: str = "Europe/Paris", today: dt.date = dt.date(2026, 12, 1),
                 now: dt.datetime | None = None, sync_max_days: int | None = None,
                 async_polls: int = 2, async_fail: bool = False) -> None:
        self.server = server
        self.account_id = account_id
        self.pixel_id = pixel_id
        self.token = token
        self.currency = currency
        self.timezone_name = timezone_name
        self.today = today
        self.now = now
        self.sync_max_days = sync_max_days
        self.async_polls = async_polls
        self.async_fail = async_fail
        self.seed = seed
        self.campaigns, self.days = generate(seed)
        self._by_day: dict[dt.date, list[CampaignDay]] = {}
        for row in self.days:
            self._by_day.setdefault(row.day, []).append(row)
        self.denied: int | None = None
        """10 or 200: every call is refused with that permission error while set."""
        self.expired = False
        self.calls_made = 0
        self._throttles: list[tuple[int, int, int]] = []
        self._silences: list[tuple[dt.datetime, dt.datetime]] = []
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        base = f"/{VERSION}"
        server.route("GET", rf"{base}/act_(\d+)/insights", self.insights)
        server.route("POST", rf"{base}/act_(\d+)/insights", self.start_run)
        server.route("GET", rf"{base}/act_(\d+)", self.account)
        server.route("GET", rf"{base}/(\d+)/insights", self.run_insights)
        server.route("GET", rf"{base}/(\d+)/stats", self.pixel_stats)
        server.route("GET", rf"{base}/(\d+)", self.run_status)

    # --- knobs --------------------------------------------------------------------------------

    def expire_token(self) -> None:
        """The token expires: every later call is error 190."""
        self.expired = True

    def throttle(self, code: int, *, times: int = 1, minutes: int = 5, after: int = 0) -> None:
        """The next ``times`` calls get throttling error ``code`` (4, 17, 613, 80000–80004) as
        HTTP 400, the usage header saying ``minutes`` until access is regained; with
        ``after``, only once that many more calls were served (in the middle of a report)."""
        if code not in THROTTLE_MESSAGES:
            raise ValueError(f"not a throttling code: {code}")
        with self._lock:
            start = self.calls_made + after + 1
            self._throttles += [(code, minutes, start)] * times

    def silence_pixel(self, start: dt.datetime, end: dt.datetime) -> None:
        """The pixel receives no event from ``start`` to ``end`` (aware datetimes): the
        hours in between have no bucket in its stats."""
        self._silences.append((start, end))

    def reach(self, rows: Sequence[CampaignDay]) -> int:
        return reach(rows)

    # --- plumbing -----------------------------------------------------------------------------

    def _usage_headers(self, minutes: int = 0) -> dict[str, str]:
        pct = min(100.0, self.calls_made * 0.75 if not minutes else 100.0)
        business = {self.account_id: [{
            "type": "ads_insights", "call_count": round(pct), "total_cputime": round(pct / 2),
            "total_time": round(pct / 2), "estimated_time_to_regain_access": minutes,
            "ads_api_access_tier": "standard_access"}]}
        return {"x-business-use-case-usage": json.dumps(business),
                "x-ad-account-usage": json.dumps({"acc_id_util_pct": round(pct, 2),
                                                  "reset_time_duration": minutes * 60}),
                "x-fb-ads-insights-throttle": json.dumps({"app_id_util_pct": round(pct / 2, 2),
                                                          "acc_id_util_pct": round(pct, 2)})}

    def _error(self, exc: GraphError, minutes: int = 0) -> Reply:
        error: dict[str, Any] = {"message": exc.message, "type": "OAuthException",
                                 "code": exc.code, "fbtrace_id": f"A{uuid.uuid4().hex[:22]}"}
        if exc.subcode is not None:
            error["error_subcode"] = exc.subcode
        if exc.code == 190:
            error["error_user_title"] = "Session expired"
        return Reply(status=exc.status, body={"error": error},
                     headers=self._usage_headers(minutes))

    def _params(self, call: Call) -> dict[str, str]:
        params = {k: v[0] for k, v in call.query.items()}
        if call.method == "POST" and call.body:
            params.update(call.form())
        return params

    def _serve(self, call: Call, answer: Any) -> Reply:
        """Checks shared by every route, then ``answer(params)`` or its error."""
        params = self._params(call)
        auth = call.headers.get("Authorization", "")
        token = params.get("access_token") or auth.removeprefix("Bearer ").strip()
        if token != self.token:
            return self._error(GraphError(190, "Invalid OAuth access token - Cannot parse "
                                          "access token"))
        if self.expired:
            return self._error(GraphError(190, "Error validating access token: Session has "
                                          "expired on Tuesday, 01-Dec-26 01:00:00 PST. The "
                                          "current time is Tuesday, 01-Dec-26 02:00:00 PST.", 463))
        if self.denied is not None:
            return self._error(GraphError(self.denied, PERMISSION_MESSAGES[self.denied]))
        with self._lock:
            self.calls_made += 1
            throttle = (self._throttles.pop(0) if self._throttles
                        and self._throttles[0][2] <= self.calls_made else None)
        if throttle is not None:
            code, minutes, _ = throttle
            message, subcode = THROTTLE_MESSAGES[code]
            return self._error(GraphError(code, f"(#{code}) {message}", subcode), minutes)
        try:
            body = answer(params)
        except GraphError as exc:
            return self._error(exc)
        return Reply(body=body, headers=self._usage_headers())

    def _check_account(self, call: Call) -> None:
        wanted = call.path.split("/")[2].removeprefix("act_")
        if wanted != self.account_id:
            raise GraphError(100, f"Unsupported get request. Object with ID 'act_{wanted}' does "
                             "not exist, cannot be loaded due to missing permissions, or does "
                             "not support this operation.", 33)

    def _page(self, call: Call, params: dict[str, str], rows: list[Any]) -> dict[str, Any]:
        try:
            limit = int(params.get("limit", "25"))
        except ValueError:
            raise GraphError(100, "(#100) param limit must be an integer") from None
        if limit < 1:
            raise GraphError(100, "(#100) param limit must be positive")
        start = _index(params["after"]) + 1 if params.get("after") else 0
        page = rows[start:start + limit]
        body: dict[str, Any] = {"data": page}
        if page:
            body["paging"] = {"cursors": {"before": _cursor(start),
                                          "after": _cursor(start + len(page) - 1)}}
            if start + limit < len(rows):
                nxt = {k: v for k, v in params.items() if k != "before"}
                nxt["after"] = _cursor(start + len(page) - 1)
                body["paging"]["next"] = f"{self.server.url}{call.path}?{urlencode(nxt)}"
        return body

    # --- insights -----------------------------------------------------------------------------

    def _range(self, params: dict[str, str]) -> tuple[dt.date, dt.date]:
        if "date_preset" in params or "time_ranges" in params:
            raise GraphError(100, "(#100) date_preset and time_ranges are not served by the "
                             "fake: use time_range")
        if "time_range" not in params:
            return self.today - dt.timedelta(days=30), self.today - dt.timedelta(days=1)
        try:
            spec = json.loads(params["time_range"])
            since = dt.date.fromisoformat(spec["since"])
            until = dt.date.fromisoformat(spec["until"])
        except (ValueError, KeyError, TypeError):
            raise GraphError(100, "(#100) param time_range must be a JSON object with since and "
                             "until dates (YYYY-MM-DD)", 1487756) from None
        if since > until:
            raise GraphError(100, "(#100) time_range's since must be on or before until",
                             1487756)
        months_back = (self.today.year - since.year) * 12 + self.today.month - since.month
        if months_back > 37:
            raise GraphError(3018, "The start date of the time range cannot be beyond 37 months "
                             "from the current date", 1487534)
        return since, until

    def _buckets(self, since: dt.date, until: dt.date,
                 increment: str) -> list[tuple[dt.date, dt.date]]:
        if increment == "all_days":
            return [(since, until)]
        out = []
        if increment == "monthly":
            start = since
            while start <= until:
                nxt = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
                out.append((start, min(until, nxt - dt.timedelta(days=1))))
                start = nxt
            return out
        if not increment.isdigit() or not 1 <= int(increment) <= 90:
            raise GraphError(100, "(#100) param time_increment must be all_days, monthly or an "
                             "integer between 1 and 90")
        step = int(increment)
        start = since
        while start <= until:
            out.append((start, min(until, start + dt.timedelta(days=step - 1))))
            start += dt.timedelta(days=step)
        return out

    def rows(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """The insights rows ``params`` ask for (every page), as the Graph API writes them."""
        fields = [f.strip() for f in params.get("fields", "spend,impressions").split(",")
                  if f.strip()]
        for i, name in enumerate(fields):
            if name not in FIELDS:
                raise GraphError(100, f"(#100) fields[{i}] must be one of the following values: "
                                 + ", ".join(sorted(FIELDS)))
        level = params.get("level", "account")
        if level not in {"account", "campaign"}:
            raise GraphError(100, f"(#100) level {level} is not served by the fake")
        for key in ("breakdowns", "filtering", "sort"):
            if key in params:
                raise GraphError(100, f"(#100) {key} is not served by the fake")
        windows: list[str] = []
        if "action_attribution_windows" in params:
            try:
                windows = list(json.loads(params["action_attribution_windows"]))
            except (ValueError, TypeError):
                windows = params["action_attribution_windows"].split(",")
            windows = [w.strip().strip('"') for w in windows]
            if any(w not in WINDOWS for w in windows):
                raise GraphError(100, "(#100) action_attribution_windows must be among "
                                 + ", ".join(WINDOWS))
        since, until = self._range(params)
        out = []
        for low, high in self._buckets(since, until, params.get("time_increment", "all_days")):
            members = [d for offset in range((high - low).days + 1)
                       for d in self._by_day.get(low + dt.timedelta(days=offset), [])]
            groups = ([members] if level == "account" else
                      [[d for d in members if d.campaign.id == c.id] for c in self.campaigns])
            for group in groups:
                if sum(d.impressions for d in group):
                    out.append(self._row(group, fields, windows, low, high, level))
        return out

    def _row(self, group: list[CampaignDay], fields: list[str], windows: list[str],
             low: dt.date, high: dt.date, level: str) -> dict[str, Any]:
        spend = sum(d.spend for d in group)
        impressions = sum(d.impressions for d in group)
        clicks = sum(d.clicks for d in group)
        people = reach(group)
        purchases = {w: sum(d.purchases[w] for d in group) for w in WINDOWS}
        leads = {w: sum(d.leads[w] for d in group) for w in WINDOWS}
        value = {w: sum(d.purchase_value[w] for d in group) for w in WINDOWS}
        links = {w: round(clicks * 0.8) for w in WINDOWS}

        def action(kind: str, figures: dict[str, Any], money: bool) -> dict[str, str]:
            show = (lambda x: f"{x:.2f}") if money else str
            item = {"action_type": kind, "value": show(default(figures) if kind != "link_click"
                                                       else figures["7d_click"])}
            for window in windows:
                item[window] = show(figures[window])
            return item

        counted = [("link_click", links)] if links["7d_click"] else []
        if default(purchases):
            counted += [(alias, purchases) for alias in PURCHASE_ALIASES]
        if default(leads):
            counted += [(alias, leads) for alias in LEAD_ALIASES]
        row: dict[str, Any] = {}
        campaign = group[0].campaign
        for name in fields:
            if name == "account_id":
                row[name] = self.account_id
            elif name == "account_name":
                row[name] = "Fake Shop Ads"
            elif name in {"campaign_id", "campaign_name"}:
                if level == "campaign":
                    row[name] = campaign.id if name == "campaign_id" else campaign.name
            elif name == "impressions":
                row[name] = str(impressions)
            elif name == "clicks":
                row[name] = str(clicks)
            elif name == "spend":
                row[name] = f"{spend:.2f}"
            elif name == "reach":
                row[name] = str(people)
            elif name == "frequency":
                row[name] = _num(impressions / people)
            elif name == "ctr":
                row[name] = _num(clicks / impressions * 100)
            elif name == "cpc" and clicks:
                row[name] = _num(spend / clicks)
            elif name == "cpm":
                row[name] = _num(spend / impressions * 1000)
            elif name == "actions" and counted:
                row[name] = [action(k, f, False) for k, f in counted]
            elif name == "action_values" and default(purchases):
                row[name] = [action(alias, value, True) for alias in PURCHASE_ALIASES]
            elif name == "cost_per_action_type" and counted:
                row[name] = [{"action_type": k, "value": _num(
                    spend / (default(f) if k != "link_click" else f["7d_click"]))}
                    for k, f in counted]
            elif name == "purchase_roas" and default(purchases) and spend:
                row[name] = [{"action_type": "omni_purchase",
                              "value": _num(default(value) / spend, 3)}]
        row["date_start"] = low.isoformat()
        row["date_stop"] = high.isoformat()
        return row

    def insights(self, call: Call) -> Reply:
        def answer(params: dict[str, str]) -> dict[str, Any]:
            self._check_account(call)
            since, until = self._range(params)
            if self.sync_max_days is not None and (until - since).days + 1 > self.sync_max_days:
                raise GraphError(1, "Please reduce the amount of data you're asking for, then "
                                 "retry your request", 99, status=500)
            return self._page(call, params, self.rows(params))
        return self._serve(call, answer)

    def start_run(self, call: Call) -> Reply:
        def answer(params: dict[str, str]) -> dict[str, Any]:
            self._check_account(call)
            self.rows(params)  # refuse bad parameters now, as the Graph API does
            run = _Run(id=str(6_000_000_000_000_000 + len(self._runs) * 7919 + self.seed),
                       params={k: v for k, v in params.items() if k != "access_token"})
            with self._lock:
                self._runs[run.id] = run
            return {"report_run_id": run.id}
        return self._serve(call, answer)

    def _run(self, call: Call) -> _Run:
        run = self._runs.get(call.path.split("/")[2])
        if run is None:
            raise GraphError(100, f"Unsupported get request. Object with ID "
                             f"'{call.path.split('/')[2]}' does not exist, cannot be loaded due "
                             "to missing permissions, or does not support this operation.", 33)
        return run

    def run_status(self, call: Call) -> Reply:
        def answer(params: dict[str, str]) -> dict[str, Any]:
            run = self._run(call)
            run.polls += 1
            done = run.polls > self.async_polls
            status = ("Job Failed" if done and self.async_fail else "Job Completed" if done
                      else "Job Not Started" if run.polls == 1 else "Job Running")
            percent = 100 if done else round(100 * (run.polls - 1) / self.async_polls)
            since, until = self._range(run.params)
            return {"id": run.id, "account_id": self.account_id, "async_status": status,
                    "async_percent_completion": percent, "date_start": since.isoformat(),
                    "date_stop": until.isoformat(), "time_ref": 1764547200}
        return self._serve(call, answer)

    def run_insights(self, call: Call) -> Reply:
        def answer(params: dict[str, str]) -> dict[str, Any]:
            run = self._run(call)
            if run.polls <= self.async_polls or self.async_fail:
                raise GraphError(100, "(#100) The report is not ready: poll the report run's "
                                 "async_status until it is Job Completed", 1487534)
            paging = {k: v for k, v in params.items() if k in {"limit", "after"}}
            return self._page(call, params, self.rows({**run.params, **paging}))
        return self._serve(call, answer)

    def account(self, call: Call) -> Reply:
        def answer(params: dict[str, str]) -> dict[str, Any]:
            self._check_account(call)
            known = {"currency": self.currency, "timezone_name": self.timezone_name,
                     "account_id": self.account_id, "name": "Fake Shop Ads",
                     "account_status": 1}
            body: dict[str, Any] = {}
            for name in params.get("fields", "").split(","):
                if name.strip():
                    if name.strip() not in known:
                        raise GraphError(100, f"(#100) Tried accessing nonexisting field "
                                         f"({name.strip()}) on node type (AdAccount)")
                    body[name.strip()] = known[name.strip()]
            body["id"] = f"act_{self.account_id}"
            return body
        return self._serve(call, answer)

    # --- pixel --------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        now = self.now or dt.datetime.now(dt.UTC)
        return now.replace(minute=0, second=0, microsecond=0)

    def pixel_counts(self, hour: dt.datetime) -> dict[str, int]:
        """The events the pixel counted in the hour starting at ``hour`` (UTC)."""
        if any(start <= hour < end for start, end in self._silences):
            return {}
        rnd = random.Random(f"{self.seed}-{self.pixel_id}-{int(hour.timestamp())}")
        views = rnd.randint(50, 900)
        counts = {"PageView": views, "ViewContent": views // 2, "AddToCart": views // 12,
                  "InitiateCheckout": views // 25, "Lead": rnd.randint(0, 6),
                  "Purchase": rnd.randint(0, max(0, views // 60))}
        return {k: v for k, v in counts.items() if v}

    def pixel_stats(self, call: Call) -> Reply:
        def moment(text: str) -> dt.datetime:
            try:
                if text.isdigit():
                    return dt.datetime.fromtimestamp(int(text), dt.UTC)
                value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            except ValueError:
                raise GraphError(100, f"(#100) Invalid time: {text}") from None

        def answer(params: dict[str, str]) -> dict[str, Any]:
            if call.path.split("/")[2] != self.pixel_id:
                raise GraphError(100, "Unsupported get request.", 33)
            if params.get("aggregation") != "event":
                raise GraphError(100, "(#100) The fake serves aggregation=event only")
            now = self._now()
            first = now - dt.timedelta(days=7)
            start = max(first, moment(params["start_time"]) if "start_time" in params else first)
            end = min(now, moment(params["end_time"]) if "end_time" in params else now)
            hour = start.replace(minute=0, second=0, microsecond=0)
            buckets = []
            while hour < end:
                counts = self.pixel_counts(hour)
                if counts:
                    buckets.append({"aggregation": "event",
                                    "start_time": hour.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                                    "data": [{"value": k, "count": v}
                                             for k, v in counts.items()]})
                hour += dt.timedelta(hours=1)
            buckets.reverse()  # newest first
            return self._page(call, params, buckets)
        return self._serve(call, answer)
