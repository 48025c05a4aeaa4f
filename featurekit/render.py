"""rich renderings for the CLI: refresh progress, summaries and status tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from featurekit.refresh import ModelResult, ModelStatus

STATUS_STYLE = {
    "success": "green", "up_to_date": "dim", "skipped": "yellow", "failed": "bold red",
    "running": "cyan", "interrupted": "red", "ok": "green", "warn": "yellow",
    "error": "bold red", "no_data": "dim",
}


def styled(status: str | None) -> str:
    if status is None:
        return "[dim]never run[/]"
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


class RefreshDisplay:
    """Live progress on a terminal; one plain line per model elsewhere (cron, CI logs)."""

    def __init__(self, console: Console, total: int):
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
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
        if kind == "start":
            self.progress.update(self.task, description=f"refreshing {model}")
            return
        if kind == "finish":
            self.progress.advance(self.task)
        assert result is not None
        rows = f"{result.rows:,} rows" if result.rows is not None else ""
        line = f"{styled(result.status)} {model} {result.action} {rows} {result.seconds:.2f}s"
        if result.message:
            line += f" — {result.message}"
        self.console.print(line.replace("  ", " "), soft_wrap=True)


def refresh_summary(results: list[ModelResult]) -> Table:
    table = Table(title="refresh summary")
    for column in ("model", "status", "action", "rows", "seconds"):
        table.add_column(column, justify="right" if column in ("rows", "seconds") else "left")
    for r in results:
        table.add_row(r.model, styled(r.status), r.action or r.message,
                      f"{r.rows:,}" if r.rows is not None else "", f"{r.seconds:.2f}")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    table.caption = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"
    return table


def status_table(statuses: list[ModelStatus]) -> Table:
    table = Table(title="models")
    for column in ("model", "materialized", "entity", "refresh", "last success", "rows",
                   "status"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for s in statuses:
        table.add_row(
            s.model, s.materialized, ", ".join(s.entity), s.refresh or "",
            s.last_success.strftime("%Y-%m-%d %H:%M:%S") if s.last_success else "",
            f"{s.rows:,}" if s.rows is not None else "", styled(s.status),
        )
    return table
