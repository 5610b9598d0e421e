"""Expand a Grafana PostgreSQL-datasource query as Grafana does: template variables, then the SQL macros.

Follows Grafana 12's rules (pkg/tsdb/grafana-postgresql-datasource): plain replacements of
``$__interval_ms``, ``$__interval`` and ``$__unixEpochFrom/To()``, SQL comments stripped, then every
``$__name(args)`` macro; an unknown macro is an error, as in Grafana. Template variables are the
browser's step: ``${v:sqlstring}`` (each value quoted, ``'`` doubled) and ``${v:csv}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tsmon.errors import TsmonError

MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]")
GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d|w)")
UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}


class MacroError(TsmonError):
    """A query Grafana would refuse to expand (unknown macro, bad argument, unknown variable)."""


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it expands a query: range, interval, datasource flag, variable values."""

    start: datetime
    end: datetime
    interval: timedelta = timedelta(minutes=1)
    timescaledb: bool = True
    variables: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


def rfc3339_nano(t: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros, ``Z``."""
    t = t.astimezone(UTC)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def format_interval(interval: timedelta) -> str:
    """Grafana's $__interval: the largest whole unit only (90 s -> 1m, 36 h -> 1d)."""
    ms = int(interval / timedelta(milliseconds=1))
    for unit, size in (
        ("y", 365 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms" if ms >= 1 else "1ms"


def go_float(x: float) -> str:
    """Go's %v of a float64: shortest digits, exponent form when the decimal exponent is < -4 or >= 6."""
    if x == 0:
        return "0"
    sign, digits, exp = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exp, int)
    e = len(digits) + exp - 1
    if -4 <= e < 6:
        return str(int(x)) if x == int(x) else repr(x)
    mantissa = "".join(map(str, digits))
    body = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    return ("-" if sign else "") + f"{body}e{'+' if e >= 0 else '-'}{abs(e):02d}"


def parse_interval(text: str) -> float:
    """Seconds of a $__timeGroup interval argument: Go durations (1h30m, 20ms) plus d and w."""
    text = text.strip().strip("'\"")
    parts = GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise MacroError(f"invalid interval {text!r} in $__timeGroup: use e.g. 5m, 1h30m, 1d")
    return sum(float(n) * UNIT_SECONDS[u] for n, u in parts)


def strip_comments(sql: str) -> str:
    """Remove -- and /* */ comments outside quoted strings, identifiers and dollar quotes."""
    out, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < n and not (sql[j] == c and (j + 1 >= n or sql[j + 1] != c)):
                j += 2 if sql[j] == c else 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif (
            c == "$"
            and (m := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:]))
            and sql[i + 1 : i + 3] != "__"
        ):
            end = sql.find(m.group(0), i + len(m.group(0)))
            end = n if end < 0 else end + len(m.group(0))
            out.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def interpolate_variables(sql: str, variables: Mapping[str, str | Sequence[str]]) -> str:
    """The browser's step: ``${v:sqlstring}``, ``${v:csv}``, ``${v}``/``$v`` (raw); ``$__`` names are left."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        fmt = match.group(2) or "raw"
        if name.startswith("__"):
            return match.group(0)
        if name not in variables:
            raise MacroError(f"unknown template variable {name!r}")
        raw = variables[name]
        values = [raw] if isinstance(raw, str) else list(raw)
        if fmt == "sqlstring":
            return ",".join("'" + v.replace("'", "''") + "'" for v in values)
        if fmt in {"csv", "raw", "text"}:
            return ",".join(values)
        raise MacroError(f"variable format {fmt!r} of {name!r} is not for PostgreSQL: use sqlstring or csv")

    return VARIABLE.sub(value, sql)


def _time_group(args: list[str], ctx: QueryContext) -> str:
    if len(args) < 2:
        raise MacroError(f"macro __timeGroup needs time column and interval, got {args}")
    seconds = parse_interval(args[1])
    if ctx.timescaledb:
        return f"time_bucket('{seconds:.3f}s',{args[0]})"
    return f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """The server's step, in Grafana's order."""
    # Go's Time.Unix(): whole seconds rounded down (also before 1970).
    start_s, end_s = math.floor(ctx.start.timestamp()), math.floor(ctx.end.timestamp())
    sql = sql.replace("$__interval_ms", str(int(ctx.interval / timedelta(milliseconds=1))))
    sql = sql.replace("$__interval", format_interval(ctx.interval))
    sql = sql.replace("$__unixEpochFrom()", str(start_s)).replace("$__unixEpochTo()", str(end_s))
    sql = strip_comments(sql)
    start, end = rfc3339_nano(ctx.start), rfc3339_nano(ctx.end)
    seen_time_group = False

    def expand(match: re.Match[str]) -> str:
        nonlocal seen_time_group
        name, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
        if name == "__timeGroup" and not seen_time_group:
            seen_time_group = True
            # Pre-5.3 compatibility: a first $__timeGroup(...) followed by "," gets the alias.
            if match.string[match.end() : match.end() + 1] == ",":
                return _time_group(args, ctx) + ' AS "time"'
        ns = (int(ctx.start.timestamp() * 1e6) * 1000, int(ctx.end.timestamp() * 1e6) * 1000)
        table = {
            "__time": lambda: f'{args[0]} AS "time"',
            "__timeEpoch": lambda: f'extract(epoch from {args[0]}) as "time"',
            "__timeFilter": lambda: f"{args[0]} BETWEEN '{start}' AND '{end}'",
            "__timeFrom": lambda: f"'{start}'",
            "__timeTo": lambda: f"'{end}'",
            "__timeGroup": lambda: _time_group(args, ctx),
            "__timeGroupAlias": lambda: _time_group(args, ctx) + ' AS "time"',
            "__unixEpochFilter": lambda: f"{args[0]} >= {start_s} AND {args[0]} <= {end_s}",
            "__unixEpochNanoFilter": lambda: f"{args[0]} >= {ns[0]} AND {args[0]} <= {ns[1]}",
            "__unixEpochNanoFrom": lambda: str(ns[0]),
            "__unixEpochNanoTo": lambda: str(ns[1]),
            "__unixEpochGroup": lambda: (
                f"floor(({args[0]})/{go_float(parse_interval(args[1]))})*{go_float(parse_interval(args[1]))}"
            ),
            "__unixEpochGroupAlias": lambda: (
                f"floor(({args[0]})/{go_float(parse_interval(args[1]))})"
                f'*{go_float(parse_interval(args[1]))} AS "time"'
            ),
        }
        if name not in table:
            raise MacroError(f"unknown macro ${name}")
        if not args[0] and name not in {"__timeFrom", "__timeTo", "__unixEpochNanoFrom", "__unixEpochNanoTo"}:
            raise MacroError(f"missing time column argument for macro ${name}")
        return table[name]()

    return MACRO.sub(expand, sql)


def expand(sql: str, ctx: QueryContext) -> str:
    """What reaches PostgreSQL: template variables (browser), then macros (server)."""
    return expand_macros(interpolate_variables(sql, ctx.variables), ctx)


NICE_INTERVALS_S = (
    10,
    15,
    20,
    30,
    60,
    120,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


def panel_interval(
    span: timedelta, max_points: int = 1000, min_interval: timedelta = timedelta(seconds=10)
) -> timedelta:
    """Roughly Grafana's $__interval for a panel: span / max data points, rounded to a nice step, at least
    the datasource's minimum (tsmon.yaml: timeInterval 10s)."""
    raw = max(span.total_seconds() / max_points, min_interval.total_seconds())
    return timedelta(seconds=min(NICE_INTERVALS_S, key=lambda s: (abs(s - raw), -s)) if raw < 86400 else raw)
