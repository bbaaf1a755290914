"""Objective maths: SMART objectives assessed for a period, SMART review, OKR scores.

**Level objectives** ("reach 150 qualified leads a month by December") compare the KPI's value
for one calendar month with the target (:func:`level_period`): the report's month; for a
quarter, a year or month to date or a range, the last month it covers in full; once the
deadline has passed, the deadline's month. **Cumulative objectives** ("1 000 new customers in
2026") compare the total from the objective's start to the period's end (or the deadline, if
earlier); their baseline defaults to 0. Key results are judged like level objectives.

``direction`` is the objective's own, else *increase* for a KPI where higher is better and
*decrease* otherwise. The target is **met** when value ≥ target (increase) or value ≤ target
(decrease).

Figures, all evaluated on the period's last day (days counted inclusively, both ends):

- ``progress`` = (value − baseline) / (target − baseline): 0 at the baseline, 1 at the target
  (may exceed 1 or be negative). When target = baseline it is 1.0 if met, else 0.0.
- ``expected_progress`` = days elapsed since the start ÷ days from start to deadline, clamped
  to 0..1; ``expected`` = baseline + (target − baseline) × expected_progress, i.e. the value on a
  straight path from the baseline (on the start day) to the target (on the deadline).
- ``forecast`` at the deadline: cumulative → run rate, value ÷ days elapsed × days of the whole
  objective; level → the value, plus the slope of the least-squares line through the monthly
  values from the month before the start to the period's month (three values at least,
  otherwise no slope) times the months from the period's month to the deadline's.
- ``required_rate``: (target − value) ÷ months left, where months left counts the calendar
  months from the day after the period to the deadline, a month partly left by its share of
  days (at least 1). For
  a cumulative objective it is what each remaining month must bring, for a level one what the
  KPI must gain (negative: lose) each month. None once met, past the deadline or without one.
  A level judged on a whole month counts the months after that month (October's value needs
  the same in a year to date stopping on 24 November as in October's report); a report's
  totals count from its reference day (:func:`reference_day`).
- ``days_left`` = deadline − period end, in days, never below 0.

Status, first rule that applies:

1. **no data** without a value, or when the objective starts after the period;
2. period ends on or after the deadline → **achieved** if met, else **missed**;
3. target already met → **achieved** (a level reached counts, even before the deadline);
4. no deadline → **at risk** if progress ≥ 0.5, else **off track** (and the SMART note
   "not time-bound: no deadline");
5. forecast meets the target → **on track**;
6. progress ≥ 90 % of the expected progress, or a forecast at least 90 % of the way from the
   baseline to the target → **at risk**;
7. otherwise **off track**.

A *cumulative decrease* objective is a cap ("fewer than 100 complaints in 2026"): the total only
grows, so being under the cap before the deadline proves nothing. It is **missed** as soon as
the total exceeds the cap, **achieved** if under it at the deadline, and before that **on
track** when the run-rate forecast stays under the cap, **at risk** when the forecast exceeds
it by at most 1/0.9 (≈ 11 %), **off track** beyond. It has no ``required_rate``.

**SMART review** (:func:`smart_problems`): no deadline → *time-bound* warning; a deadline not
after the start → *time-bound* error; no source → *measurable* error; a cumulative goal on a
KPI that does not add up → *measurable* error; target equal to the baseline → *specific*
warning; target on the wrong side of the baseline → *specific* error (a warning when the
baseline is only inferred from history). **Achievable**: with at least six monthly values of
history before the start, the compound monthly growth the objective needs is compared with the
best the client achieved over any window of the same length (or the longest available); it is
flagged when needed > max(2 × best, best + 10 points). A level objective needs
(target / baseline)^(1/months) − 1; a cumulative one the growth rate *g* at which months of
recent-level × (1 + g)^k, k = 1…months, add up to the target (recent level: mean of the last
three months). Decreases are judged the same way on the decline.

**Key results** score 0.0–1.0: *increase*/*decrease* → share of the way from start to target,
clamped (when start = target: 1.0 if met, else 0.0); *stay_above*/*stay_below* → 1.0 while
the value — and the worst value of the OKR's window, when given — holds the line; otherwise
the share of the way from start to target of the worse of the two, clamped (0.0 when the
start was already on the right side of the line). An OKR's score is the weighted mean of the
scores of the key results that have one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kpireport.config import KeyResultConfig, ObjectiveConfig, OkrConfig
from kpireport.kpis import Direction, SeriesPoint
from kpireport.periods import Period, add_months, month_range, months_between, resolve
from kpireport.report import Assessment, KeyResultScore, OkrScore, Status

TOLERANCE = 0.9
"""How close to the expected path (or forecast) still counts as *at risk* rather than off track."""
DAYS_PER_MONTH = 30.44
MIN_HISTORY = 6
"""Monthly values of history needed before judging whether a target is realistic."""
MIN_TREND_POINTS = 3
RECENT_MONTHS = 3
"""Months averaged for a cumulative objective's starting pace (smooths a single odd month)."""


def direction_of(objective: ObjectiveConfig, kpi_direction: Direction) -> str:
    """The objective's direction: its own, else the KPI's (higher is better → increase)."""
    if objective.direction:
        return objective.direction
    return "increase" if kpi_direction is Direction.HIGHER else "decrease"


def is_met(value: float, target: float, direction: str) -> bool:
    return value >= target if direction == "increase" else value <= target


def progress_of(value: float | None, baseline: float | None, target: float,
                direction: str) -> float | None:
    """Share of the way from baseline to target (None without a value or a baseline)."""
    if value is None or baseline is None:
        return None
    if target == baseline:
        return 1.0 if is_met(value, target, direction) else 0.0
    return (value - baseline) / (target - baseline)


def level_period(period: Period, deadline: dt.date | None = None) -> Period:
    """The calendar month a level objective (or a key result) is judged on in ``period``.

    Its target is a monthly level: a one-month report is judged on its month, a longer or a
    partial one (quarter, year or month to date, range, a month whose data stops before its
    end) on the last whole month it reaches,
    and an objective whose deadline has passed on the deadline's month, where it was won
    or lost.
    """
    if deadline is not None and deadline < period.end:
        month = deadline.replace(day=1)
    elif period.kind == "month" and not period.partial:
        return period
    else:
        end = period.end
        month = end.replace(day=1)
        if end != add_months(month, 1) - dt.timedelta(days=1):
            month = add_months(month, -1)  # the last month the period covers in full
    return resolve(f"{month:%Y-%m}", month)


def assess(objective: ObjectiveConfig, *, key: str, title: str, kpi_direction: Direction,
           period: Period, value: float | None, baseline: float | None,
           monthly: Sequence[SeriesPoint]) -> Assessment:
    """Evaluate one SMART objective at the end of ``period`` (rules in the module's docstring).

    ``value`` is the KPI's value in the period (level) or the total since the start (cumulative);
    ``monthly`` the KPI's monthly series, used for a level objective's trend.
    """
    direction = direction_of(objective, kpi_direction)
    cumulative = objective.kind == "cumulative"
    if cumulative and baseline is None:
        baseline = 0.0
    target, start, deadline = objective.target, objective.start, objective.deadline
    end = period.end
    a = Assessment(key=key, title=title, kpi=objective.kpi, kind=objective.kind,
                   direction=direction, baseline=baseline, target=target, start=start,
                   deadline=deadline, value=value, status=Status.NO_DATA)
    a.progress = progress_of(value, baseline, target, direction)
    if deadline is None:
        a.smart.append("not time-bound: no deadline")
    else:
        a.days_left = max(0, (deadline - end).days)
        total_days = (deadline - start).days + 1
        elapsed = min(max((end - start).days + 1, 0), total_days)
        a.expected_progress = elapsed / total_days if total_days > 0 else 1.0
        if baseline is not None:
            a.expected = baseline + (target - baseline) * a.expected_progress
    if value is None:
        return a
    if end < start:  # not started by the end of the period: nothing to judge yet
        a.progress = None
        return a

    if deadline is not None:
        if cumulative:
            elapsed_days = (min(end, deadline) - start).days + 1
            total_days = (deadline - start).days + 1
            a.forecast = value / elapsed_days * total_days if elapsed_days > 0 else None
        else:
            a.forecast = _trend_forecast(monthly, start, end, deadline, value)

    cap = cumulative and direction == "decrease"
    met = is_met(value, target, direction)
    if deadline is not None and end < deadline and not met and not cap:
        a.required_rate = (target - value) / months_left(end, deadline)

    if cap:
        a.status = _cap_status(value, target, a.forecast, end, deadline)
    elif deadline is not None and end >= deadline:
        a.status = Status.ACHIEVED if met else Status.MISSED
    elif met:
        a.status = Status.ACHIEVED
    elif deadline is None:
        a.status = Status.AT_RISK if (a.progress or 0.0) >= 0.5 else Status.OFF_TRACK
    elif a.forecast is not None and is_met(a.forecast, target, direction):
        a.status = Status.ON_TRACK
    else:
        forecast_progress = progress_of(a.forecast, baseline, target, direction)
        near_path = (a.progress is not None and a.expected_progress is not None
                     and a.progress >= TOLERANCE * a.expected_progress)
        near_forecast = forecast_progress is not None and forecast_progress >= TOLERANCE
        a.status = Status.AT_RISK if near_path or near_forecast else Status.OFF_TRACK
    return a


def reference_day(period_end: dt.date,
                  running: Iterable[tuple[dt.date, dt.date | None, bool]]) -> dt.date:
    """The one day a report's objectives are counted from (days left, a total's expected
    value and need per remaining month; a level judged on a whole month counts its need
    from the month after it): the data's last day when it stops before the period's end.

    ``running`` gives each objective's data end, deadline and whether it is a total
    (cumulative). A total is judged to its data's last day, so the earliest such day among
    the totals still running is the one; without one, level objectives are judged on whole
    months, and the latest day with data counts. A year to date on 1 December whose CRM
    stops on 24 November counts from the 24th; an objective whose deadline passed before its
    data ends plays no part; data covering the whole period gives the period's end."""
    live = [(end, total) for end, deadline, total in running
            if deadline is None or deadline > end]
    totals = [end for end, total in live if total]
    if totals:
        return min([period_end, *totals])
    return min(period_end, max((end for end, _ in live), default=period_end))


def months_left(end: dt.date, deadline: dt.date) -> float:
    """Months from the day after ``end`` to ``deadline``, each calendar month counted by the
    share of its days left (at least 1).

    Counted on the calendar rather than days ÷ 30.44, whose ceiling made 1 November to
    31 December (61 days) three months; a month partly gone counts for what is left of it,
    so that a year-to-date report of 13 November does not spread what is needed over all
    of November.
    """
    months = months_between(end + dt.timedelta(days=1), deadline)
    return max(1.0, sum(m.days / month_range(m.start.year, m.start.month).days for m in months))


def _cap_status(value: float, cap: float, forecast: float | None, end: dt.date,
                deadline: dt.date | None) -> Status:
    # A total only grows: over the cap is final, under it is only proven at the deadline.
    if value > cap:
        return Status.MISSED
    if deadline is None or end >= deadline:
        return Status.ACHIEVED if deadline is not None else Status.AT_RISK
    if forecast is None or forecast <= cap:
        return Status.ON_TRACK
    return Status.AT_RISK if forecast * TOLERANCE <= cap else Status.OFF_TRACK


def _trend_forecast(monthly: Sequence[SeriesPoint], start: dt.date, end: dt.date,
                    deadline: dt.date, value: float) -> float:
    first = add_months(start.replace(day=1), -1)
    last = end.replace(day=1)
    points = [(float(_month_index(p.start)), p.value) for p in monthly
              if p.value is not None and first <= p.start <= last]
    if len(points) < MIN_TREND_POINTS:
        return value
    # From where the KPI is, at the trend's pace: the fitted line's own value at the
    # deadline could lie below a month that has just beaten it (78 leads now, "54 expected").
    slope, _ = _least_squares(points)
    return value + slope * max(0, _month_index(deadline.replace(day=1)) - _month_index(last))


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _least_squares(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through ``points``."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0, my
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope, my - slope * mx


# --- SMART review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SmartProblem:
    """One way an objective fails SMART.

    ``criterion`` is ``specific``, ``measurable``, ``achievable``, ``relevant`` or
    ``time-bound``; ``severity`` ``error`` (``kpireport validate`` fails) or ``warning``.
    """

    criterion: str
    severity: str
    message: str


def smart_problems(objective: ObjectiveConfig, *, measurable: bool,
                   not_measurable_reason: str | None, additive: bool,
                   history: Sequence[SeriesPoint], direction: str) -> list[SmartProblem]:
    """Check an objective against SMART (rules in the module's docstring).

    ``history`` holds the KPI's monthly values before the objective's start, oldest first
    (values may be None); ``direction`` is the objective's effective direction.
    """
    out: list[SmartProblem] = []
    if not measurable:
        out.append(SmartProblem("measurable", "error",
                                f"not measurable: {not_measurable_reason or 'no source'}"))
    if objective.kind == "cumulative" and not additive:
        out.append(SmartProblem("measurable", "error",
                                "not measurable as a total: a cumulative goal needs a KPI that "
                                "adds up (a count or an amount)"))
    if objective.deadline is None:
        out.append(SmartProblem("time-bound", "warning", "not time-bound: no deadline"))
    elif objective.deadline <= objective.start:
        out.append(SmartProblem("time-bound", "error",
                                f"deadline {objective.deadline} is not after start "
                                f"{objective.start}"))
    out.extend(_specific(objective, history, direction))
    if objective.deadline is not None and objective.deadline > objective.start:
        problem = _unrealistic(objective, history, direction)
        if problem:
            out.append(problem)
    return out


def _specific(objective: ObjectiveConfig, history: Sequence[SeriesPoint],
              direction: str) -> list[SmartProblem]:
    target = objective.target
    if objective.kind == "cumulative":
        # A cap (decrease) is judged against the cap alone; a total starts from 0 by default.
        if direction == "decrease":
            return []
        baseline, inferred = (objective.baseline or 0.0), False
    elif objective.baseline is not None:
        baseline, inferred = objective.baseline, False
    else:
        # The engine's default baseline: the KPI's value in the month before the start.
        before = add_months(objective.start.replace(day=1), -1)
        found = next((p.value for p in history if p.start == before), None)
        if found is None:
            return []
        baseline, inferred = found, True
    if target == baseline:
        return [SmartProblem("specific", "warning",
                             f"target equals the baseline ({_num(baseline)})")]
    if (target > baseline) == (direction == "increase"):
        return []
    side = "below" if direction == "increase" else "above"
    if inferred:
        return [SmartProblem("specific", "warning",
                             f"target {_num(target)} already met: the KPI was {_num(baseline)} "
                             f"the month before the start")]
    return [SmartProblem("specific", "error",
                         f"direction is {direction} but the target {_num(target)} is {side} "
                         f"the baseline {_num(baseline)}")]


def _unrealistic(objective: ObjectiveConfig, history: Sequence[SeriesPoint],
                 direction: str) -> SmartProblem | None:
    points = [(_month_index(p.start), p.value) for p in history if p.value is not None]
    if len(points) < MIN_HISTORY or objective.deadline is None:
        return None
    months = objective_months(objective.start, objective.deadline)
    sign = 1 if direction == "increase" else -1
    best = _best_growth(points, months, sign)
    if best is None:
        return None
    if objective.kind == "cumulative":
        recent = [v for _, v in points[-RECENT_MONTHS:]]
        level = sum(recent) / len(recent)
        needed_total = objective.target - (objective.baseline or 0.0)
        if level <= 0 or needed_total <= 0:
            return None
        required = _growth_for_total(level, needed_total, months)
        what = (f"needs {_num(needed_total / months)} a month on average for {months} months, "
                f"{_pct(required)} a month from {_num(level)} now")
    else:
        start_value = objective.baseline if objective.baseline is not None else points[-1][1]
        if start_value <= 0 or objective.target <= 0:
            return None
        required = (objective.target / start_value) ** (1 / months) - 1
        what = (f"needs {_pct(required)} a month for {months} months "
                f"({_num(start_value)} → {_num(objective.target)})")
    # Judged on the change in the objective's direction: a decline is a "gain" for decrease.
    needed, record = sign * required, sign * best
    if needed <= 0 or needed <= max(2 * record, record + 0.10):
        return None
    covered = points[-1][0] - points[0][0] + 1
    return SmartProblem("achievable", "warning",
                        f"unrealistic: {what}; best in the last {covered} months was "
                        f"{_pct(best)} a month")


def objective_months(start: dt.date, deadline: dt.date) -> int:
    """The objective's length in whole months (at least 1): 1 Jan to 31 Dec is 12."""
    return max(1, round(((deadline - start).days + 1) / DAYS_PER_MONTH))


def _best_growth(points: Sequence[tuple[int, float]], months: int, sign: int) -> float | None:
    """Best compound monthly change over any window of ``months`` (or the longest available);
    the highest for an increase, the lowest (steepest decline) for a decrease."""
    by_month = dict(points)
    span = min(months, points[-1][0] - points[0][0])
    if span < 1:
        return None
    rates = []
    for m, a in points:
        b = by_month.get(m + span)
        if b is not None and a > 0 and b > 0:
            rates.append((b / a) ** (1 / span) - 1)
    if not rates:
        return None
    return max(rates) if sign > 0 else min(rates)


def _growth_for_total(level: float, total: float, months: int) -> float:
    """The compound monthly growth g at which level × (1+g)^k, k = 1…months, sums to total."""
    def total_at(g: float) -> float:
        return sum(level * (1 + g) ** k for k in range(1, months + 1))

    lo, hi = -0.99, 10.0
    if total_at(hi) < total:
        return hi
    if total_at(lo) > total:
        return lo
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if total_at(mid) < total else (lo, mid)
    return (lo + hi) / 2


def _num(value: float) -> str:
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _pct(rate: float) -> str:
    return f"{rate * 100:+.1f} %"


# --- OKRs ------------------------------------------------------------------------------------


def score_key_result(kr: KeyResultConfig, value: float | None,
                     worst: float | None = None) -> float | None:
    """A key result's score from 0.0 to 1.0 (None without a value).

    ``worst`` is the worst value seen in the OKR's window (lowest for stay_above, highest for
    stay_below): holding the line means never breaking it, not just at the end.
    """
    if value is None:
        return None
    if kr.direction in ("stay_above", "stay_below"):
        above = kr.direction == "stay_above"
        held = [v for v in (value, worst) if v is not None]
        if all((v >= kr.target) if above else (v <= kr.target) for v in held):
            return 1.0
        # Partial credit only makes sense when the start was short of the line.
        if (kr.start >= kr.target) if above else (kr.start <= kr.target):
            return 0.0
        worse = min(held) if above else max(held)
        return _clamp(_share(worse, kr.start, kr.target))
    if kr.start == kr.target:  # no way to cover: the line is met in its direction, or not
        met = value >= kr.target if kr.direction == "increase" else value <= kr.target
        return 1.0 if met else 0.0
    return _clamp(_share(value, kr.start, kr.target))


def _share(value: float, start: float, target: float) -> float:
    if target == start:
        return 1.0 if value == target else 0.0
    return (value - start) / (target - start)


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def score_okr(okr: OkrConfig, key: str, values: Mapping[int, float | None],
              worsts: Mapping[int, float | None]) -> OkrScore:
    """Score each key result (``values``/``worsts`` indexed as in the config) and the OKR.

    Empty key-result titles stay empty: the engine fills them with the KPI's label.
    """
    scores = []
    for i, kr in enumerate(okr.key_results):
        value = values.get(i)
        scores.append(KeyResultScore(kpi=kr.kpi, title=kr.title or "", direction=kr.direction,
                                     start=kr.start, target=kr.target, weight=kr.weight,
                                     value=value,
                                     score=score_key_result(kr, value, worsts.get(i))))
    weighted = [(s.score, s.weight) for s in scores if s.score is not None]
    weight = sum(w for _, w in weighted)
    total = sum(s * w for s, w in weighted) / weight if weighted and weight else None
    return OkrScore(key=key, objective=okr.objective, key_results=scores, score=total)
