"""rich renderings for the CLI: refresh progress, summaries and status tables.

Names, reasons and messages come from users' files and from databases and may hold square
brackets, so they are always rendered as ``Text`` (never parsed as rich markup).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from featurekit.refresh import ModelResult, ModelStatus

STATUS_STYLE = {
    "success": "green", "up_to_date": "dim", "skipped": "yellow", "failed": "bold red",
    "running": "cyan", "interrupted": "red", "ok": "green", "warn": "yellow",
    "error": "bold red", "no_data": "dim",
}


def styled(status: str | None) -> Text:
    if status is None:
        return Text("never run", style="dim")
    return Text(status, style=STATUS_STYLE.get(status, "white"))


def message(label: str, text: object, style: str = "bold red") -> Text:
    """``label: text`` with the label styled and the text exactly as given."""
    return Text.assemble((f"{label}: ", style), str(text))


def _cells(values: Iterable[object]) -> list[Text]:
    """Table cells shown verbatim: ``str`` would be parsed as markup by rich."""
    return [value if isinstance(value, Text) else Text(str(value)) for value in values]


class RefreshDisplay:
    """Live progress on a terminal; one plain line per model elsewhere (cron, CI logs)."""

    def __init__(self, console: Console, total: int):
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self.task = self.progress.add_task("refreshing", total=total)

    def __enter__(self) -> RefreshDisplay:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def event(self, kind: str, model: str, result: ModelResult | None) -> None:
        if kind in ("test_start", "test_finish"):
            self._test_event(kind, model, result)
            return
        if kind == "start":
            self.progress.update(self.task, description=f"refreshing {model}")
            if not self.live:  # logs say when each model began: a hang shows where it is
                self.console.print(Text.assemble(("start", "cyan"), f" {model}"))
            return
        if kind == "recovered":
            self.console.print(Text(f"{model}: its last run was interrupted; marked so",
                                    style="yellow"))
            return
        if kind == "finish":
            self.progress.advance(self.task)
        assert result is not None
        if result.status == "up_to_date":
            return  # the summary lists them; a line each would drown what ran
        rows = f"{result.rows:,} rows" if result.rows is not None else ""
        line = f" {model} {result.action} {rows} {result.seconds:.2f}s".replace("  ", " ")
        if result.message:
            line += f" — {result.message}"
        self.console.print(Text.assemble(styled(result.status), line), soft_wrap=True)


    def _test_event(self, kind: str, test: str, result: Any) -> None:
        """build: a line per finished test that did not pass (the table lists all)."""
        if kind == "test_finish" and result.status != "pass":
            line = f" test {test} {result.message}".rstrip()
            self.console.print(Text.assemble(styled(result.status), line), soft_wrap=True)


def test_table(results: list) -> Table:
    """``featurekit test``: one row per test with its status and failing rows."""
    table = Table(title="tests")
    for column in ("test", "model", "status", "failures", "where", "message"):
        table.add_column(column, justify="right" if column == "failures" else "left")
    for r in results:
        table.add_row(*_cells((r.test, r.model or "", styled(r.status),
                               "" if r.failures is None else f"{r.failures:,}",
                               f"{r.path}:{r.line}", r.message + _first_sample(r.samples))))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    table.caption = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no tests"
    return table


def _first_sample(samples: list[dict]) -> str:
    """``; e.g. order_id=4, n_records=2``: the first failing row, cut to a readable length."""
    if not samples:
        return ""
    text = ", ".join(f"{column}={value}" for column, value in samples[0].items())
    return f"; e.g. {text[:77] + '...' if len(text) > 80 else text}"


def refresh_summary(results: list[ModelResult]) -> Table:
    table = Table(title="refresh summary")
    for column in ("model", "status", "why", "action", "rows", "seconds"):
        table.add_column(column, justify="right" if column in ("rows", "seconds") else "left")
    for r in results:
        table.add_row(*_cells((r.model, styled(r.status), r.reason, r.action or r.message,
                               f"{r.rows:,}" if r.rows is not None else "",
                               f"{r.seconds:.2f}" if r.status != "up_to_date" else "")))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    table.caption = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"
    return table


def plan_table(results: list[ModelResult]) -> Table:
    """``refresh --dry-run``: what would run and why."""
    table = Table(title="refresh plan (dry run: nothing was changed)")
    table.add_column("model")
    table.add_column("verdict")
    table.add_column("why")
    for r in results:
        verdict = Text("would run", "cyan") if r.status == "due" else Text("skip", "dim")
        table.add_row(*_cells((r.model, verdict, r.reason)))
    due = sum(r.status == "due" for r in results)
    table.caption = f"{due} of {len(results)} models due"
    return table


def _time(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def status_table(statuses: list[ModelStatus]) -> Table:
    table = Table(title="models")
    for column in ("model", "materialized", "entity", "refresh", "last success", "data until",
                   "lag", "rows", "status"):
        table.add_column(column, justify="right" if column in ("rows", "lag") else "left")
    from featurekit.durations import format_duration
    from featurekit.state import utcnow

    now = utcnow()
    for s in statuses:
        lag = format_duration(now - s.high_water_mark) if s.high_water_mark else ""
        table.add_row(*_cells((
            s.model, s.materialized, ", ".join(s.entity), s.refresh or "",
            _time(s.last_success), _time(s.high_water_mark), lag,
            f"{s.rows:,}" if s.rows is not None else "", styled(s.status),
        )))
    return table


def freshness_table(results: list) -> Table:
    """One row per source with ``freshness:``: its newest row, age and thresholds."""
    from datetime import timedelta

    from featurekit.durations import format_duration

    def duration(seconds: float | None) -> str:
        return format_duration(timedelta(seconds=seconds)) if seconds is not None else ""

    table = Table(title="source freshness")
    for column in ("source", "relation", "timestamp", "newest row", "age", "warn after",
                   "error after", "status", "note"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("age", "warn after", "error after")
                         else "left")
    for r in results:
        table.add_row(*_cells((
            r.source, r.relation, r.timestamp_column, _time(r.newest), duration(r.age_seconds),
            duration(r.warn_after_seconds), duration(r.error_after_seconds), styled(r.status),
            r.message,
        )))
    return table


def monitor_table(results: list) -> Table:
    """One row per check result of ``featurekit monitor``, status colored.

    Columns no result fills (p-values without a hypothesis test, ...) are left out, and
    cells wrap on narrow consoles (long names fold) rather than being cut: a status or a
    statistic never reads "err…".
    """
    rows = [_cells((
        r.monitor, r.check, r.column or "", r.test, styled(r.status),
        *(_check_value(r.test, v) for v in (r.statistic, r.p_value, r.warn, r.error)),
        f"{r.n_ref:,}" if r.n_ref is not None else "",
        f"{r.n_cur:,}" if r.n_cur is not None else "", r.message,
    )) for r in results]
    names = ("monitor", "check", "column", "test", "status", "statistic", "p-value",
             "warn", "error", "n ref", "n cur", "note")
    keep = [i for i, name in enumerate(names)
            if name in ("monitor", "check", "test", "status") or any(row[i] for row in rows)]
    table = Table(title="monitor results")
    for i in keep:
        numeric = names[i] in ("statistic", "p-value", "warn", "error", "n ref", "n cur")
        # No min_width: rich cannot honour one when collapsing, and would cut the border.
        table.add_column(names[i], justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    table.caption = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing due"
    return table


def failing_checks(results: list, fail_on: str) -> list[str]:
    """One line per check at ``fail_on`` or worse: how often, and first and last time.

    What a backfill prints instead of its hundreds of rows when it exits 1.
    """
    from featurekit.monitoring.checks import SEVERITY

    seen: dict[tuple[str, str, str | None, str], list] = {}
    for r in results:
        if SEVERITY.get(r.status, 0) >= SEVERITY[fail_on]:
            seen.setdefault((r.monitor, r.check, r.column, r.status), []).append(r.as_of)
    lines = []
    for (monitor, check, column, status), times in seen.items():
        times = sorted(t for t in times if t is not None)
        span = f"{_time(times[0])} .. {_time(times[-1])}" if times else ""
        where = f"{monitor}: {check}" + (f" on {column}" if column else "")
        lines.append(f"{where} at {status} {len(times)} times ({span})")
    return lines


def _check_value(test: str, value: float | None) -> str:
    if test == "freshness" and value is not None:
        from datetime import timedelta

        from featurekit.durations import format_duration

        return format_duration(timedelta(seconds=value))
    return _number(value)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4g}"


def services_table(services: list) -> Table:
    """One row per feature service: version, views and features (``feature_services.yml``)."""
    table = Table(title="feature services")
    for column in ("service", "version", "views", "features", "description"):
        table.add_column(column)
    for s in services:
        table.add_row(*_cells((s.name, s.version or "", ", ".join(s.views),
                               ", ".join(s.features), s.description)))
    return table
