"""The HTML report of a monitor run: one self-contained file that opens offline.

A summary table of every check, a reference-vs-current chart for each column whose
distribution was compared (drifted columns first), and each statistic over time from the
results table. Charts are inline SVG drawn here; nothing is fetched, and no raw rows are
embedded — only proportions per bin and one number per past run, so the size does not grow
with the window.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import datetime
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

STYLE = """
body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;
color:#212529;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
#dee2e6;padding-bottom:4px}h3{font-size:14px;margin:0 0 4px}
.meta{color:#6c757d;margin-bottom:12px}
.badges span{display:inline-block;padding:3px 10px;border-radius:12px;color:#fff;
margin-right:6px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e9ecef;text-align:left;vertical-align:top}
th{background:#f8f9fa;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:
tabular-nums}
.status{font-weight:700}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.card{border:1px solid #dee2e6;border-radius:6px;padding:10px;width:560px}
.card p{margin:2px 0 6px;color:#495057;font-size:12px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
svg text{font-size:10px;fill:#495057}
"""


def write_report(project: Project, run: MonitorRun, path: str | Path) -> Path:
    """Write the report for ``run`` (history read from the results table) to ``path``."""
    history = Results(project.engine).history(sorted({r.monitor for r in run.results}))
    page = render_report(run.results, history, title=f"featurekit monitors — {project.root.name}",
                         subtitle=f"target {project.target.name} "
                                  f"({project.target.describe()})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def render_report(results: list[CheckResult], history: list[dict[str, Any]], title: str,
                  subtitle: str = "") -> str:
    """The report as one HTML string."""
    e = html.escape
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result.status] += 1
    as_of = sorted({r.as_of for r in results if r.as_of is not None})
    when = (f"evaluated as of {as_of[0]:%Y-%m-%d %H:%M}" if len(as_of) == 1 else
            f"evaluated as of {as_of[0]:%Y-%m-%d} .. {as_of[-1]:%Y-%m-%d}" if as_of else "")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<div class='meta'>{e(subtitle)} · {e(when)} · generated "
        f"{utcnow():%Y-%m-%d %H:%M} UTC</div>",
        "<div class='badges'>" + "".join(
            f"<span style='background:{COLORS.get(s, '#000')}'>{n} {e(s)}</span>"
            for s, n in sorted(counts.items(), key=lambda x: _order(x[0]))) + "</div>",
        "<h2>Checks</h2>", _summary_table(results),
    ]
    distributions = [r for r in results if r.plot]
    distributions.sort(key=lambda r: (_order(r.status), r.monitor, r.column or ""))
    if distributions:
        parts.append("<h2>Reference vs current distributions</h2>"
                     "<div class='legend'>share of rows per bin or category:"
                     f"<span style='background:{REF_COLOR}'></span>reference"
                     f"<span style='background:{CUR_COLOR}'></span>current</div>"
                     "<div class='grid'>")
        for result in distributions[:MAX_DISTRIBUTIONS]:
            parts.append(_distribution_card(result))
        parts.append("</div>")
        if len(distributions) > MAX_DISTRIBUTIONS:
            parts.append(f"<p>{len(distributions) - MAX_DISTRIBUTIONS} more not shown.</p>")
    series = _series(history)
    if series:
        parts.append("<h2>Statistics over time</h2><div class='grid'>")
        thresholds = {r.key: (r.warn, r.error) for r in results}
        tests = {r.key: r.test for r in results}
        for key, points in series.items():
            parts.append(_series_card(key, points, thresholds.get(key, (None, None)),
                                      tests.get(key, "")))
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _order(status: str) -> int:
    return {"error": 0, "warn": 1, "ok": 2, "no_data": 3}.get(status, 4)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.3e}"
    return f"{value:.4g}"


def _summary_table(results: list[CheckResult]) -> str:
    e = html.escape
    head = ("monitor", "check", "column", "test", "status", "statistic", "p-value", "warn",
            "error", "n ref", "n cur", "window", "note")
    rows = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
            "<tbody>"]
    for r in sorted(results, key=lambda r: (r.monitor, _order(r.status))):
        window = _window(r.window_start, r.window_end)
        cells = [
            e(r.monitor), e(r.check), e(r.column or ""), e(r.test),
            f"<span class='status' style='color:{COLORS.get(r.status, '#000')}'>"
            f"{e(r.status)}</span>",
            *(_value(r.test, v) for v in (r.statistic, r.p_value, r.warn, r.error)),
            f"{r.n_ref:,}" if r.n_ref is not None else "",
            f"{r.n_cur:,}" if r.n_cur is not None else "",
            f"<span style='white-space:nowrap'>{e(window)}</span>", e(r.message),
        ]
        numeric = {5, 6, 7, 8, 9, 10}
        rows.append("<tr>" + "".join(
            f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(cells)) + "</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _value(test: str, value: float | None) -> str:
    """Freshness in human units (1d 2h), everything else as a number."""
    if test == "freshness" and value is not None:
        from datetime import timedelta

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


def _distribution_card(result: CheckResult) -> str:
    e = html.escape
    plot = result.plot or {}
    color = COLORS.get(result.status, "#000")
    stat = f"{result.test} = {_fmt(result.statistic)}"
    if result.p_value is not None:
        stat += f", p = {_fmt(result.p_value)}"
    return (f"<div class='card'><h3>{e(result.monitor)} · {e(result.column or '')} "
            f"<span style='color:{color}'>{e(result.status)}</span></h3>"
            f"<p>{e(stat)} · n ref {result.n_ref or 0:,} · n cur {result.n_cur or 0:,}</p>"
            + bar_chart(plot.get("labels", []), plot.get("reference", []),
                        plot.get("current", [])) + "</div>")


def bar_chart(labels: list[str], reference: list[float], current: list[float],
              width: int = 540, height: int = 230) -> str:
    """Grouped bars (reference, current) per label as an inline SVG."""
    e = html.escape
    left, bottom, top = 40, 70, 10
    plot_h = height - bottom - top
    n = max(len(labels), 1)
    slot = (width - left - 10) / n
    peak = max([*reference, *current, 1e-9])
    out = [f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
           f"role='img'>"]
    for i in range(5):  # horizontal grid with share labels
        y = top + plot_h * (1 - i / 4)
        out.append(f"<line x1='{left}' x2='{width - 10}' y1='{y:.1f}' y2='{y:.1f}' "
                   f"stroke='#e9ecef'/><text x='{left - 4}' y='{y + 3:.1f}' "
                   f"text-anchor='end'>{peak * i / 4:.0%}</text>")
    bar = max(slot * 0.38, 1.0)
    for i, label in enumerate(labels):
        x = left + i * slot + slot * 0.1
        for j, (value, color) in enumerate(((reference[i], REF_COLOR),
                                            (current[i], CUR_COLOR))):
            h = plot_h * value / peak
            out.append(f"<rect x='{x + j * bar:.1f}' y='{top + plot_h - h:.1f}' "
                       f"width='{bar:.1f}' height='{h:.1f}' fill='{color}'>"
                       f"<title>{e(label)}: {value:.2%}</title></rect>")
        tx, ty = left + (i + 0.5) * slot, top + plot_h + 8
        out.append(f"<text x='{tx:.1f}' y='{ty:.1f}' text-anchor='end' "
                   f"transform='rotate(-40 {tx:.1f} {ty:.1f})'>{e(_short(label))}</text>")
    out.append("</svg>")
    return "".join(out)


def _short(label: str, size: int = 16) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def _series(history: list[dict[str, Any]]) -> dict[tuple[str, str, str | None], list[dict]]:
    """Per (monitor, check, column): the statistic at each evaluation time (latest kept)."""
    series: dict[tuple[str, str, str | None], dict[datetime, dict]] = defaultdict(dict)
    for row in history:
        if row["statistic"] is None or row["as_of"] is None:
            continue
        series[(row["monitor"], row["check"], row["column"])][row["as_of"]] = row
    out = {}
    for key, by_time in sorted(series.items(), key=lambda x: tuple(str(p) for p in x[0])):
        if len(by_time) >= 2:
            points = [by_time[t] for t in sorted(by_time)][-MAX_POINTS:]
            out[key] = points
    return out


def _series_card(key: tuple[str, str, str | None], points: list[dict],
                 thresholds: tuple[float | None, float | None], test: str) -> str:
    e = html.escape
    monitor, check, column = key
    title = f"{monitor} · {check}" + (f" · {column}" if column else "")
    return (f"<div class='card'><h3>{e(title)}</h3>"
            + line_chart(points, *thresholds, label=lambda v: _value(test, v)) + "</div>")


def line_chart(points: list[dict], warn: float | None, error: float | None,
               width: int = 540, height: int = 200, label: Any = _fmt) -> str:
    """The statistic over time, dots colored by status, dashed threshold lines."""
    left, right, top, bottom = 60, 10, 10, 30
    times = [p["as_of"].timestamp() for p in points]
    values = [float(p["statistic"]) for p in points]
    lines = [v for v in (warn, error) if v is not None]
    low = min([*values, *lines, 0.0])
    high = max([*values, *lines]) or 1.0
    high = high + (high - low) * 0.08
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0

    def x(t: float) -> float:
        return left + (width - left - right) * (t - t0) / span

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - low) / ((high - low) or 1.0))

    out = [f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img'>"]
    for i in range(5):
        v = low + (high - low) * i / 4
        out.append(f"<line x1='{left}' x2='{width - right}' y1='{y(v):.1f}' y2='{y(v):.1f}' "
                   f"stroke='#e9ecef'/><text x='{left - 4}' y='{y(v) + 3:.1f}' "
                   f"text-anchor='end'>{html.escape(label(v))}</text>")
    for value, color, name in ((warn, COLORS["warn"], "warn"), (error, COLORS["error"], "error")):
        if value is not None:
            out.append(f"<line x1='{left}' x2='{width - right}' y1='{y(value):.1f}' "
                       f"y2='{y(value):.1f}' stroke='{color}' stroke-dasharray='5 4'/>"
                       f"<text x='{width - right}' y='{y(value) - 3:.1f}' text-anchor='end' "
                       f"style='fill:{color}'>{name}</text>")
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}"
                    for i, (t, v) in enumerate(zip(times, values)))
    out.append(f"<path d='{path}' fill='none' stroke='#495057' stroke-width='1.5'/>")
    for point, t, v in zip(points, times, values):
        color = COLORS.get(point["status"], "#000")
        out.append(f"<circle cx='{x(t):.1f}' cy='{y(v):.1f}' r='3' fill='{color}'>"
                   f"<title>{point['as_of']:%Y-%m-%d %H:%M}: {html.escape(label(v))} "
                   f"({point['status']})"
                   f"</title></circle>")
    for t, anchor in ((t0, "start"), (t1, "end")):
        label = datetime.fromtimestamp(t).strftime("%Y-%m-%d")
        out.append(f"<text x='{x(t):.1f}' y='{height - 8}' text-anchor='{anchor}'>{label}</text>")
    out.append("</svg>")
    return "".join(out)
