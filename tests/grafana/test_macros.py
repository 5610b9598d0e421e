"""The macro expander against Grafana's own PostgreSQL-datasource test vectors (as facts), plus variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tsmon.grafana.macros import (
    MacroError,
    QueryContext,
    expand,
    expand_macros,
    format_interval,
    interpolate_variables,
    panel_interval,
    rfc3339_nano,
    strip_comments,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
PLAIN = QueryContext(FROM, FROM + timedelta(minutes=5), timescaledb=False)
TS = QueryContext(FROM, FROM + timedelta(minutes=5), timescaledb=True)


@pytest.mark.parametrize(
    ("ctx", "sql", "expanded"),
    [
        (PLAIN, "select $__time(time_column)", 'select time_column AS "time"'),
        (PLAIN, "select min($__time(time_column))", 'select min(time_column AS "time")'),
        (
            PLAIN,
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        (PLAIN, "select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        (PLAIN, "select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        (
            PLAIN,
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            PLAIN,
            "SELECT $__timeGroup(time_column,'5m') as time, value",
            "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
        ),
        (
            PLAIN,
            "SELECT $__timeGroup(time_column,'5m')",
            "SELECT floor(extract(epoch from time_column)/300)*300",
        ),
        (
            PLAIN,
            "SELECT $__timeGroupAlias(time_column,'5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        (PLAIN, "$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
        (
            PLAIN,
            "GROUP BY $__timeGroup(time_column , '12d')",
            "GROUP BY floor(extract(epoch from time_column)/1.0368e+06)*1.0368e+06",
        ),
        (TS, "GROUP BY $__timeGroup(time_column,'5m')", "GROUP BY time_bucket('300.000s',time_column)"),
        (TS, "GROUP BY $__timeGroup(time_column , '5m')", "GROUP BY time_bucket('300.000s',time_column)"),
        (
            TS,
            "GROUP BY $__timeGroup(time_column , '12d')",
            "GROUP BY time_bucket('1036800.000s',time_column)",
        ),
        (TS, "GROUP BY $__timeGroup(time_column , '20ms')", "GROUP BY time_bucket('0.020s',time_column)"),
        (TS, "SELECT $__timeGroupAlias(t, '1h30m')", "SELECT time_bucket('5400.000s',t) AS \"time\""),
        (PLAIN, "select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
        (
            PLAIN,
            "select $__unixEpochNanoFilter(time)",
            "select time >= 1523556000000000000 AND time <= 1523556300000000000",
        ),
        (PLAIN, "select $__unixEpochNanoFrom()", "select 1523556000000000000"),
        (PLAIN, "select $__unixEpochNanoTo()", "select 1523556300000000000"),
        (
            PLAIN,
            "SELECT $__unixEpochGroup(time_column+time_adjustment,'5m')",
            "SELECT floor((time_column+time_adjustment)/300)*300",
        ),
        (
            PLAIN,
            "SELECT $__unixEpochGroupAlias(time_column+time_adjustment,'5m')",
            'SELECT floor((time_column+time_adjustment)/300)*300 AS "time"',
        ),
        (PLAIN, "select $__unixEpochFrom(), $__unixEpochTo()", "select 1523556000, 1523556300"),
    ],
)
def test_grafana_vectors(ctx: QueryContext, sql: str, expanded: str) -> None:
    assert expand_macros(sql, ctx) == expanded


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            datetime(1960, 2, 1, 7, tzinfo=UTC),
            datetime(1965, 2, 3, 8, tzinfo=UTC),
            "WHERE c BETWEEN '1960-02-01T07:00:00Z' AND '1965-02-03T08:00:00Z'",
        ),
        (
            datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC),
            datetime(1980, 2, 3, 8, 0, 0, 500_000, tzinfo=UTC),
            "WHERE c BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'",
        ),
    ],
)
def test_time_filter_before_1970_and_fractions(start: datetime, end: datetime, expected: str) -> None:
    assert expand_macros("WHERE $__timeFilter(c)", QueryContext(start, end)) == expected
    assert rfc3339_nano(start).endswith("Z")


def test_unix_epoch_filter_before_1970() -> None:
    ctx = QueryContext(datetime(1960, 2, 1, 7, tzinfo=UTC), datetime(1965, 2, 3, 8, tzinfo=UTC))
    assert expand_macros("$__unixEpochFilter(t)", ctx) == "t >= -312915600 AND t <= -154886400"
    half = QueryContext(
        datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC), datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    )
    assert expand_macros("$__unixEpochFrom()", half) == "-312915600"  # rounded down, as Go does


@pytest.mark.parametrize(
    ("interval", "text", "ms"),
    [
        (timedelta(seconds=90), "1m", "90000"),
        (timedelta(hours=36), "1d", "129600000"),
        (timedelta(minutes=10), "10m", "600000"),
        (timedelta(milliseconds=20), "20ms", "20"),
        (timedelta(days=400), "1y", "34560000000"),
    ],
)
def test_interval_is_the_largest_whole_unit(interval: timedelta, text: str, ms: str) -> None:
    assert format_interval(interval) == text
    ctx = QueryContext(FROM, FROM + timedelta(hours=1), interval=interval)
    # $__interval_ms first, so $__interval does not eat its prefix.
    assert expand_macros("$__interval_ms $__interval", ctx) == f"{ms} {text}"


def test_comments_are_stripped_outside_quotes() -> None:
    assert strip_comments("SELECT 1 -- a comment") == "SELECT 1 "
    assert strip_comments("SELECT /* a comment */ 1") == "SELECT  1"
    assert strip_comments("SELECT 1 -- comment\nFROM t") == "SELECT 1 \nFROM t"
    for kept in (
        "SELECT '-- not a comment' AS label",
        'SELECT "col -- name" FROM t',
        "SELECT 'it''s fine -- not a comment' AS v",
        "SELECT $$ -- not a comment $$",
        "SELECT $body$ -- not a comment $body$",
    ):
        assert strip_comments(kept) == kept
    assert strip_comments("SELECT $__timeFrom() -- comment") == "SELECT $__timeFrom() "
    ctx = QueryContext(FROM, FROM + timedelta(minutes=5), interval=timedelta(minutes=10))
    assert expand_macros("SELECT 1 /*i='$__interval'*/", ctx) == "SELECT 1 "


def test_unknown_macro_and_bad_interval_fail_like_grafana() -> None:
    with pytest.raises(MacroError, match="unknown macro"):
        expand_macros("SELECT $__nope(x)", PLAIN)
    with pytest.raises(MacroError, match="invalid interval"):
        expand_macros("SELECT $__timeGroup(t, '5 minutes')", PLAIN)


def test_template_variables_with_quotes() -> None:
    values = {"host": ["web1", "o'brien"], "ids": ["3", "7"], "one": "it's"}
    sql = "WHERE h IN (${host:sqlstring}) AND id IN (${ids:csv}) AND x = ${one:sqlstring}"
    assert interpolate_variables(sql, values) == (
        "WHERE h IN ('web1','o''brien') AND id IN (3,7) AND x = 'it''s'"
    )
    assert interpolate_variables("$__interval ${__from}", values) == "$__interval ${__from}"
    with pytest.raises(MacroError, match="not for PostgreSQL"):
        interpolate_variables("${host:singlequote}", values)
    with pytest.raises(MacroError, match="unknown template variable"):
        interpolate_variables("${nope:csv}", values)


def test_expand_runs_variables_then_macros() -> None:
    ctx = QueryContext(FROM, FROM + timedelta(minutes=5), variables={"m": "a'b"})
    assert expand("SELECT ${m:sqlstring}, $__timeFrom()", ctx) == "SELECT 'a''b', '2018-04-12T18:00:00Z'"


def test_panel_interval_is_nice_and_at_least_the_minimum() -> None:
    assert panel_interval(timedelta(hours=6)) == timedelta(seconds=20)
    assert panel_interval(timedelta(minutes=5)) == timedelta(seconds=10)
    assert panel_interval(timedelta(days=7)) == timedelta(minutes=10)
