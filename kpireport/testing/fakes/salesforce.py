"""A fake Salesforce org: OAuth token endpoint and the REST SOQL query resource.

What it serves (on a :class:`~kpireport.testing.FakeServer`):

- ``POST /services/oauth2/token`` (form): ``client_credentials`` (``client_id`` +
  ``client_secret`` in the form or as HTTP Basic auth), ``refresh_token`` and the JWT bearer grant
  (``urn:ietf:params:oauth:grant-type:jwt-bearer``): the RS256 assertion is verified against the
  key of a self-signed test certificate the fake generates (:attr:`SalesforceFake.private_key_pem`
  signs, :attr:`SalesforceFake.certificate_pem` is what a connected app would hold) and its claims
  iss (consumer key), sub (username), aud (the fake's URL or ``https://login.salesforce.com``) and
  exp (int or string, as simple-salesforce sends it). Reply: ``access_token``, ``instance_url``
  (the fake's own URL), ``id``, ``token_type``, ``issued_at``, ``signature``, ``scope``; never
  ``expires_in``. Errors: 400 ``{"error": "invalid_grant" | "invalid_client", ...}``.
- ``GET /services/data/v60.0/query?q=<SOQL>`` (also ``query/?q=``) and its ``nextRecordsUrl``
  (``/services/data/v60.0/query/01g…-2000``), Bearer token.
- ``GET /services/data/v60.0/sobjects/{Object}/describe``: ``name``, ``label``, ``fields``
  (``name``, ``type`` — ``picklist``, ``date``, ``datetime``, ``currency``, ``boolean``,
  ``anyType``… —, ``custom``, ``filterable``, ``picklistValues[{value, label, active}]``);
  an unknown object is a 404 ``NOT_FOUND``. Counts against the daily limit like a query.

Needs PyJWT and cryptography (kpireport's ``test`` extra) to sign and verify assertions.

A plugin's test points both its login URL and its instance at :attr:`FakeServer.url`::

    with FakeServer() as server:
        org = SalesforceFake(server, seed=3)
        ...  # the source logs in at server.url, follows instance_url, pages nextRecordsUrl
        assert sum(o["Amount"] or 0 for o in org.records("Opportunity") if o["IsWon"]) == ...

Data (from ``seed``, 2024-01-01 .. 2026-11-30): :meth:`SalesforceFake.records` gives the raw
Lead, LeadHistory, Account, Opportunity and Organization rows (Python dates/datetimes) so a
test computes expectations independently of the fake's SOQL engine. LeadHistory holds a
``created`` row per lead and each ``Status`` change on the way to its current status
(Open → Working → its final status); the Lead's custom ``MQL_Date__c`` (date) and
``Is_MQL__c`` (checkbox) are set from the first change. Opportunities carry ``LeadSource``.
Fields added after the first version come from their own random streams: a seed's
original rows and values are unchanged.

Multi-currency org (``currencies={"EUR": 0.9, …}``, rates per one of ``corporate_currency``,
as Salesforce's ``CurrencyType.ConversionRate``): Lead, Account and Opportunity get
``CurrencyIsoCode`` and their amounts are in it; aggregates (``SUM``/``MIN``/``MAX`` of a
currency field) are in the corporate currency, as Salesforce gives them with ``GROUP BY``;
``convertCurrency(Amount)`` in SELECT converts a record's amount (the user's currency is the
corporate one here); the ``CurrencyType`` object exists. In a single-currency org
``CurrencyIsoCode`` and ``CurrencyType`` do not exist (``INVALID_FIELD`` / ``INVALID_TYPE``) and
``convertCurrency`` is refused. ``Organization.DefaultCurrencyIsoCode`` is the corporate currency.

Knobs: ``seed``; ``batch_size`` (2,000 like Salesforce); ``daily_limit`` and :attr:`api_usage`
(403 ``REQUEST_LIMIT_EXCEEDED`` once reached; ``Sforce-Limit-Info: api-usage=N/limit`` on every
response); :meth:`expire_tokens` (every issued token → 401 ``INVALID_SESSION_ID``) and
``expire_after_calls`` (expire after that many query calls: mid-paging expiry); the server's
``latency`` and ``fail()`` for anything else (e.g. 503 ``SERVER_UNAVAILABLE``);
``max_groups`` (2,000: the groups an aggregate query may return; lower it to test splitting).

Deliberate limits — a *small SOQL subset*, parsed honestly; anything else is a 400
``MALFORMED_QUERY`` in Salesforce's JSON array shape (unknown fields: ``INVALID_FIELD``):

- ``SELECT`` fields, ``COUNT()`` (alone: the count is ``totalSize``, no records), ``COUNT(f)``,
  ``SUM(f)``, ``MIN(f)``, ``MAX(f)``, ``CALENDAR_MONTH(f)``, ``CALENDAR_YEAR(f)``,
  ``DAY_ONLY(datetime)``, ``HOUR_IN_DAY(datetime)`` (both in UTC: no ``convertTimezone()``),
  ``convertCurrency(currency field)`` (multi-currency orgs, SELECT only), each with an optional
  alias (unaliased aggregate and date expressions are ``expr0``, ``expr1``…);
- ``FROM Lead | LeadHistory | Opportunity | Account | Organization`` (and ``CurrencyType`` in
  a multi-currency org); ``OldValue``/``NewValue`` (anyType) cannot be filtered, as in
  Salesforce;
- ``WHERE`` conditions joined by ``AND`` (no ``OR``, ``NOT``, parentheses): ``=``, ``!=``, ``<``,
  ``<=``, ``>``, ``>=``, ``IN (…)``; literals ``'text'``, numbers, ``true``/``false``, ``null``,
  dates ``2024-05-01`` (for date fields) and datetimes ``2024-05-01T00:00:00Z`` (for datetime
  fields; a date against a datetime field is refused, as Salesforce does); no relative date
  literals (``THIS_MONTH``…);
- ``GROUP BY`` fields and date functions; over 2,000 groups is refused (aggregate
  queries cannot page; the error code Salesforce uses there is unconfirmed: ``MALFORMED_QUERY``);
- no ``ORDER BY``, ``LIMIT``, ``HAVING``, relationships, ``convertTimezone``, nested
  functions, ``ISO_CODE`` amount literals; datetimes are UTC.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kpireport.testing.server import Call, FakeServer, Reply

API = "/services/data/v60.0"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CONSUMER_KEY = "3MVG9fakeConsumerKey.kpireport"
CLIENT_SECRET = "fake-consumer-secret-1234567890"
USERNAME = "reports@example.com"
REFRESH_TOKEN = "5Aep861fakeRefreshToken"

Value = str | int | float | bool | dt.date | dt.datetime | None

LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Advertisement", "Other")
OPEN_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
               "Negotiation/Review")
START, END = dt.date(2024, 1, 1), dt.date(2026, 11, 30)

# Field name → type, per object (canonical casing: Salesforce answers with it whatever the query's).
SCHEMA: dict[str, dict[str, str]] = {
    "Lead": {"Id": "id", "Name": "string", "Status": "picklist", "IsConverted": "boolean",
             "ConvertedDate": "date", "LeadSource": "picklist", "CreatedDate": "datetime",
             "Is_MQL__c": "boolean", "MQL_Date__c": "date"},
    "LeadHistory": {"Id": "id", "LeadId": "reference", "Field": "picklist",
                    "OldValue": "anyType", "NewValue": "anyType", "CreatedDate": "datetime"},
    "Account": {"Id": "id", "Name": "string", "Industry": "string", "CreatedDate": "datetime"},
    "Opportunity": {"Id": "id", "Name": "string", "StageName": "picklist", "IsWon": "boolean",
                    "IsClosed": "boolean", "Amount": "currency", "CreatedDate": "datetime",
                    "CloseDate": "date", "AccountId": "reference", "LeadSource": "picklist"},
    "Organization": {"Id": "id", "Name": "string", "DefaultCurrencyIsoCode": "picklist",
                     "TimeZoneSidKey": "picklist"},
}
PREFIX = {"Lead": "00Q", "LeadHistory": "017", "Account": "001", "Opportunity": "006",
          "Organization": "00D"}
CLOSED_STAGES = ("Closed Won", "Closed Lost")
PICKLISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Lead", "Status"): LEAD_STATUSES, ("Lead", "LeadSource"): LEAD_SOURCES,
    ("Opportunity", "StageName"): OPEN_STAGES + CLOSED_STAGES,
    ("Opportunity", "LeadSource"): LEAD_SOURCES,
    ("LeadHistory", "Field"): ("created", "Status", "Owner", "LeadSource"),
}
"""The values a describe call lists for each picklist field."""


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _sf_id(obj: str, n: int) -> str:
    return f"{PREFIX[obj]}Dn00000{n:05d}AAA"


def _moment(rnd: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rnd.randint(7, 19), rnd.randint(0, 59),
                                            rnd.randint(0, 59)), tzinfo=dt.UTC)


def generate(seed: int) -> dict[str, list[dict[str, Value]]]:
    """Leads, accounts and opportunities created between 2024-01-01 and 2026-11-30."""
    rnd = random.Random(seed)
    days = (END - START).days + 1
    accounts: list[dict[str, Value]] = []
    for n in range(400):
        day = START + dt.timedelta(days=rnd.randrange(days))
        accounts.append({"Id": _sf_id("Account", n), "Name": f"Account {n}",
                         "Industry": rnd.choice(("Retail", "Finance", "Media", None)),
                         "CreatedDate": _moment(rnd, day)})
    leads: list[dict[str, Value]] = []
    opps: list[dict[str, Value]] = []
    for offset in range(days):
        day = START + dt.timedelta(days=offset)
        for _ in range(rnd.randint(4, 12)):
            created = _moment(rnd, day)
            status = rnd.choices(LEAD_STATUSES, weights=(3, 3, 2, 2))[0]
            converted = status == "Closed - Converted"
            conv_day = min(day + dt.timedelta(days=rnd.randint(0, 40)), END)
            leads.append({"Id": _sf_id("Lead", len(leads)), "Name": f"Lead {len(leads)}",
                          "Status": status, "IsConverted": converted,
                          "ConvertedDate": conv_day if converted else None,
                          "LeadSource": rnd.choice(LEAD_SOURCES), "CreatedDate": created})
        for _ in range(rnd.randint(1, 5)):
            created = _moment(rnd, day)
            close = day + dt.timedelta(days=rnd.randint(5, 120))
            closed = close <= END and rnd.random() < 0.8
            won = closed and rnd.random() < 0.45
            stage = ("Closed Won" if won else "Closed Lost" if closed
                     else rnd.choice(OPEN_STAGES))
            amount = None if rnd.random() < 0.03 else round(rnd.uniform(500, 40_000), 2)
            opps.append({"Id": _sf_id("Opportunity", len(opps)), "Name": f"Deal {len(opps)}",
                         "StageName": stage, "IsWon": won, "IsClosed": closed, "Amount": amount,
                         "CreatedDate": created, "CloseDate": close,
                         "AccountId": accounts[rnd.randrange(len(accounts))]["Id"]})
    _enrich(seed, leads, opps)
    history = _lead_history(seed, leads)
    org: list[dict[str, Value]] = [{"Id": "00DDn000000fake", "Name": "Fake Org",
                                    "DefaultCurrencyIsoCode": "USD",
                                    "TimeZoneSidKey": "America/Los_Angeles"}]
    return {"Lead": leads, "LeadHistory": history, "Account": accounts, "Opportunity": opps,
            "Organization": org}


def _enrich(seed: int, leads: list[dict[str, Value]], opps: list[dict[str, Value]]) -> None:
    """Fields added after the first version, from their own random stream: the rows and
    values above stay what they were for a seed."""
    rnd = random.Random(seed * 7919 + 17)
    for opp in opps:
        opp["LeadSource"] = rnd.choice((*LEAD_SOURCES, None))


def _lead_history(seed: int, leads: list[dict[str, Value]]) -> list[dict[str, Value]]:
    """LeadHistory (field history tracking on Status): a ``created`` row, then each status
    change on the way to the lead's current status; ``MQL_Date__c`` and ``Is_MQL__c`` (a
    custom flag and date an org might keep) are set from the first change."""
    rnd = random.Random(seed * 7919 + 29)
    last = dt.datetime.combine(END, dt.time(23, 0), tzinfo=dt.UTC)
    rows: list[dict[str, Value]] = []

    def add(lead: dict[str, Value], at: dt.datetime, field: str, old: Value,
            new: Value) -> None:
        rows.append({"Id": _sf_id("LeadHistory", len(rows)), "LeadId": lead["Id"],
                     "Field": field, "OldValue": old, "NewValue": new, "CreatedDate": at})

    for lead in leads:
        created = lead["CreatedDate"]
        assert isinstance(created, dt.datetime)
        add(lead, created, "created", None, None)
        status = lead["Status"]
        lead["Is_MQL__c"], lead["MQL_Date__c"] = False, None
        if status == LEAD_STATUSES[0]:
            continue
        if isinstance(lead["ConvertedDate"], dt.date):
            end = dt.datetime.combine(lead["ConvertedDate"], dt.time(12), tzinfo=dt.UTC)
        else:
            end = created + dt.timedelta(days=rnd.randint(3, 30), hours=rnd.randint(0, 8))
        end = min(max(end, created + dt.timedelta(hours=2)), max(last, created))
        working = created + (end - created) * rnd.uniform(0.1, 0.9)
        add(lead, working, "Status", LEAD_STATUSES[0], LEAD_STATUSES[1])
        lead["Is_MQL__c"], lead["MQL_Date__c"] = True, working.date()
        if status != LEAD_STATUSES[1]:
            add(lead, end, "Status", LEAD_STATUSES[1], status)
    return rows


# --- SOQL subset ------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<dtm>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<=|>=|=|<|>|\(|\)|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
)""", re.VERBOSE)
KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "group", "by", "order",
            "limit", "having", "true", "false", "null", "offset", "like", "includes",
            "excludes", "asc", "desc", "nulls", "with", "for"}
FUNCTIONS = {"count", "sum", "min", "max", "calendar_month", "calendar_year", "day_only",
             "hour_in_day", "convertcurrency"}
AGGREGATES = {"count", "sum", "min", "max"}
DATE_FUNCTIONS = {"calendar_month", "calendar_year", "day_only", "hour_in_day"}


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str


@dataclass(frozen=True)
class Expr:
    func: str | None  # None: a plain field; "count" with field "" is COUNT()
    field: str


@dataclass
class SelectItem:
    expr: Expr
    alias: str | None = None


@dataclass
class Cond:
    field: str
    op: str
    values: list[Value]


@dataclass
class Soql:
    obj: str
    items: list[SelectItem]
    where: list[Cond] = field(default_factory=list)
    group_by: list[Expr] = field(default_factory=list)


def _tokenize(text: str) -> list[Tok]:
    toks = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos:].split()[0]}'")
        kind = m.lastgroup or ""
        toks.append(Tok(kind, m.group(kind)))
        pos = m.end()
    return toks


class _Parser:
    def __init__(self, text: str, schemas: dict[str, dict[str, str]] | None = None) -> None:
        self.text = text
        self.schemas = SCHEMA if schemas is None else schemas
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.i += 1
        return tok

    def is_kw(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "name" and tok.text.lower() == word

    def expect_kw(self, word: str) -> None:
        if not self.is_kw(word):
            tok = self.peek()
            raise SoqlError("MALFORMED_QUERY",
                            f"unexpected token: '{tok.text if tok else 'end of query'}'")
        self.i += 1

    def expect_op(self, op: str) -> None:
        tok = self.next()
        if tok.kind != "op" or tok.text != op:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")

    def expr(self) -> Expr:
        tok = self.next()
        if tok.kind != "name" or tok.text.lower() in KEYWORDS:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")
        after = self.peek()
        if after is not None and after.kind == "op" and after.text == "(":
            func = tok.text.lower()
            if func not in FUNCTIONS:
                raise SoqlError("MALFORMED_QUERY", f"Unsupported function: {tok.text}")
            self.i += 1
            close = self.peek()
            if func == "count" and close is not None and close.text == ")":
                self.i += 1
                return Expr("count", "")
            arg = self.next()
            if arg.kind != "name" or arg.text.lower() in KEYWORDS:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{arg.text}'")
            self.expect_op(")")
            return Expr(func, arg.text)
        return Expr(None, tok.text)

    def literal(self) -> Value:
        tok = self.next()
        if tok.kind == "str":
            return re.sub(r"\\(.)", r"\1", tok.text[1:-1])
        if tok.kind == "num":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "date":
            try:
                return dt.date.fromisoformat(tok.text)
            except ValueError:
                raise SoqlError("MALFORMED_QUERY", f"invalid date: {tok.text}") from None
        if tok.kind == "dtm":
            text = tok.text.replace("Z", "+00:00")
            try:
                return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
            except ValueError:
                raise SoqlError("MALFORMED_QUERY", f"invalid datetime: {tok.text}") from None
        if tok.kind == "name" and tok.text.lower() in {"true", "false"}:
            return tok.text.lower() == "true"
        if tok.kind == "name" and tok.text.lower() == "null":
            return None
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")

    def parse(self) -> Soql:
        self.expect_kw("select")
        items = []
        while True:
            expr = self.expr()
            alias = None
            tok = self.peek()
            if tok is not None and tok.kind == "name" and tok.text.lower() not in KEYWORDS:
                alias = self.next().text
            items.append(SelectItem(expr, alias))
            tok = self.peek()
            if tok is not None and tok.kind == "op" and tok.text == ",":
                self.i += 1
                continue
            break
        self.expect_kw("from")
        obj_tok = self.next()
        obj = {o.lower(): o for o in self.schemas}.get(obj_tok.text.lower())
        if obj is None:
            raise SoqlError("INVALID_TYPE", f"sObject type '{obj_tok.text}' is not supported.")
        query = Soql(obj=obj, items=items)
        if self.is_kw("where"):
            self.i += 1
            while True:
                query.where.append(self.condition())
                if self.is_kw("and"):
                    self.i += 1
                    continue
                break
        if self.is_kw("group"):
            self.i += 1
            self.expect_kw("by")
            while True:
                query.group_by.append(self.expr())
                tok = self.peek()
                if tok is not None and tok.kind == "op" and tok.text == ",":
                    self.i += 1
                    continue
                break
        tok = self.peek()
        if tok is not None:
            raise SoqlError("MALFORMED_QUERY",
                            f"unexpected token: '{tok.text}' (not in the fake's SOQL subset)")
        return query

    def condition(self) -> Cond:
        expr = self.expr()
        if expr.func is not None:
            raise SoqlError("MALFORMED_QUERY", "functions in WHERE are not in the fake's subset")
        if self.is_kw("in"):
            self.i += 1
            self.expect_op("(")
            values = [self.literal()]
            while True:
                tok = self.next()
                if tok.kind == "op" and tok.text == ",":
                    values.append(self.literal())
                elif tok.kind == "op" and tok.text == ")":
                    break
                else:
                    raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")
            return Cond(expr.field, "in", values)
        tok = self.next()
        if tok.kind != "op" or tok.text not in {"=", "!=", "<", "<=", ">", ">="}:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")
        return Cond(expr.field, tok.text, [self.literal()])


def parse_soql(text: str, schemas: dict[str, dict[str, str]] | None = None, *,
               multi_currency: bool = False) -> Soql:
    """Parse ``text`` (the subset in the module's docstring) and check its fields and types
    against ``schemas`` (default :data:`SCHEMA`)."""
    schemas = SCHEMA if schemas is None else schemas
    query = _Parser(text, schemas).parse()
    if query.obj not in schemas:
        raise SoqlError("INVALID_TYPE", f"sObject type '{query.obj}' is not supported.")
    schema = schemas[query.obj]
    canon = {name.lower(): name for name in schema}

    def resolve(expr: Expr) -> Expr:
        if expr.func == "count" and not expr.field:
            return expr
        name = canon.get(expr.field.lower())
        if name is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{expr.field}' on entity "
                            f"'{query.obj}'. If you are attempting to use a custom field, be "
                            "sure to append the '__c' after the custom field name.")
        kind = schema[name]
        if expr.func == "sum" and kind not in {"currency", "double", "int"}:
            raise SoqlError("MALFORMED_QUERY", f"field {name} does not support aggregate "
                            "operator SUM")
        if expr.func in {"min", "max"} and kind not in {"currency", "double", "int", "date",
                                                        "datetime", "string", "picklist"}:
            raise SoqlError("MALFORMED_QUERY", f"field {name} does not support aggregate "
                            f"operator {expr.func.upper()}")
        if expr.func in {"calendar_month", "calendar_year"} and kind not in {"date", "datetime"}:
            raise SoqlError("MALFORMED_QUERY", f"{expr.func.upper()} needs a date field: {name}")
        if expr.func in {"day_only", "hour_in_day"} and kind != "datetime":
            raise SoqlError("MALFORMED_QUERY", f"{expr.func.upper()} needs a dateTime field: "
                            f"{name}")
        if expr.func == "convertcurrency":
            if kind != "currency":
                raise SoqlError("INVALID_FIELD", f"convertCurrency can only be used on "
                                f"currency fields: {name}")
            if not multi_currency:
                raise SoqlError("INVALID_FIELD", "convertCurrency can only be used in an "
                                "organization with multiple currencies")
        return Expr(expr.func, name)

    query.items = [SelectItem(resolve(i.expr), i.alias) for i in query.items]
    query.group_by = [resolve(e) for e in query.group_by]
    if any(e.func == "convertcurrency" or e.func in AGGREGATES for e in query.group_by):
        raise SoqlError("MALFORMED_QUERY", "this function cannot be used in GROUP BY")
    for cond in query.where:
        cond.field = resolve(Expr(None, cond.field)).field
        kind = schema[cond.field]
        if kind == "anyType":
            raise SoqlError("INVALID_FIELD", f"field '{cond.field}' can not be filtered in "
                            "query call")
        for value in cond.values:
            _check_literal(cond.field, kind, value)
    if any(i.expr == Expr("count", "") for i in query.items) and len(query.items) > 1:
        raise SoqlError("MALFORMED_QUERY", "COUNT() must be the only element in the SELECT list")
    if query.group_by or any(i.expr.func in AGGREGATES for i in query.items):
        for item in query.items:
            if item.expr.func not in AGGREGATES and item.expr not in query.group_by:
                raise SoqlError("MALFORMED_QUERY",
                                f"Field must be grouped or aggregated: {item.expr.field}")
    elif any(i.expr.func in DATE_FUNCTIONS for i in query.items):
        raise SoqlError("MALFORMED_QUERY", "date functions need GROUP BY or an aggregate")
    return query


def _check_literal(name: str, kind: str, value: Value) -> None:
    if value is None:
        return
    ok = {"date": isinstance(value, dt.date) and not isinstance(value, dt.datetime),
          "datetime": isinstance(value, dt.datetime),
          "boolean": isinstance(value, bool),
          "currency": isinstance(value, int | float) and not isinstance(value, bool),
          }.get(kind, isinstance(value, str))
    if not ok:
        wanted = {"datetime": "dateTime", "currency": "double"}.get(kind, kind)
        raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{name}' must be "
                        f"of type {wanted} and should not be enclosed in quotes"
                        if kind in {"date", "datetime", "boolean", "currency"} else
                        f"value of filter criterion for field '{name}' must be of type string "
                        "and should be enclosed in quotes")


def _fold(value: Value) -> Value:
    return value.lower() if isinstance(value, str) else value


def _matches(row: dict[str, Value], cond: Cond) -> bool:
    """Whether ``row`` meets ``cond``; text compares case-insensitively, as in SOQL."""
    value = _fold(row[cond.field])
    if cond.op == "in":
        return value in [_fold(v) for v in cond.values]
    target = _fold(cond.values[0])
    if cond.op == "=":
        return value == target
    if cond.op == "!=":
        return value != target
    if value is None or target is None:
        return False
    return bool({"<": value < target, "<=": value <= target,  # type: ignore[operator]
                 ">": value > target, ">=": value >= target}[cond.op])  # type: ignore[operator]


def _eval(expr: Expr, row: dict[str, Value], rates: dict[str, float] | None = None) -> Value:
    value = row[expr.field]
    if expr.func is None or value is None:
        return value
    if expr.func == "convertcurrency":
        return _convert(row, value, rates)
    assert isinstance(value, dt.date)
    if expr.func == "day_only":  # UTC: convertTimezone() is not in the subset
        assert isinstance(value, dt.datetime)
        return value.astimezone(dt.UTC).date()
    if expr.func == "hour_in_day":
        assert isinstance(value, dt.datetime)
        return value.astimezone(dt.UTC).hour
    return value.month if expr.func == "calendar_month" else value.year


def _convert(row: dict[str, Value], value: Value, rates: dict[str, float] | None) -> Value:
    """A currency amount in the corporate currency (what aggregates and convertCurrency()
    give in a multi-currency org; the user's currency is the corporate one here)."""
    if rates is None or not isinstance(value, int | float):
        return value
    code = row.get("CurrencyIsoCode")
    return round(float(value) / rates[str(code)], 2)


def to_json(value: Value) -> Any:
    """A value as Salesforce serialises it: datetimes ``2024-04-18T09:12:44.000+0000``."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def run_soql(query: Soql, rows: list[dict[str, Value]], rates: dict[str, float] | None = None,
             currency_fields: frozenset[str] = frozenset(), max_groups: int = 2000) -> tuple[
        bool, list[dict[str, Any]], int]:
    """(is_aggregate, records as JSON, totalSize) of ``query`` over ``rows``. With ``rates``
    (a multi-currency org), aggregates of ``currency_fields`` are in the corporate currency."""
    kept = [r for r in rows if all(_matches(r, c) for c in query.where)]
    if [i.expr for i in query.items] == [Expr("count", "")]:
        if query.group_by:
            raise SoqlError("MALFORMED_QUERY", "COUNT() cannot be used with GROUP BY")
        return True, [], len(kept)
    aggregate = bool(query.group_by) or any(i.expr.func in AGGREGATES for i in query.items)
    if not aggregate:
        records = []
        for row in kept:
            rec: dict[str, Any] = {"attributes": {
                "type": query.obj, "url": f"{API}/sobjects/{query.obj}/{row['Id']}"}}
            for item in query.items:
                rec[item.alias or item.expr.field] = to_json(_eval(item.expr, row, rates))
            records.append(rec)
        return False, records, len(records)
    groups: dict[tuple[Value, ...], list[dict[str, Value]]] = {}
    for row in kept:
        groups.setdefault(tuple(_eval(e, row) for e in query.group_by), []).append(row)
    if not query.group_by:
        groups = {(): kept}
    if len(groups) > max_groups:
        raise SoqlError("MALFORMED_QUERY", "Aggregate query does not support queryMore(), use "
                        "LIMIT to restrict the results to a single batch")
    names = []
    counter = itertools.count()
    for item in query.items:
        if item.alias:
            names.append(item.alias)
        elif item.expr.func is None:
            names.append(item.expr.field)
        else:
            names.append(f"expr{next(counter)}")
    records = []
    for members in groups.values():
        rec = {"attributes": {"type": "AggregateResult"}}
        for name, item in zip(names, query.items, strict=True):
            expr = item.expr
            if expr.func == "count":
                rec[name] = (len(members) if not expr.field
                             else sum(1 for m in members if m[expr.field] is not None))
            elif expr.func in {"sum", "min", "max"}:
                values = [m[expr.field] for m in members if m[expr.field] is not None]
                if rates is not None and expr.field in currency_fields:
                    values = [float(m[expr.field]) / rates[str(m["CurrencyIsoCode"])]  # type: ignore[arg-type]
                              for m in members if m[expr.field] is not None]
                if not values:
                    rec[name] = None
                elif expr.func == "sum":
                    rec[name] = round(float(sum(values)), 2)  # type: ignore[arg-type]
                else:
                    pick = min if expr.func == "min" else max
                    rec[name] = to_json(pick(values))  # type: ignore[type-var]
            else:
                rec[name] = to_json(_eval(expr, members[0]))
        records.append(rec)
    return True, records, len(records)


# --- The fake ---------------------------------------------------------------------------------

class SalesforceFake:
    """The routes of a fake Salesforce org on ``server``."""

    def __init__(self, server: FakeServer, *, seed: int = 1, batch_size: int = 2000,
                 daily_limit: int = 100_000, api_usage: int = 0,
                 expire_after_calls: int | None = None,
                 consumer_key: str = CONSUMER_KEY, client_secret: str = CLIENT_SECRET,
                 username: str = USERNAME, refresh_token: str = REFRESH_TOKEN,
                 corporate_currency: str = "USD",
                 currencies: dict[str, float] | None = None, max_groups: int = 2000) -> None:
        self.server = server
        self.data = generate(seed)
        self.corporate_currency = corporate_currency
        self.max_groups = max_groups
        self.rates: dict[str, float] | None = None
        """Multi-currency org: ISO code → conversion rate (units per one of the corporate
        currency, as Salesforce's CurrencyType.ConversionRate); None: single currency."""
        self.schemas = {obj: dict(fields) for obj, fields in SCHEMA.items()}
        for org in self.data["Organization"]:
            org["DefaultCurrencyIsoCode"] = corporate_currency
        if currencies:
            self.rates = {corporate_currency: 1.0, **currencies}
            codes = sorted(self.rates)
            rnd = random.Random(seed * 7919 + 43)
            for obj in ("Opportunity", "Lead", "Account"):
                self.schemas[obj]["CurrencyIsoCode"] = "picklist"
                for row in self.data[obj]:
                    row["CurrencyIsoCode"] = rnd.choice(codes)
            # The object exists only in a multi-currency org (elsewhere: INVALID_TYPE).
            self.schemas["CurrencyType"] = {"Id": "id", "IsoCode": "picklist",
                                            "ConversionRate": "double", "IsCorporate": "boolean",
                                            "IsActive": "boolean"}
            self.data["CurrencyType"] = [
                {"Id": f"01LDn00000{n:04d}AAA", "IsoCode": code, "ConversionRate": rate,
                 "IsCorporate": code == corporate_currency, "IsActive": True}
                for n, (code, rate) in enumerate(sorted(self.rates.items()))]
        self.batch_size = batch_size
        self.daily_limit = daily_limit
        self.api_usage = api_usage
        self.expire_after_calls = expire_after_calls
        self.consumer_key = consumer_key
        self.client_secret = client_secret
        self.username = username
        self.refresh_token = refresh_token
        self.tokens: list[str] = []
        """Every access token issued, valid or not."""
        self.expired: set[str] = set()
        self.query_calls = 0
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._lock = threading.Lock()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kpireport fake connected app")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                            .public_key(key.public_key()).serial_number(x509.random_serial_number())
                            .not_valid_before(now - dt.timedelta(days=1))
                            .not_valid_after(now + dt.timedelta(days=365))
                            .sign(key, hashes.SHA256()))
        self.private_key_pem: bytes = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        """The connected app's private key: what a test's JWT assertion is signed with."""
        self.certificate_pem: bytes = self.certificate.public_bytes(serialization.Encoding.PEM)
        server.route("POST", "/services/oauth2/token", self.token)
        server.route("GET", f"{API}/query/?", self.query)  # simple-salesforce adds the slash
        server.route("GET", f"{API}/query/(?P<cursor>[^/]+)", self.query_more)
        server.route("GET", f"{API}/sobjects/(?P<obj>[A-Za-z_]+)/describe/?", self.describe)

    def records(self, obj: str) -> list[dict[str, Value]]:
        """The raw rows of ``obj`` (Lead, LeadHistory, Account, Opportunity, Organization),
        for a test's expectations. In a multi-currency org each row has ``CurrencyIsoCode``
        and its ``Amount`` is in that currency (divide by :attr:`rates` for the corporate's)."""
        return self.data[obj]

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired: the next call gets 401."""
        with self._lock:
            self.expired.update(self.tokens)

    def assertion(self, **claims: Any) -> str:
        """A JWT-bearer assertion signed with the fake's key (valid unless ``claims`` say
        otherwise): what a source builds from its key file."""
        body = {"iss": self.consumer_key, "sub": self.username, "aud": self.server.url,
                "exp": int(time.time()) + 180, **claims}
        return jwt.encode(body, self.private_key_pem, algorithm="RS256")

    # --- token --------------------------------------------------------------------------------

    def _limit_headers(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.daily_limit}"}

    def _grant_error(self, error: str, description: str) -> Reply:
        return Reply(status=400, body={"error": error, "error_description": description},
                     headers=self._limit_headers())

    def token(self, call: Call) -> Reply:
        form = call.form()
        auth = call.headers.get("Authorization", "")
        if auth.startswith("Basic "):  # client authentication in a header (simple-salesforce)
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return self._grant_error("invalid_client", "invalid client credentials")
            form = {**form, "client_id": client_id, "client_secret": secret}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if (form.get("client_id") != self.consumer_key
                    or form.get("client_secret") != self.client_secret):
                return self._grant_error("invalid_client", "invalid client credentials")
        elif grant == "refresh_token":
            if form.get("client_id") != self.consumer_key:
                return self._grant_error("invalid_client_id", "client identifier invalid")
            if "client_secret" in form and form["client_secret"] != self.client_secret:
                return self._grant_error("invalid_client", "invalid client credentials")
            if form.get("refresh_token") != self.refresh_token:
                return self._grant_error("invalid_grant", "expired access/refresh token")
        elif grant == JWT_GRANT:
            problem = self._check_assertion(form.get("assertion", ""))
            if problem:
                return self._grant_error(*problem)
        else:
            return self._grant_error("unsupported_grant_type", "grant type not supported")
        with self._lock:
            token = f"00DDn000000fake!AQ{len(self.tokens) + 1:04d}.{uuid.uuid4().hex}"
            self.tokens.append(token)
        return Reply(body={
            "access_token": token, "instance_url": self.server.url,
            "id": f"{self.server.url}/id/00DDn000000fake/005Dn000000user",
            "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
            "signature": "ZmFrZS1zaWduYXR1cmU=", "scope": "api"},
            headers=self._limit_headers())

    def _check_assertion(self, assertion: str) -> tuple[str, str] | None:
        public_key = self.certificate.public_key()
        try:
            claims = jwt.decode(assertion, public_key,  # type: ignore[arg-type]
                                algorithms=["RS256"],
                                options={"verify_exp": False, "verify_aud": False,
                                         "verify_iat": False, "verify_nbf": False})
        except jwt.InvalidTokenError:
            return "invalid_grant", "invalid assertion"
        if claims.get("iss") != self.consumer_key:
            return "invalid_client_id", "client identifier invalid"
        if claims.get("aud") not in {self.server.url, self.server.url + "/",
                                     "https://login.salesforce.com",
                                     "https://test.salesforce.com"}:
            return "invalid_grant", "audience is invalid"
        if claims.get("sub") != self.username:
            return "invalid_grant", "user hasn't approved this consumer"
        try:
            exp = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            return "invalid_grant", "invalid assertion"
        if exp < time.time():
            return "invalid_grant", "expired authorization code"
        return None

    # --- query --------------------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status=status, body=[{"message": message, "errorCode": code}],
                     headers=self._limit_headers())

    def _authorize(self, call: Call) -> Reply | None:
        auth = call.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        with self._lock:
            if token not in self.tokens or token in self.expired:
                return self._error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if self.api_usage >= self.daily_limit:
                return self._error(403, "REQUEST_LIMIT_EXCEEDED",
                                   f"TotalRequests Limit exceeded. ({self.daily_limit})")
            self.api_usage += 1
            self.query_calls += 1
            if self.expire_after_calls is not None and self.query_calls >= self.expire_after_calls:
                self.expired.update(self.tokens)
                self.expire_after_calls = None
        return None

    def _batch(self, records: list[dict[str, Any]], start: int, total: int) -> dict[str, Any]:
        end = start + self.batch_size
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(records),
                                "records": records[start:end]}
        if end < len(records):
            cursor = f"01gDn0000{uuid.uuid4().hex[:9]}"
            with self._lock:
                self._cursors[cursor] = (records, total)
            body["nextRecordsUrl"] = f"{API}/query/{cursor}-{end}"
        return body

    def query(self, call: Call) -> Reply:
        denied = self._authorize(call)
        if denied:
            return denied
        text = (call.query.get("q") or [""])[0]
        try:
            parsed = parse_soql(text, self.schemas, multi_currency=self.rates is not None)
            currency_fields = frozenset(name for name, kind in self.schemas[parsed.obj].items()
                                        if kind == "currency")
            aggregate, records, total = run_soql(parsed, self.data[parsed.obj], self.rates,
                                                 currency_fields, self.max_groups)
        except SoqlError as exc:
            return self._error(400, exc.code, exc.message)
        if aggregate:
            return Reply(body={"totalSize": total, "done": True, "records": records},
                         headers=self._limit_headers())
        return Reply(body=self._batch(records, 0, total), headers=self._limit_headers())

    def query_more(self, call: Call) -> Reply:
        denied = self._authorize(call)
        if denied:
            return denied
        cursor, _, start = call.path.rsplit("/", 1)[1].rpartition("-")
        with self._lock:
            found = self._cursors.get(cursor)
        if found is None or not start.isdigit():
            return self._error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, total = found
        return Reply(body=self._batch(records, int(start), total), headers=self._limit_headers())

    # --- describe -----------------------------------------------------------------------------

    def describe(self, call: Call) -> Reply:
        """``GET …/sobjects/{Object}/describe``: the object's fields, with picklist values."""
        denied = self._authorize(call)
        if denied:
            return denied
        wanted = call.path.rstrip("/").split("/")[-2]
        obj = {o.lower(): o for o in self.schemas}.get(wanted.lower())
        if obj is None:
            return self._error(404, "NOT_FOUND", "The requested resource does not exist")
        fields = []
        for name, kind in self.schemas[obj].items():
            values: tuple[str, ...] = PICKLISTS.get((obj, name), ())
            if name == "CurrencyIsoCode" and self.rates:
                values = tuple(sorted(self.rates))
            if name == "DefaultCurrencyIsoCode":
                values = (self.corporate_currency,)
            fields.append({
                "name": name, "label": name.removesuffix("__c").replace("_", " "),
                "type": {"datetime": "datetime", "id": "id"}.get(kind, kind),
                "custom": name.endswith("__c"), "nillable": kind not in {"id", "boolean"},
                "filterable": kind != "anyType", "groupable": kind not in {"anyType",
                                                                           "currency"},
                "picklistValues": [{"value": v, "label": v, "active": True,
                                    "defaultValue": False, "validFor": None} for v in values]})
        return Reply(body={"name": obj, "label": obj, "custom": False, "queryable": True,
                           "keyPrefix": PREFIX.get(obj), "fields": fields,
                           "urls": {"describe": f"{API}/sobjects/{obj}/describe"}},
                     headers=self._limit_headers())
