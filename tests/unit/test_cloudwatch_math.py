"""CloudWatch statistics and metric math, without a server: exact percentiles,
series arithmetic, the reducers, METRICS(), RATE and FILL."""

from __future__ import annotations

import pytest

from cloudlet.services.cloudwatch.metric_math import Env, MathError, Series, evaluate
from cloudlet.services.cloudwatch.statistics import Aggregate, percentile_of
from cloudlet.services.cloudwatch.store import Row


def agg(values, counts=None) -> Aggregate:
    a = Aggregate()
    for v, c in zip(values, counts or [1.0] * len(values), strict=True):
        a.add(Row(0.0, "None", float(v), float(c), v * c, float(v), float(v)))
    return a


def test_percentiles_are_nearest_rank_over_the_values_put():
    a = agg(range(1, 101))
    assert a.stat("p90") == 90.0
    assert a.stat("p50") == 50.0
    assert a.stat("p99.9") == 100.0
    assert a.stat("p0") == 1.0
    assert a.stat("p100") == 100.0
    assert agg([10.0], [1]).stat("p99") == 10.0


def test_percentiles_weigh_counts():
    # 9 samples of 1.0 and one of 100.0: p90 is still 1.0, p91 is 100.0
    a = agg([1.0, 100.0], [9, 1])
    assert a.stat("p90") == 1.0
    assert a.stat("p91") == 100.0
    assert a.stat("SampleCount") == 10.0
    assert a.stat("Average") == pytest.approx(10.9)


def test_statistic_sets_have_no_percentile_but_have_the_basic_stats():
    a = Aggregate()
    a.add(Row(0.0, "None", None, 4.0, 10.0, 1.0, 4.0))
    assert a.stat("p50") is None
    assert (a.stat("Sum"), a.stat("Minimum"), a.stat("Maximum"), a.stat("Average")) == (
        10.0,
        1.0,
        4.0,
        2.5,
    )


def test_percentile_names():
    assert percentile_of("p90") == 90.0
    assert percentile_of("p99.99") == 99.99
    assert percentile_of("p101") is None
    assert percentile_of("Average") is None


GRID = [0.0, 60.0, 120.0, 180.0]


def env(**series: dict[float, float]) -> Env:
    ss = {k: Series(k, v) for k, v in series.items()}

    def resolve(name: str):
        if name not in ss:
            raise MathError(f"Unrecognized metric id {name}")
        return ss[name]

    return Env(resolve, lambda p: [s for k, s in sorted(ss.items()) if k.startswith(p)], GRID)


def test_arithmetic_between_series_and_scalars():
    e = env(m1={0.0: 2.0, 60.0: 4.0}, m2={0.0: 1.0, 60.0: 0.0, 120.0: 5.0})
    assert evaluate("m1 + m2", e).points == {0.0: 3.0, 60.0: 4.0}  # shared timestamps only
    assert evaluate("m1 / m2", e).points == {0.0: 2.0}  # division by zero drops the point
    assert evaluate("(m1 - 1) * 10", e).points == {0.0: 10.0, 60.0: 30.0}
    assert evaluate("-m1 + 2 ^ 2", e).points == {0.0: 2.0, 60.0: 0.0}
    assert evaluate("100 * m1 / MAX(m1)", e).points == {0.0: 50.0, 60.0: 100.0}
    assert evaluate("2 * 3 + 1", e) == 7.0


def test_reducers_over_a_list_give_a_series_and_over_one_series_a_scalar():
    e = env(m1={0.0: 2.0, 60.0: 4.0}, m2={0.0: 6.0}, x1={0.0: 100.0})
    assert evaluate("SUM(METRICS('m'))", e).points == {0.0: 8.0, 60.0: 4.0}
    assert evaluate("AVG(METRICS('m'))", e).points == {0.0: 4.0, 60.0: 4.0}
    assert evaluate("MIN(METRICS())", e).points == {0.0: 2.0, 60.0: 4.0}
    assert evaluate("MAX(METRICS())", e).points == {0.0: 100.0, 60.0: 4.0}
    assert evaluate("SUM(m1)", e) == 6.0
    assert evaluate("AVG(m1)", e) == 3.0
    assert [s.label for s in evaluate("METRICS() * 2", e)] == ["m1", "m2", "x1"]


def test_rate_diff_abs_fill():
    e = env(m1={0.0: 10.0, 60.0: 70.0, 180.0: -50.0})
    assert evaluate("RATE(m1)", e).points == {60.0: 1.0, 180.0: -1.0}
    assert evaluate("DIFF(m1)", e).points == {60.0: 60.0, 180.0: -120.0}
    assert evaluate("ABS(m1)", e).points == {0.0: 10.0, 60.0: 70.0, 180.0: 50.0}
    assert evaluate("FILL(m1, 0)", e).points[120.0] == 0.0
    assert evaluate("FILL(m1, REPEAT)", e).points[120.0] == 70.0
    assert evaluate("FILL(m1, LINEAR)", e).points[120.0] == 10.0


@pytest.mark.parametrize("bad", ["m1 +", "NOPE(m1)", "m9", "m1 $ 2", "METRICS() + METRICS()"])
def test_bad_expressions_raise(bad):
    with pytest.raises(MathError):
        evaluate(bad, env(m1={0.0: 1.0}))
