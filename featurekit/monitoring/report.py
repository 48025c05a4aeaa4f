"""The report of a monitor run: one self-contained HTML file that opens offline, and the same
content as JSON (``featurekit monitor --report-json``).

One section per monitor, reached from a table of contents: its description, source and the
dates of its reference and current windows; a table of its checks; reference-vs-current
distributions of the compared columns (drifted first); for classification checks the ROC
curve and the confusion matrix (from counts the engine computed, never raw rows); and each
check over time from the results table. Tests judged on a p-value (KS, chi-squared) are
charted on a logarithmic p-value axis with their thresholds (0.05, 0.01). Charts are inline
SVG drawn here; nothing is fetched or scripted, and no raw rows are embedded, so the size does
not grow with the window.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.monitoring.results import CheckResult, Results
from featurekit.state import utcnow

if TYPE_CHECKING:
    from featurekit.monitoring.runner import MonitorRun
    from featurekit.project import Project

COLORS = {"ok": "#2e7d32", "warn": "#ef8f00", "error": "#c62828", "no_data": "#757575"}
REF_COLOR, CUR_COLOR = "#5c7cfa", "#f76707"
MAX_DISTRIBUTIONS = 60
MAX_POINTS = 200
#: tests whose warn/error thresholds apply to the p-value, not to the statistic
P_VALUE_TESTS = ("ks", "chi2")
SMALLEST_P = 1e-16  # p-values below this (or 0) are drawn at this height of the log axis

STYLE = """
body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;
color:#212529;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 6px;border-bottom:2px solid
#dee2e6;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}h4{font-size:14px;margin:0 0 4px}
.meta{color:#6c757d;margin-bottom:12px}
.badges span,.pill{display:inline-block;padding:2px 9px;border-radius:12px;color:#fff;
margin-right:6px;font-weight:600;font-size:12px}
#toc ol{columns:2 360px;padding-left:22px}#toc li{margin:3px 0}
.windows{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0 10px}
.windows b{color:#495057}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e9ecef;text-align:left;vertical-align:top}
th{background:#f8f9fa;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:
tabular-nums}
.status{font-weight:700}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
.card{border:1px solid #dee2e6;border-radius:6px;padding:10px}
.card p{margin:2px 0 6px;color:#495057;font-size:12px}
.card svg{width:100%;height:auto;display:block}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
svg text{font-size:11px;fill:#495057}
.perf{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}.perf svg{max-width:340px}
table.confusion{width:auto}table.confusion td{text-align:right;min-width:70px}
"""


# -- content ---------------------------------------------------------------------------------

def write_report(project: Project, run: MonitorRun, path: str | Path | None = None,
                 json_path: str | Path | None = None) -> list[Path]:
    """Write the report of ``run`` as HTML (``path``) and/or JSON (``json_path``)."""
    monitors = sorted({r.monitor for r in run.results})
    history = Results(project.engine).history(monitors, MAX_POINTS)
    content = report_content(
        run.results, history, title=f"featurekit monitors — {project.root.name}",
        subtitle=f"target {project.target.name} ({project.target.describe()})",
        monitors={name: project.monitors[name] for name in monitors if name in project.monitors})
    written = []
    for target, text in ((path, lambda: render_report(content)),
                         (json_path, lambda: json.dumps(_plain(content), indent=2))):
        if target is None:
            continue
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".tmp")
        partial.write_text(text(), encoding="utf-8")
        partial.replace(target)
        written.append(target)
    return written


def report_content(results: list[CheckResult], history: list[dict[str, Any]], title: str,
                   subtitle: str = "", monitors: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the report shows, as data: per monitor its windows, checks, plots and series."""
    monitors = monitors or {}
    by_monitor: dict[str, list[CheckResult]] = defaultdict(list)
    for result in results:
        by_monitor[result.monitor].append(result)
    series = _series(history)
    sections = []
    for name in sorted(by_monitor, key=lambda m: (min(_order(r.status) for r in by_monitor[m]),
                                                  m)):
        checks = sorted(by_monitor[name], key=lambda r: (_order(r.status), r.check,
                                                         r.column or ""))
        config = monitors.get(name)
        sections.append({
            "monitor": name,
            "description": getattr(config, "description", "") if config else "",
            "source": (config.source or "sql query") if config else None,
            "reference": _window_dates(checks, "reference", config),
            "current": _window_dates(checks, "window", config),
            "checks": [_check(r) for r in checks],
            "series": [{"check": k[1], "column": k[2], "test": _test_of(k, checks),
                        "points": points} for k, points in series.items() if k[0] == name],
        })
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result.status] += 1
    as_of = sorted({r.as_of for r in results if r.as_of is not None})
    return {"title": title, "subtitle": subtitle, "generated_at": utcnow(),
            "as_of": [as_of[0], as_of[-1]] if as_of else None, "counts": dict(counts),
            "monitors": sections}


def _check(result: CheckResult) -> dict[str, Any]:
    return {"check": result.check, "column": result.column, "test": result.test,
            "status": result.status, "statistic": result.statistic, "p_value": result.p_value,
            "warn": result.warn, "error": result.error, "n_ref": result.n_ref,
            "n_cur": result.n_cur, "window_start": result.window_start,
            "window_end": result.window_end, "message": result.message, "plot": result.plot}


def _window_dates(checks: list[CheckResult], kind: str, config: Any) -> dict[str, Any] | None:
    """The window's dates as evaluated, with its rule from the monitor file."""
    rule = getattr(config, "reference" if kind == "reference" else "current", None)
    for result in checks:
        start, end = getattr(result, f"{kind}_start"), getattr(result, f"{kind}_end")
        if end is not None:
            return {"start": start, "end": end, "rule": _rule(rule)}
    return {"start": None, "end": None, "rule": _rule(rule)} if rule else None


def _rule(window: Any) -> str | None:
    """How the monitor file defines a window, when its dates alone do not say it."""
    from featurekit.durations import format_duration

    if window is None or window.kind == "fixed":
        return None
    if window.kind == "relative":
        offset = f", {format_duration(window.offset)} before" if window.offset else ""
        return f"the last {format_duration(window.last)}{offset}"
    return window.describe()


def _test_of(key: tuple[str, str, str | None], checks: list[CheckResult]) -> str:
    return next((r.test for r in checks if r.key == key), "")


def _series(history: list[dict[str, Any]]) -> dict[tuple[str, str, str | None], list[dict]]:
    """Per (monitor, check, column): the values at each evaluation time (latest kept)."""
    series: dict[tuple[str, str, str | None], dict[datetime, dict]] = defaultdict(dict)
    for row in history:
        if row["statistic"] is None or row["as_of"] is None:
            continue
        series[(row["monitor"], row["check"], row["column"])][row["as_of"]] = row
    out = {}
    for key, by_time in sorted(series.items(), key=lambda x: tuple(str(p) for p in x[0])):
        if len(by_time) >= 2:
            out[key] = [{"as_of": t, "statistic": by_time[t]["statistic"],
                         "p_value": by_time[t].get("p_value"), "status": by_time[t]["status"]}
                        for t in sorted(by_time)][-MAX_POINTS:]
    return out


def _plain(value: Any) -> Any:
    from featurekit.jsonout import plain

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}  # keeps "plot", which plain() skips
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return plain(value)


# -- HTML ------------------------------------------------------------------------------------

def render_report(content: dict[str, Any]) -> str:
    """The report (``report_content``) as one HTML string."""
    e = html.escape
    as_of = content["as_of"]
    when = ("" if not as_of else f"evaluated as of {as_of[0]:%Y-%m-%d %H:%M}"
            if as_of[0] == as_of[1] else f"evaluated as of {as_of[0]:%Y-%m-%d} .. "
            f"{as_of[1]:%Y-%m-%d}")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(content['title'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(content['title'])}</h1>",
        f"<div class='meta'>{e(content['subtitle'])} · {e(when)} · generated "
        f"{content['generated_at']:%Y-%m-%d %H:%M} UTC</div>",
        "<div class='badges'>" + "".join(
            f"<span style='background:{COLORS.get(s, '#000')}'>{n} {e(s)}</span>"
            for s, n in sorted(content["counts"].items(), key=lambda x: _order(x[0]))) + "</div>",
        _toc(content["monitors"]),
    ]
    parts.extend(_section(section) for section in content["monitors"])
    parts.append("</body></html>")
    return "\n".join(parts)


def anchor(monitor: str) -> str:
    """The id of a monitor's section.

    >>> anchor("fraud model/v2")
    'monitor-fraud-model-v2'
    """
    return "monitor-" + re.sub(r"[^A-Za-z0-9_-]+", "-", monitor)


def _toc(sections: list[dict[str, Any]]) -> str:
    e = html.escape
    items = []
    for section in sections:
        counts: dict[str, int] = defaultdict(int)
        for check in section["checks"]:
            counts[check["status"]] += 1
        pills = "".join(f"<span class='pill' style='background:{COLORS.get(s, '#000')}'>"
                        f"{n} {e(s)}</span>" for s, n in sorted(counts.items(),
                                                                 key=lambda x: _order(x[0])))
        items.append(f"<li><a href='#{anchor(section['monitor'])}'>{e(section['monitor'])}</a> "
                     f"{pills}</li>")
    return f"<nav id='toc'><h2>Monitors</h2><ol>{''.join(items)}</ol></nav>"


def _section(section: dict[str, Any]) -> str:
    e = html.escape
    name = section["monitor"]
    parts = [f"<section class='monitor' id='{anchor(name)}'><h2>{e(name)}</h2>"]
    if section["description"]:
        parts.append(f"<p>{e(section['description'])}</p>")
    rows = []
    if section["source"]:
        rows.append(f"<b>source</b><span>{e(section['source'])}</span>")
    for label in ("reference", "current"):
        window = section[label]
        if window is not None:
            dates = _window(window["start"], window["end"]) or "not evaluated"
            rule = f" ({e(window['rule'])})" if window.get("rule") else ""
            rows.append(f"<b>{label} window</b><span>{e(dates)}{rule}</span>")
    parts.append(f"<div class='windows'>{''.join(rows)}</div>")
    parts.append(_summary_table(section["checks"]))
    distributions = [c for c in section["checks"] if (c["plot"] or {}).get("labels")]
    if distributions:
        parts.append("<h3>Reference vs current distributions</h3>"
                     "<div class='legend'>share of rows per bin or category:"
                     f"<span style='background:{REF_COLOR}'></span>reference"
                     f"<span style='background:{CUR_COLOR}'></span>current</div>"
                     "<div class='grid'>")
        parts.extend(_distribution_card(c) for c in distributions[:MAX_DISTRIBUTIONS])
        parts.append("</div>")
        if len(distributions) > MAX_DISTRIBUTIONS:
            parts.append(f"<p>{len(distributions) - MAX_DISTRIBUTIONS} more not shown.</p>")
    performance = [c for c in section["checks"]
                   if (c["plot"] or {}).get("kind") == "performance"]
    if performance:
        parts.append("<h3>Model performance</h3>")
        parts.extend(_performance_card(c) for c in performance)
    if section["series"]:
        parts.append("<h3>Over time</h3><div class='grid'>")
        thresholds = {(c["check"], c["column"]): (c["warn"], c["error"])
                      for c in section["checks"]}
        for line in section["series"]:
            key = (line["check"], line["column"])
            parts.append(_series_card(line, thresholds.get(key, (None, None))))
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _order(status: str) -> int:
    return {"error": 0, "warn": 1, "ok": 2, "no_data": 3}.get(status, 4)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.3e}"
    return f"{value:.4g}"


def _summary_table(checks: list[dict[str, Any]]) -> str:
    e = html.escape
    head = ("check", "column", "test", "status", "statistic", "p-value", "warn", "error",
            "n ref", "n cur", "window", "note")
    rows = ["<table class='checks'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"]
    for c in checks:
        cells = [
            e(c["check"]), e(c["column"] or ""), e(c["test"]),
            f"<span class='status' style='color:{COLORS.get(c['status'], '#000')}'>"
            f"{e(c['status'])}</span>",
            *(_value(c["test"], c[k]) for k in ("statistic", "p_value", "warn", "error")),
            f"{c['n_ref']:,}" if c["n_ref"] is not None else "",
            f"{c['n_cur']:,}" if c["n_cur"] is not None else "",
            f"<span style='white-space:nowrap'>"
            f"{e(_window(c['window_start'], c['window_end']))}</span>", e(c["message"]),
        ]
        numeric = {4, 5, 6, 7, 8, 9}
        rows.append("<tr>" + "".join(
            f"<td class='num'>{v}</td>" if i in numeric else f"<td>{v}</td>"
            for i, v in enumerate(cells)) + "</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _value(test: str, value: float | None) -> str:
    """Freshness in human units (1d 2h), everything else as a number."""
    if test == "freshness" and value is not None:
        from featurekit.durations import format_duration

        return format_duration(timedelta(seconds=value))
    return _fmt(value)


def _window(start: datetime | None, end: datetime | None) -> str:
    """``2024-03-24 → 03-31`` (times shown only when not midnight)."""
    if end is None:
        return ""

    def show(moment: datetime, year: bool) -> str:
        text = f"{moment:%Y-%m-%d}" if year else f"{moment:%m-%d}"
        return text + (f" {moment:%H:%M}" if (moment.hour, moment.minute) != (0, 0) else "")

    if start is None:
        return f"… → {show(end, True)}"
    return f"{show(start, True)} → {show(end, start.year != end.year)}"


# -- charts ----------------------------------------------------------------------------------

def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round axis ticks covering [low, high]: steps of 1, 2 or 5 times a power of ten.

    >>> nice_ticks(0, 0.19)
    [0.0, 0.05, 0.1, 0.15, 0.2]
    >>> nice_ticks(0, 854)
    [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    """
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks, value = [], first
    while value < high - 1e-9 * step:
        ticks.append(float(round(value, 12)))
        value += step
    ticks.append(float(round(value, 12)))
    return ticks


def date_ticks(start: datetime, end: datetime, count: int = 10) -> list[datetime]:
    """Midnights (or whole hours within two days) over [start, end], at most ``count``,
    a round step apart (1, 2, 7, 14 or 28 days; 1, 2, 3, 6 or 12 hours).

    >>> [f"{d:%m-%d}" for d in date_ticks(datetime(2024, 2, 1), datetime(2024, 3, 31))]
    ['02-01', '02-08', '02-15', '02-22', '02-29', '03-07', '03-14', '03-21', '03-28']
    """
    span = (end - start).total_seconds()
    if span < 2 * 86400:
        unit, steps = timedelta(hours=1), (1, 2, 3, 6, 12)
        first = start.replace(minute=0, second=0, microsecond=0)
    else:
        unit, steps = timedelta(days=1), (1, 2, 7, 14, 28, 91, 182, 364)
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    size = span / unit.total_seconds()
    step = next((s for s in steps if size / s <= count), math.ceil(size / count))
    if first < start:
        first += unit
    ticks = []
    while first <= end:
        ticks.append(first)
        first += unit * step
    return ticks


def _distribution_card(check: dict[str, Any]) -> str:
    e = html.escape
    plot = check["plot"]
    color = COLORS.get(check["status"], "#000")
    stat = f"{check['test']} = {_fmt(check['statistic'])}"
    if check["p_value"] is not None:
        stat += f", p = {_fmt(check['p_value'])}"
    return (f"<div class='card'><h4>{e(check['column'] or check['check'])} "
            f"<span style='color:{color}'>{e(check['status'])}</span></h4>"
            f"<p>{e(stat)} · n ref {check['n_ref'] or 0:,} · n cur {check['n_cur'] or 0:,}</p>"
            + bar_chart(plot["labels"], plot["reference"], plot["current"]) + "</div>")


def bar_chart(labels: list[str], reference: list[float], current: list[float],
              width: int = 560, height: int = 240) -> str:
    """Grouped bars (reference, current) per label as an inline SVG, on round share ticks."""
    e = html.escape
    left, bottom, top, right = 44, 72, 10, 8
    plot_h = height - bottom - top
    n = max(len(labels), 1)
    slot = (width - left - right) / n
    ticks = nice_ticks(0.0, max([*reference, *current, 1e-9]), 4)
    peak = ticks[-1]
    decimals = 0 if peak >= 0.04 else 1
    out = [f"<svg viewBox='0 0 {width} {height}' role='img'>"]
    for tick in ticks:
        y = top + plot_h * (1 - tick / peak)
        out.append(f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' "
                   f"stroke='#e9ecef'/><text x='{left - 4}' y='{y + 4:.1f}' "
                   f"text-anchor='end'>{tick:.{decimals}%}</text>")
    bar = max(slot * 0.38, 1.0)
    for i, label in enumerate(labels):
        x = left + i * slot + slot * 0.1
        for j, (value, color) in enumerate(((reference[i], REF_COLOR),
                                            (current[i], CUR_COLOR))):
            h = plot_h * value / peak
            out.append(f"<rect x='{x + j * bar:.1f}' y='{top + plot_h - h:.1f}' "
                       f"width='{bar:.1f}' height='{h:.1f}' fill='{color}'>"
                       f"<title>{e(label)}: {value:.2%}</title></rect>")
        tx, ty = left + (i + 0.5) * slot, top + plot_h + 10
        out.append(f"<text x='{tx:.1f}' y='{ty:.1f}' text-anchor='end' "
                   f"transform='rotate(-40 {tx:.1f} {ty:.1f})'>{e(_short(label))}</text>")
    out.append("</svg>")
    return "".join(out)


def _short(label: str, size: int = 16) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def _performance_card(check: dict[str, Any]) -> str:
    e = html.escape
    plot = check["plot"]
    (tn, fp), (fn, tp) = plot["confusion"]
    total = (tn + fp + fn + tp) or 1

    def cell(n: int) -> str:
        shade = int(235 - 120 * n / total)
        return (f"<td style='background:rgb({shade},{shade + 10},255)'>{n:,}<br>"
                f"<small>{n / total:.1%}</small></td>")

    matrix = (f"<table class='confusion'><tr><th></th><th>predicted 0</th>"
              f"<th>predicted 1</th></tr><tr><th>actual 0</th>{cell(tn)}{cell(fp)}</tr>"
              f"<tr><th>actual 1</th>{cell(fn)}{cell(tp)}</tr></table>"
              f"<p>score &ge; {plot['threshold']:g} predicts 1 · {total:,} rows with an "
              f"outcome</p>")
    color = COLORS.get(check["status"], "#000")
    return (f"<div class='card'><h4>{e(check['check'])}: {e(check['test'])} = "
            f"{_fmt(check['statistic'])} <span style='color:{color}'>{e(check['status'])}"
            f"</span></h4><div class='perf'>{roc_chart(plot['roc'])}<div>{matrix}</div></div>"
            "</div>")


def roc_chart(points: list[list[float]], size: int = 300) -> str:
    """The ROC curve (false positive rate → true positive rate) with the chance diagonal."""
    pad, inner = 40, size - 50
    out = [f"<svg class='roc' viewBox='0 0 {size} {size}' role='img'>"]

    def xy(fpr: float, tpr: float) -> str:
        return f"{pad + inner * fpr:.1f},{10 + inner * (1 - tpr):.1f}"

    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x, y = pad + inner * tick, 10 + inner * (1 - tick)
        out.append(f"<line x1='{pad}' x2='{pad + inner}' y1='{y:.1f}' y2='{y:.1f}' "
                   f"stroke='#e9ecef'/><text x='{pad - 4}' y='{y + 4:.1f}' "
                   f"text-anchor='end'>{tick:g}</text><text x='{x:.1f}' y='{inner + 24}' "
                   f"text-anchor='middle'>{tick:g}</text>")
    out.append(f"<path d='M{xy(0, 0)} L{xy(1, 1)}' stroke='#adb5bd' stroke-dasharray='4 4' "
               f"fill='none'/>")
    path = " ".join(("M" if i == 0 else "L") + xy(f, t) for i, (f, t) in enumerate(points))
    out.append(f"<path class='roc-curve' d='{path}' stroke='{CUR_COLOR}' stroke-width='2' "
               f"fill='none'/>")
    out.append(f"<text x='{pad + inner / 2}' y='{size - 4}' text-anchor='middle'>false "
               f"positive rate</text><text x='12' y='{10 + inner / 2}' text-anchor='middle' "
               f"transform='rotate(-90 12 {10 + inner / 2})'>true positive rate</text></svg>")
    return "".join(out)


def _series_card(line: dict[str, Any], thresholds: tuple[float | None, float | None]) -> str:
    e = html.escape
    title = line["check"] + (f" · {line['column']}" if line["column"] else "")
    test = line["test"]
    if test in P_VALUE_TESTS and any(p["p_value"] is not None for p in line["points"]):
        chart = line_chart(line["points"], *thresholds, key="p_value", log=True)
        what = f"{test} p-value (log scale; lower means more drift)"
    else:
        chart = line_chart(line["points"], *thresholds,
                           label=lambda v: _value(test, v))
        what = f"{test} statistic"
    return f"<div class='card'><h4>{e(title)}</h4><p>{e(what)}</p>{chart}</div>"


def line_chart(points: list[dict], warn: float | None, error: float | None,
               width: int = 560, height: int = 220, label: Any = None,
               key: str = "statistic", log: bool = False) -> str:
    """One value over time: dots colored by status, dashed threshold lines, round ticks.

    ``log``: a log10 axis (p-values), 1 at the top, the smallest value's decade at the bottom.
    """
    e = html.escape
    left, right, top, bottom = 64, 12, 12, 34
    points = [p for p in points if p[key] is not None]
    if len(points) < 2:
        return "<p>not enough history to chart</p>"
    times = [p["as_of"] for p in points]
    values = [float(p[key]) for p in points]
    lines = [v for v in (warn, error) if v is not None]
    if log:
        floor = min(max(min(values), SMALLEST_P), *(lines or [1.0]))
        depth = -math.floor(math.log10(floor))  # decades below 1
        stride = max(1, math.ceil(depth / 6))  # at most about six labels
        depth = stride * math.ceil(depth / stride)  # the axis ends on a labelled decade
        ticks = [10.0 ** -k for k in range(depth, -1, -stride)]
        low, high = float(-depth), 0.0
        scale = lambda v: math.log10(max(v, SMALLEST_P))  # noqa: E731
        label = label or (lambda v: f"{v:g}")
    else:
        ticks = nice_ticks(min([*values, *lines, 0.0]), max([*values, *lines]) or 1.0)
        low, high = ticks[0], ticks[-1]
        scale = float
        label = label or _fmt
    t0, t1 = min(times), max(times)
    span = (t1 - t0).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        return left + (width - left - right) * (moment - t0).total_seconds() / span

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - (scale(value) - low) / ((high - low) or 1))

    out = [f"<svg viewBox='0 0 {width} {height}' role='img'>"]
    for tick in ticks:
        out.append(f"<line x1='{left}' x2='{width - right}' y1='{y(tick):.1f}' "
                   f"y2='{y(tick):.1f}' stroke='#e9ecef'/><text x='{left - 4}' "
                   f"y='{y(tick) + 4:.1f}' text-anchor='end'>{e(label(tick))}</text>")
    for tick in date_ticks(t0, t1):
        out.append(f"<line x1='{x(tick):.1f}' x2='{x(tick):.1f}' y1='{top}' "
                   f"y2='{height - bottom}' stroke='#f1f3f5'/><text x='{x(tick):.1f}' "
                   f"y='{height - bottom + 16}' text-anchor='middle'>"
                   f"{tick:%m-%d}{'' if tick.hour == 0 else f' {tick:%H}h'}</text>")
    # one label above its line, the other below, so close thresholds stay readable
    for value, color, name, below in ((warn, COLORS["warn"], "warn", -4),
                                      (error, COLORS["error"], "error", 13)):
        if value is not None:
            out.append(f"<line x1='{left}' x2='{width - right}' y1='{y(value):.1f}' "
                       f"y2='{y(value):.1f}' stroke='{color}' stroke-dasharray='5 4'/>"
                       f"<text x='{width - right}' y='{y(value) + below:.1f}' "
                       f"text-anchor='end' style='fill:{color}'>{name} {e(label(value))}"
                       f"</text>")
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}"
                    for i, (t, v) in enumerate(zip(times, values)))
    out.append(f"<path d='{path}' fill='none' stroke='#495057' stroke-width='1.5'/>")
    for point, t, v in zip(points, times, values):
        color = COLORS.get(point["status"], "#000")
        out.append(f"<circle cx='{x(t):.1f}' cy='{y(v):.1f}' r='3' fill='{color}'>"
                   f"<title>{t:%Y-%m-%d %H:%M}: {e(label(v))} ({e(point['status'])})"
                   f"</title></circle>")
    out.append(f"<text x='{left}' y='{height - 2}'>{t0:%Y}</text></svg>")
    return "".join(out)
