import datetime as dt

import pytest

from kpireport.config import KeyResultConfig, ObjectiveConfig, OkrConfig
from kpireport.kpis import Direction, SeriesPoint
from kpireport.objectives import (
    SmartProblem,
    assess,
    score_key_result,
    score_okr,
    smart_problems,
)
from kpireport.periods import add_months, resolve
from kpireport.report import Status

TODAY = dt.date(2026, 11, 25)
OCT = resolve("2026-10", TODAY)
DEC = resolve("2026-12", dt.date(2027, 1, 5))
JAN1, DEC31 = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
ELAPSED = 304 / 365  # 1 January to 31 October, both days counted, out of 365


def objective(**kw) -> ObjectiveConfig:
    fields = {"kpi": "leads", "target": 150, "baseline": 100, "start": JAN1, "deadline": DEC31}
    return ObjectiveConfig(**{**fields, **kw})


def line(first: float, step: float, start: dt.date = dt.date(2025, 12, 1),
         until: dt.date = dt.date(2026, 10, 1)) -> list[SeriesPoint]:
    """Monthly points from ``start`` to ``until``, rising by ``step`` each month."""
    out, month, value = [], start, first
    while month <= until:
        out.append(SeriesPoint(start=month, value=value))
        month, value = add_months(month, 1), value + step
    return out


def run(obj: ObjectiveConfig, value: float | None, *, period=OCT, baseline="from-config",
        monthly=(), kpi_direction=Direction.HIGHER):
    return assess(obj, key="k", title="Leads", kpi_direction=kpi_direction, period=period,
                  value=value, baseline=obj.baseline if baseline == "from-config" else baseline,
                  monthly=list(monthly))


# --- Level objectives ------------------------------------------------------------------------


def test_level_on_track_by_trend():
    # December 2025 = 100, +4.5 a month: October 145, the trend reaches 154 in December.
    a = run(objective(), 145, monthly=line(100, 4.5))
    assert a.direction == "increase"
    assert a.progress == pytest.approx(0.9)
    assert a.forecast == pytest.approx(154)
    assert a.status is Status.ON_TRACK
    assert a.days_left == 61
    assert a.required_rate == pytest.approx((150 - 145) / 2)  # November and December
    assert a.smart == []


def test_level_expected_by_now_is_a_straight_path_in_days():
    a = run(objective(), 145, monthly=line(100, 4.5))
    assert a.expected_progress == pytest.approx(ELAPSED)
    assert a.expected == pytest.approx(100 + 50 * ELAPSED)  # 141.64


def test_level_at_risk_when_close_to_the_expected_path():
    # +3.8 a month: October 138 (progress 0.76 ≥ 0.9 × 0.833), trend 145.6 in December.
    a = run(objective(), 138, monthly=line(100, 3.8))
    assert a.forecast == pytest.approx(145.6)
    assert a.progress == pytest.approx(0.76)
    assert a.progress >= 0.9 * a.expected_progress
    assert a.status is Status.AT_RISK


def test_level_off_track():
    # +3.5 a month: October 135 (progress 0.70 < 0.75), trend 142 (84 % of the way).
    a = run(objective(), 135, monthly=line(100, 3.5))
    assert a.forecast == pytest.approx(142)
    assert a.status is Status.OFF_TRACK
    assert a.required_rate == pytest.approx(7.5)


def test_level_trend_only_uses_months_from_the_month_before_the_start():
    # A steep fall long before the start does not weigh on the trend.
    history = line(500, -50, start=dt.date(2025, 1, 1), until=dt.date(2025, 11, 1))
    a = run(objective(), 145, monthly=history + line(100, 4.5))
    assert a.forecast == pytest.approx(154)


def test_level_forecast_goes_on_from_the_value_at_the_trends_pace():
    # A month well above a flat history: forecast from it, not from the fitted line (~102).
    history = [*line(100, 0, until=dt.date(2026, 9, 1)), SeriesPoint(start=dt.date(2026, 10, 1),
                                                                     value=130)]
    a = run(objective(), 130, monthly=history)
    slope = 30 * (10 - 5) / sum((i - 5) ** 2 for i in range(11))  # least squares, months 0..10
    assert a.forecast == pytest.approx(130 + 2 * slope)
    assert a.forecast > 130
    # Past the deadline the forecast is the value the objective was judged on.
    done = run(objective(deadline=dt.date(2026, 9, 30)), 120, monthly=line(100, 5))
    assert done.forecast == 120


def test_level_forecast_falls_back_to_the_value_with_few_points():
    a = run(objective(), 120, monthly=line(110, 5, start=dt.date(2026, 9, 1)))
    assert a.forecast == 120
    assert a.status is Status.OFF_TRACK


def test_level_reached_before_the_deadline_is_achieved():
    a = run(objective(), 155, monthly=line(100, 5))
    assert a.status is Status.ACHIEVED
    assert a.required_rate is None
    assert a.progress == pytest.approx(1.1)


def test_level_at_the_deadline_achieved_or_missed():
    assert run(objective(), 150, period=DEC).status is Status.ACHIEVED
    missed = run(objective(), 149, period=DEC, monthly=line(100, 10, until=dt.date(2026, 12, 1)))
    assert missed.status is Status.MISSED  # a rising trend no longer matters
    assert missed.days_left == 0
    assert missed.required_rate is None
    assert missed.expected_progress == 1.0 and missed.expected == 150


def test_no_data():
    a = run(objective(), None, monthly=line(100, 5))
    assert a.status is Status.NO_DATA
    assert a.progress is None and a.forecast is None and a.required_rate is None
    # The schedule is still known.
    assert a.days_left == 61 and a.expected == pytest.approx(100 + 50 * ELAPSED)


def test_without_baseline_progress_is_unknown():
    a = run(objective(baseline=None), 120, monthly=line(100, 1))
    assert a.baseline is None and a.progress is None and a.expected is None
    assert a.forecast == pytest.approx(122)  # 120 in October, +1 a month
    assert a.status is Status.OFF_TRACK  # neither the path nor the forecast can be judged


def test_expected_is_clamped_before_the_start_and_after_the_deadline():
    later = objective(start=dt.date(2027, 1, 1), deadline=dt.date(2027, 12, 31))
    a = run(later, 100)
    assert a.expected_progress == 0.0 and a.expected == 100
    past = run(objective(deadline=dt.date(2026, 6, 30)), 140)
    assert past.expected_progress == 1.0 and past.status is Status.MISSED
    assert past.days_left == 0


def test_an_objective_that_starts_after_the_period_is_not_judged_yet():
    later = objective(start=dt.date(2027, 1, 1), deadline=dt.date(2027, 12, 31))
    for value in (90, 100, 160):
        a = run(later, value)
        assert (a.status, a.progress, a.required_rate) == (Status.NO_DATA, None, None)


def test_without_deadline():
    obj = objective(deadline=None)
    half = run(obj, 130)
    assert half.status is Status.AT_RISK  # progress 0.6
    assert half.smart == ["not time-bound: no deadline"]
    assert half.days_left is None and half.expected is None and half.forecast is None
    assert half.required_rate is None
    assert run(obj, 110).status is Status.OFF_TRACK  # progress 0.2
    assert run(obj, 150).status is Status.ACHIEVED


# --- Decrease --------------------------------------------------------------------------------


def test_decrease_from_the_kpi_direction():
    # Sales cycle from 40 days to 30: December 2025 41 days, one day shorter each month.
    obj = objective(kpi="sales_cycle", baseline=40, target=30)
    a = run(obj, 31, monthly=line(41, -1), kpi_direction=Direction.LOWER)
    assert a.direction == "decrease"
    assert a.progress == pytest.approx(0.9)
    assert a.expected == pytest.approx(40 - 10 * ELAPSED)
    assert a.forecast == pytest.approx(29)
    assert a.status is Status.ON_TRACK
    assert a.required_rate == pytest.approx(-0.5)  # lose half a day a month


def test_decrease_at_risk_off_track_achieved():
    obj = objective(kpi="sales_cycle", baseline=40, target=30)
    slow = run(obj, 32, monthly=line(40, -0.8), kpi_direction=Direction.LOWER)
    assert slow.forecast == pytest.approx(30.4)
    assert slow.status is Status.AT_RISK  # progress 0.8
    stuck = run(obj, 38, monthly=line(40, -0.2), kpi_direction=Direction.LOWER)
    assert stuck.status is Status.OFF_TRACK
    assert run(obj, 29, kpi_direction=Direction.LOWER).status is Status.ACHIEVED
    assert run(obj, 31, period=DEC, kpi_direction=Direction.LOWER).status is Status.MISSED


def test_objective_direction_overrides_the_kpi():
    a = run(objective(direction="increase"), 155, kpi_direction=Direction.LOWER)
    assert a.direction == "increase" and a.status is Status.ACHIEVED


# --- Cumulative ------------------------------------------------------------------------------


def cumulative(**kw) -> ObjectiveConfig:
    return objective(**{"kind": "cumulative", "target": 1000, "baseline": None, **kw})


def test_cumulative_forecast_by_run_rate_on_track():
    a = run(cumulative(), 912)
    assert a.baseline == 0.0  # defaults to 0
    assert a.forecast == pytest.approx(912 / 304 * 365)  # 1095.0
    assert a.forecast == pytest.approx(1095.0)
    assert a.status is Status.ON_TRACK
    assert a.progress == pytest.approx(0.912)
    assert a.expected == pytest.approx(1000 * ELAPSED)  # 832.9
    assert a.days_left == 61
    assert a.required_rate == pytest.approx(44)  # 88 still to bring over two months


def test_cumulative_behind_is_off_track():
    a = run(cumulative(), 700)
    assert a.forecast == pytest.approx(840.46, abs=0.01)
    # Progress 0.70 < 0.9 × 0.833 and the forecast is 84 % of the way.
    assert a.status is Status.OFF_TRACK
    assert a.required_rate == pytest.approx(150)


def test_cumulative_slightly_behind_is_at_risk():
    a = run(cumulative(), 780)  # progress 0.78 ≥ 0.75
    assert a.forecast == pytest.approx(780 / 304 * 365)
    assert a.status is Status.AT_RISK


def test_cumulative_total_reached_early_is_achieved():
    a = run(cumulative(), 1004)
    assert a.status is Status.ACHIEVED and a.required_rate is None


def test_cumulative_with_a_baseline():
    a = run(cumulative(), 912, baseline=200.0)
    assert a.progress == pytest.approx(712 / 800)
    assert a.expected == pytest.approx(200 + 800 * ELAPSED)


def test_cumulative_cap_is_only_kept_at_the_deadline():
    # "Fewer than 100 complaints in 2026": under the cap in October proves nothing yet.
    cap = objective(kind="cumulative", target=100, baseline=None, direction="decrease")
    ok = run(cap, 80)
    assert ok.forecast == pytest.approx(80 / 304 * 365)  # 96.1
    assert ok.status is Status.ON_TRACK
    assert ok.required_rate is None
    assert run(cap, 90).status is Status.AT_RISK  # forecast 108, within 1/0.9 of the cap
    assert run(cap, 95).status is Status.OFF_TRACK  # forecast 114
    assert run(cap, 101).status is Status.MISSED  # over the cap: final
    assert run(cap, 99, period=DEC).status is Status.ACHIEVED


# --- SMART review ----------------------------------------------------------------------------


def problems(obj: ObjectiveConfig, *, measurable=True, reason=None, additive=True, history=(),
             direction="increase") -> list[SmartProblem]:
    return smart_problems(obj, measurable=measurable, not_measurable_reason=reason,
                          additive=additive, history=list(history), direction=direction)


def test_a_good_objective_has_no_problems():
    assert problems(objective()) == []


def test_not_time_bound():
    assert problems(objective(deadline=None)) == [
        SmartProblem("time-bound", "warning", "not time-bound: no deadline")]


def test_deadline_before_start_is_an_error():
    # The config refuses it; a model built without validation still gets the error.
    obj = ObjectiveConfig.model_construct(kpi="leads", target=150, baseline=100, start=DEC31,
                                          deadline=JAN1, kind="level", direction=None)
    [p] = problems(obj)
    assert (p.criterion, p.severity) == ("time-bound", "error")
    assert "2026-01-01" in p.message and "2026-12-31" in p.message


def test_not_measurable():
    [p] = problems(objective(), measurable=False, reason="no source serves this KPI")
    assert (p.criterion, p.severity) == ("measurable", "error")
    assert p.message == "not measurable: no source serves this KPI"


def test_cumulative_needs_an_additive_kpi():
    [p] = problems(cumulative(), additive=False)
    assert (p.criterion, p.severity) == ("measurable", "error")
    assert problems(cumulative(), additive=True) == []
    assert problems(objective(), additive=False) == []  # a level of a rate is fine


def test_target_equal_to_baseline():
    [p] = problems(objective(target=100))
    assert (p.criterion, p.severity) == ("specific", "warning")
    assert "100" in p.message


def test_target_on_the_wrong_side_of_the_baseline():
    [p] = problems(objective(target=90))
    assert (p.criterion, p.severity) == ("specific", "error")
    assert "90" in p.message and "100" in p.message and "increase" in p.message
    [q] = problems(objective(target=45, baseline=40), direction="decrease")
    assert (q.criterion, q.severity) == ("specific", "error")
    assert "45" in q.message and "40" in q.message
    assert problems(objective(target=30, baseline=40), direction="decrease") == []


def test_target_already_met_against_the_inferred_baseline():
    # No baseline in the config: the month before the start stands in, and a miss is a warning.
    history = [SeriesPoint(start=dt.date(2025, 11, 1), value=150),
               SeriesPoint(start=dt.date(2025, 12, 1), value=160)]
    [p] = problems(objective(baseline=None), history=history)
    assert (p.criterion, p.severity) == ("specific", "warning")
    assert "150" in p.message and "160" in p.message


def growing(first: float, rate: float, months: int = 24, end=dt.date(2025, 12, 1)):
    start = add_months(end, -(months - 1))
    return [SeriesPoint(start=add_months(start, i),
                        value=first * (1 + rate) ** i) for i in range(months)]


def test_unrealistic_level_growth_is_flagged_with_figures():
    # 24 months at +1 % a month; doubling in six months needs +12.2 % a month.
    history = growing(100, 0.01)
    baseline = history[-1].value
    obj = objective(baseline=baseline, target=2 * baseline, deadline=dt.date(2026, 6, 30))
    [p] = problems(obj, history=history)
    assert (p.criterion, p.severity) == ("achievable", "warning")
    assert p.message.startswith("unrealistic: needs +12.2 % a month for 6 months")
    assert "best in the last 24 months was +1.0 % a month" in p.message


def test_realistic_level_growth_is_not_flagged():
    history = growing(100, 0.01)
    baseline = history[-1].value
    # +2 % a month for 12 months: within twice the record... and the record plus 10 points.
    obj = objective(baseline=baseline, target=baseline * 1.02 ** 12)
    assert problems(obj, history=history) == []
    # Even +10.5 % a month stays within the record (+1 %) plus 10 points.
    obj = objective(baseline=baseline, target=baseline * 1.105 ** 12)
    assert problems(obj, history=history) == []


def test_unrealistic_decrease_is_flagged():
    # A sales cycle falling 1 % a month; cutting it to a third in six months needs −16.7 %.
    history = growing(60, -0.01)
    baseline = history[-1].value
    obj = objective(baseline=baseline, target=baseline / 3, deadline=dt.date(2026, 6, 30))
    [p] = problems(obj, history=history, direction="decrease")
    assert p.criterion == "achievable"
    assert "-16.7 % a month for 6 months" in p.message
    assert "was -1.0 % a month" in p.message
    gentle = objective(baseline=baseline, target=baseline * 0.9, deadline=dt.date(2026, 6, 30))
    assert problems(gentle, history=history, direction="decrease") == []


def test_unrealistic_cumulative_total_is_flagged():
    history = growing(100, 0.0)  # 100 a month, flat for two years
    [p] = problems(cumulative(target=3000), history=history)
    assert p.criterion == "achievable"
    assert "needs 250 a month on average for 12 months" in p.message
    assert "from 100 now" in p.message
    assert "best in the last 24 months was +0.0 % a month" in p.message
    # 1 300 in a year is +1.2 % a month of growth from 100: realistic.
    assert problems(cumulative(target=1300), history=history) == []


def test_no_achievability_check_with_little_history():
    short = growing(100, 0.01, months=5)
    gaps = short + [SeriesPoint(start=dt.date(2023, 1, 1), value=None)] * 10
    obj = objective(baseline=100, target=1000)
    assert problems(obj, history=short) == []
    assert problems(obj, history=gaps) == []
    assert [p.criterion for p in problems(obj, history=growing(100, 0.01, months=6))] == [
        "achievable"]


# --- Key results and OKRs --------------------------------------------------------------------


def kr(**kw) -> KeyResultConfig:
    return KeyResultConfig(**{"kpi": "leads", "start": 60, "target": 120, **kw})


def test_increase_and_decrease_key_results():
    assert score_key_result(kr(), 93) == pytest.approx(33 / 60)
    assert score_key_result(kr(), 150) == 1.0
    assert score_key_result(kr(), 40) == 0.0
    down = kr(kpi="avg_position", start=10.4, target=9.5, direction="decrease")
    assert score_key_result(down, 10.0) == pytest.approx(0.4 / 0.9)
    assert score_key_result(down, 11) == 0.0
    assert score_key_result(kr(), None) is None


def test_a_key_result_already_at_its_target_scores_whether_it_holds():
    flat = KeyResultConfig(kpi="leads", start=100, target=100)
    assert [score_key_result(flat, v) for v in (120, 100, 80)] == [1.0, 1.0, 0.0]
    down = KeyResultConfig(kpi="cost", start=100, target=100, direction="decrease")
    assert [score_key_result(down, v) for v in (80, 100, 120)] == [1.0, 1.0, 0.0]


def test_stay_above_key_result():
    above = kr(start=50, target=80, direction="stay_above")
    assert score_key_result(above, 93) == 1.0
    assert score_key_result(above, 93, worst=85) == 1.0
    # The line was broken during the window: scored on the worst value.
    assert score_key_result(above, 93, worst=70) == pytest.approx(20 / 30)
    assert score_key_result(above, 65) == pytest.approx(0.5)
    assert score_key_result(above, 40) == 0.0
    # Already above the line at the start: breaking it earns nothing.
    held = kr(start=0.03, target=0.025, direction="stay_above")
    assert score_key_result(held, 0.03, worst=0.026) == 1.0
    assert score_key_result(held, 0.024) == 0.0


def test_stay_below_key_result():
    below = kr(kpi="sales_cycle", start=90, target=80, direction="stay_below")
    assert score_key_result(below, 78, worst=79) == 1.0
    assert score_key_result(below, 78, worst=84) == pytest.approx(0.6)
    assert score_key_result(below, 85) == pytest.approx(0.5)
    assert score_key_result(below, None, worst=70) is None


def test_okr_score_is_the_weighted_mean_of_scored_key_results():
    okr = OkrConfig(objective="Fill the pipeline", key_results=[
        kr(weight=2),
        kr(kpi="conv", title="Keep conversion above 80", start=50, target=80,
           direction="stay_above"),
        kr(kpi="missing"),
    ])
    score = score_okr(okr, "q4", {0: 90, 1: 93, 2: None}, {1: 70})
    first, second, third = score.key_results
    assert (score.key, score.objective) == ("q4", "Fill the pipeline")
    assert first.score == pytest.approx(0.5) and first.title == ""  # the engine fills it
    assert (first.weight, first.start, first.target, first.value) == (2, 60, 120, 90)
    assert second.score == pytest.approx(2 / 3) and second.title == "Keep conversion above 80"
    assert second.direction == "stay_above"
    assert third.score is None and third.value is None
    assert score.score == pytest.approx((0.5 * 2 + 2 / 3 * 1) / 3)


def test_okr_without_any_data_has_no_score():
    okr = OkrConfig(objective="x", key_results=[kr(), kr(kpi="other")])
    result = score_okr(okr, "okr-1", {}, {})
    assert result.score is None
    assert [k.score for k in result.key_results] == [None, None]


def test_what_is_needed_is_spread_over_the_time_really_left():
    # A cumulative objective on 13 November: 17 days of November and December are left,
    # 1.57 months, not two (what is needed per month would be too low).
    mtd = resolve("2026-11-01..2026-11-13", TODAY)
    a = run(objective(kind="cumulative", baseline=None, target=1000), 800, period=mtd)
    assert a.required_rate == pytest.approx(200 / (17 / 30 + 1))
    # From a month's end, whole months.
    b = run(objective(kind="cumulative", baseline=None, target=1000), 800)
    assert b.required_rate == pytest.approx(100)
