"""The ``featurekit`` command: thin click commands over ``Project`` methods, rendered with rich."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from featurekit.errors import FeaturekitError

#: width of tables written where no terminal or COLUMNS says one (cron mail, CI logs)
LOG_WIDTH = 160


class _Output:
    """How this invocation speaks: set by the group options (--quiet, --log-format)."""

    quiet = False
    log_format = "text"
    log: Any = None  # the EventLog of the running command
    results: list[Any] = []  # what it did, for target/run_results.json

    @classmethod
    def silent(cls) -> bool:
        """True when the rich console says nothing (quiet, or JSON events instead)."""
        return cls.quiet or cls.log_format == "json"


def _console(stderr: bool = False):
    """A console as wide as the terminal or ``COLUMNS``; LOG_WIDTH when neither says.

    Markup is off: what is printed (names, paths, messages from users' files and databases)
    appears exactly as written, square brackets included; styles come from ``Text``.
    """
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, markup=False, quiet=_Output.silent())
    if "COLUMNS" not in os.environ and not _has_terminal():
        console.width = LOG_WIDTH
    return console


def _has_terminal() -> bool:
    """True when any standard stream is a terminal (rich then reads its width)."""
    for fd in (0, 1, 2):
        try:
            os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        return True
    return False


def _error(text: object, label: str = "error", style: str = "bold red") -> None:
    """Print ``label: text`` to stderr on one line; the text is never read as markup.

    Shown with --quiet too; with --log-format json it is an event of level error or warn.
    """
    from featurekit.render import message

    if _Output.log_format == "json":
        warning = style == "yellow"
        _events().emit("message" if warning else "error", f"{label}: {text}",
                       level="warn" if warning else "error")
        return
    console = _console(stderr=True)
    console.quiet = False
    console.print(message(label, text, style), soft_wrap=True)


def _events():
    """The running command's EventLog (a text one, which writes nothing, outside commands)."""
    from featurekit.logevents import EventLog

    if _Output.log is None:
        _Output.log = EventLog(_Output.log_format)
    return _Output.log


def project_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--project-dir / --target / --profiles-dir, shared by every command that opens a project."""

    @click.option("--project-dir", default=".", show_default=True, type=click.Path(),
                  help="The project folder (or any folder inside it).")
    @click.option("--target", "-t", default=None, envvar="FEATUREKIT_TARGET",
                  help="profiles.yml output to use [env: FEATUREKIT_TARGET].")
    @click.option("--profiles-dir", default=None, envvar="FEATUREKIT_PROFILES_DIR",
                  help="Folder holding profiles.yml [env: FEATUREKIT_PROFILES_DIR].")
    @functools.wraps(command)
    def wrapper(*args: Any, project_dir: str, target: str | None, profiles_dir: str | None,
                **kwargs: Any) -> Any:
        from featurekit.project import Project

        run = _Invocation(click.get_current_context().info_name or command.__name__)
        code = 2
        project = Project(project_dir, target=target, profiles_dir=profiles_dir)
        try:
            command(project, *args, **kwargs)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
            raise
        except FeaturekitError as exc:
            code = exc.exit_code
            raise
        finally:
            run.finish(project, code)
            project.close()

    return wrapper


class _Invocation:
    """One command run on a project: its events, results and target/*.json artifacts."""

    def __init__(self, command: str):
        import time
        import uuid

        from featurekit.logevents import EventLog
        from featurekit.state import utcnow

        self.command, self.id = command, uuid.uuid4().hex
        self.started_at, self.clock = utcnow(), time.perf_counter()
        _Output.log = EventLog(_Output.log_format, command, self.id)
        _Output.log.emit("command_started", f"featurekit {command}", args=sys.argv[1:])
        _Output.results = []

    def finish(self, project, code: int) -> None:
        import time

        from featurekit.manifest import write_artifacts

        elapsed = time.perf_counter() - self.clock
        # only the catalog, read when connected, queries the database
        query_errors = project.engine.errors if project.is_connected else ()
        try:
            write_artifacts(project, self.command, self.id, self.started_at, elapsed, code,
                            _Output.results, sys.argv[1:],
                            catalog=code in (0, 1) and project.is_connected)
        except (FeaturekitError, OSError, *query_errors) as exc:
            # the command's own outcome stands: a read-only folder or a broken monitor file
            # costs the artifacts, not the exit code
            if code in (0, 1):  # a command that already failed said why
                _error(f"target/*.json not written: {exc}", "warning", "yellow")
        _Output.log.emit("command_finished", f"featurekit {self.command} exited {code}",
                         level="error" if code else "info", exit_code=code,
                         elapsed_seconds=elapsed)


def _results(results: list[Any]) -> None:
    """Results the running command reports in target/run_results.json."""
    _Output.results.extend(results)


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--select / --exclude: dbt-style model selectors (featurekit/selection.py)."""
    command = click.option(
        "--exclude", multiple=True,
        help="Leave out models matching these selectors (same syntax as --select).",
    )(command)
    return click.option(
        "--select", "-s", multiple=True,
        help="Models: name, glob, tag:T, path:DIR, config.materialized:M, source:S; "
             "+ before (ancestors) or after (descendants).",
    )(command)


def output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--output table|json: json prints one JSON document on stdout (docs/json-output.md)."""
    return click.option(
        "--output", "-o", type=click.Choice(["table", "json"]), default="table",
        show_default=True,
        help="table for people; json: one JSON document on stdout, messages on stderr.",
    )(command)


def _print_json(command: str, project, exit_code: int, **parts: Any) -> None:
    from featurekit.jsonout import document

    click.echo(document(command, project.target.name, exit_code, **parts))


class FeaturekitGroup(click.Group):
    """Turns FeaturekitError into one clear line and its exit code (no traceback)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # --debug, --quiet and --log-format are the group's options, but people add them at
        # the end of a command line.
        end = args.index("--") if "--" in args else len(args)
        front, rest, index = [], [], 0
        while index < end:
            arg = args[index]
            if arg in ("--debug", "--quiet", "-q") or arg.startswith("--log-format="):
                front.append(arg)
            elif arg == "--log-format" and index + 1 < end:
                front += [arg, args[index + 1]]
                index += 1
            else:
                rest.append(arg)
            index += 1
        return super().parse_args(ctx, [*front, *rest, *args[end:]])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeaturekitError as exc:
            if ctx.params.get("debug") or os.environ.get("FEATUREKIT_DEBUG"):
                raise
            _error(exc)
            sys.exit(exc.exit_code)


@click.group(cls=FeaturekitGroup)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--quiet", "-q", is_flag=True,
              help="Print only errors (and what --output json or compile return).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="json: one JSON object per event on stderr, for log shippers.")
@click.version_option(package_name="featurekit")
def main(debug: bool, quiet: bool, log_format: str) -> None:
    """featurekit: SQL feature models, point-in-time training sets and model monitoring.

    Commands that open a project write target/manifest.json and target/run_results.json.
    """
    _Output.quiet, _Output.log_format, _Output.log = quiet, log_format, None
    _Output.results = []


@main.command()
@project_options
@selection_options
@click.option("--full-refresh", is_flag=True, help="Rebuild everything from scratch.")
@click.option("--all", "all_models", is_flag=True, help="Ignore schedules: run every model.")
@click.option("--dry-run", is_flag=True, help="Print what is due and why; change nothing.")
@click.option("--watch", is_flag=True,
              help="Keep running: refresh models as they come due (stop with Ctrl-C).")
@click.option("--max-sleep", default=60.0, show_default=True, hidden=True)
@output_option
def refresh(project, select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool,
            all_models: bool, dry_run: bool, watch: bool, max_sleep: float,
            output: str) -> None:
    """Refresh the models that are due, in dependency order.

    A model is due when its schedule elapsed, its SQL changed, an input has newer data, it
    was never built, or its last run failed. Called from cron every minute, this is a complete
    scheduler. Exit code 0: all ok; 1: a model failed; 2: usage or configuration error.
    """
    from featurekit.errors import ConfigError
    from featurekit.render import RefreshDisplay, plan_table, refresh_summary

    as_json = output == "json"
    console = _console(stderr=as_json)  # with --output json, stdout holds only the document
    selection, excluded = list(select), list(exclude)
    if watch and exclude:
        raise ConfigError("--watch takes --select only")
    if watch and as_json:
        raise ConfigError("--output json describes one refresh; --watch runs until stopped")
    console.print(f"featurekit refresh: {project.target.name} ({project.target.describe()})")
    if dry_run:
        plan = project.refresh(selection, full_refresh=full_refresh, all_models=all_models,
                               dry_run=True, exclude=excluded)
        _results(plan)
        if as_json:
            _print_json("refresh", project, 0, dry_run=True, models=plan)
        else:
            console.print(plan_table(plan))
        sys.exit(0)
    stop = _stop_on_signals(console)
    if watch:
        _watch(project, selection, stop, console, max_sleep)
        sys.exit(0)
    with RefreshDisplay(console, total=len(project.select(selection, excluded))) as display:
        results = project.refresh(selection, full_refresh=full_refresh, all_models=all_models,
                                  on_event=_both(display.event), should_stop=stop.is_set,
                                  exclude=excluded)
    _results(results)
    failed = [r for r in results if r.status == "failed"]
    if as_json:
        _print_json("refresh", project, 1 if failed else 0, dry_run=False, models=results)
    else:
        console.print(refresh_summary(results))
    for result in failed:
        _error(result.message, f"{result.model} failed")
    sys.exit(1 if failed else 0)


def _both(display_event: Callable[..., None]) -> Callable[..., None]:
    """A progress callback feeding the rich display and the JSON event log."""
    def event(kind: str, name: str, result: Any) -> None:
        display_event(kind, name, result)
        _events().model_event(kind, name, result)

    return event


def _stop_on_signals(console):
    """SIGINT/SIGTERM stop after the running model; a second SIGINT stops at once."""
    import signal
    import threading

    stop = threading.Event()

    def handle(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        console.print("stopping after the running model finishes", style="yellow")

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _watch(project, selection: list[str], stop, console, max_sleep: float) -> None:
    from featurekit.render import RefreshDisplay, message

    def cycle(results, wake) -> None:
        ran = [r for r in results if r.status not in ("up_to_date",)]
        when = f"next model due {wake:%Y-%m-%d %H:%M:%S} UTC" if wake else "no schedules"
        console.print(f"cycle done: {len(ran)} ran; {when}")

    def failed(error) -> None:
        console.print(message("cycle failed", f"{error}; retrying next cycle"), soft_wrap=True)

    display = RefreshDisplay(console, total=0)
    display.live = False  # a long-running loop logs lines, it does not redraw
    cycles = project.watch(stop, selection, on_cycle=cycle, on_error=failed,
                           on_event=_both(display.event), max_sleep=max_sleep)
    console.print(f"stopped after {cycles} cycles")


@main.command(name="compile")
@project_options
@selection_options
def compile_(project, select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Print each model's final SQL for the target."""
    from rich.syntax import Syntax

    console = _console()
    for name, sql in project.compile(list(select), list(exclude), pretty=True).items():
        console.rule(f"{name} ({project.models[name].materialized})")
        if console.is_terminal and not console.quiet:
            console.print(Syntax(sql, "sql"))
        else:
            click.echo(sql + ";")


@main.command(name="ls")
@project_options
@selection_options
@output_option
def ls(project, select: tuple[str, ...], exclude: tuple[str, ...], output: str) -> None:
    """List models with materialization, entity, schedule and last run, the freshness
    of the sources that declare it, and the feature services."""
    from featurekit.render import freshness_table, services_table, status_table

    statuses = project.ls(list(select), list(exclude))
    sources = project.freshness(record=False)
    services = list(project.feature_services.values())
    if output == "json":
        _print_json("ls", project, 0, models=statuses, sources=sources,
                    feature_services=services)
        return
    console = _console()
    console.print(status_table(statuses))
    if sources:
        console.print(freshness_table(sources))
    if services:
        console.print(services_table(services))


#: event level of a check's or source's status
_LEVEL = {"warn": "warn", "error": "error"}


@main.command(name="test")
@project_options
@selection_options
@output_option
def test_(project, select: tuple[str, ...], exclude: tuple[str, ...], output: str) -> None:
    """Run the data tests of the selected models (tests: in model headers, tests_sql/*.sql).

    Each test is one query in the engine; results go to the metadata schema (table
    test_results). Exit code 0: every test passed or only warned; 1: a test of severity error
    failed; 2: usage or configuration error.
    """
    from featurekit.render import test_table

    as_json = output == "json"
    console = _console(stderr=as_json)
    results = project.test(list(select), list(exclude), on_event=_events().model_event)
    _results(results)
    code = 1 if any(r.blocks for r in results) else 0
    if as_json:
        _print_json("test", project, code, tests=results)
    else:
        console.print(test_table(results))
    sys.exit(code)


@main.command()
@project_options
@selection_options
@click.option("--full-refresh", is_flag=True, help="Rebuild everything from scratch.")
@click.option("--all", "all_models", is_flag=True, help="Ignore schedules: run every model.")
@output_option
def build(project, select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool,
          all_models: bool, output: str) -> None:
    """Refresh the selected models and run their tests, in dependency order.

    A model whose error-severity test fails stops its descendants (reported as skipped);
    warn tests only report. Exit code 0: all ok; 1: a model or an error test failed;
    2: usage or configuration error.
    """
    from featurekit.render import RefreshDisplay, refresh_summary, test_table

    as_json = output == "json"
    console = _console(stderr=as_json)
    console.print(f"featurekit build: {project.target.name} ({project.target.describe()})")
    stop = _stop_on_signals(console)
    selection, excluded = list(select), list(exclude)
    with RefreshDisplay(console, total=len(project.select(selection, excluded))) as display:
        result = project.build(selection, excluded, full_refresh=full_refresh,
                               all_models=all_models, on_event=_both(display.event),
                               should_stop=stop.is_set)
    _results([*result.models, *result.tests])
    code = 1 if result.failed else 0
    if as_json:
        _print_json("build", project, code, models=result.models, tests=result.tests)
    else:
        console.print(refresh_summary(result.models))
        if result.tests:
            console.print(test_table(result.tests))
    for model in result.models:
        if model.status == "failed":
            _error(model.message, f"{model.model} failed")
    sys.exit(code)


@main.command()
@project_options
@click.option("--select", "-s", multiple=True,
              help="Sources by name or glob (default: every source with freshness:).")
@click.option("--as-of", default=None, help="Judge as if at this time (2024-03-31T12:00).")
@click.option("--fail-on", type=click.Choice(["error", "warn"]), default="error",
              show_default=True, help="Exit 1 when any source is at this status or worse.")
@output_option
def freshness(project, select: tuple[str, ...], as_of: str | None, fail_on: str,
              output: str) -> None:
    """Check how old the newest row of each source with `freshness:` in sources.yml is.

    Results are appended to the metadata schema (table source_freshness). Exit code 0: all
    fresh; 1: a source is at error (or warn, with --fail-on warn); 2: usage or configuration
    error.
    """
    from featurekit.freshness import SEVERITY
    from featurekit.render import freshness_table

    results = project.freshness(list(select), as_of=as_of)
    _results(results)
    for r in results:
        _events().emit("source_checked", f"{r.source} {r.status}: {r.message}",
                       level=_LEVEL.get(r.status, "info"), source=r.source, status=r.status,
                       age_seconds=r.age_seconds, newest=r.newest, message=r.message)
    code = int(any(SEVERITY[r.status] >= SEVERITY[fail_on] for r in results))
    if output == "json":
        _print_json("freshness", project, code, sources=results)
    elif results:
        _console().print(freshness_table(results))
    else:
        _console().print(f"no source in {project.settings.models}/sources.yml declares "
                         f"freshness: {{warn_after: ..., error_after: ...}}")
    sys.exit(code)


@main.command()
@click.argument("directory", type=click.Path())
def init(directory: str) -> None:
    """Create a new project in DIRECTORY that refreshes out of the box."""
    from featurekit.scaffold import scaffold

    written = scaffold(directory)
    console = _console()
    for path in written:
        console.print(f"  created {path}")
    console.print(f"next: cd {directory} && featurekit refresh && featurekit monitor")



@main.command()
@project_options
@click.option("--select", "-s", multiple=True, help="Monitors by name or glob (default: all).")
@click.option("--all", "run_all", is_flag=True, help="Ignore schedules: run every monitor.")
@click.option("--as-of", default=None, help="Evaluate as if at this time (2024-03-31T12:00).")
@click.option("--backfill", is_flag=True, help="Evaluate at every --every from --start to --end.")
@click.option("--start", default=None, help="First evaluation time of a backfill.")
@click.option("--end", default=None, help="Last evaluation time of a backfill (inclusive).")
@click.option("--every", default="1d", show_default=True, help="Backfill step (a duration).")
@click.option("--fail-on", type=click.Choice(["error", "warn"]), default="error",
              show_default=True, help="Exit 1 when any check is at this status or worse.")
@click.option("--report", "report_path", default=None, type=click.Path(),
              help="Write a self-contained HTML report here.")
@click.option("--report-json", "report_json", default=None, type=click.Path(),
              help="Write the report's content (windows, checks, plots, history) as JSON.")
@click.option("--prometheus", "prometheus_path", default=None, type=click.Path(),
              help="Write Prometheus textfile-collector metrics here (atomically).")
@click.option("--prometheus-rules", "rules_path", default=None, type=click.Path(),
              help="Write Prometheus alerting rules from the monitors' thresholds here and "
                   "exit (nothing is evaluated).")
@click.option("--alert-for", default="5m", show_default=True,
              help="With --prometheus-rules: how long a condition holds before it fires.")
@output_option
def monitor(project, select: tuple[str, ...], run_all: bool, as_of: str | None, backfill: bool,
            start: str | None, end: str | None, every: str, fail_on: str,
            report_path: str | None, report_json: str | None, prometheus_path: str | None,
            rules_path: str | None, alert_for: str, output: str) -> None:
    """Run drift, data-quality, freshness and performance monitors (monitors/*.yml)."""
    from featurekit.errors import ConfigError
    from featurekit.render import failing_checks, monitor_table

    if rules_path:
        written = project.monitor_rules(rules_path, list(select) or None, for_=alert_for)
        _console(stderr=output == "json").print(f"alerting rules written to {written}")
        return

    if backfill and (start is None or end is None):
        raise ConfigError("--backfill needs --start and --end (and optionally --every 1d)")
    window = (start, end, every) if backfill else None
    run = project.monitor(list(select), run_all=run_all, as_of=as_of, backfill=window)
    code = 1 if run.failed(fail_on) else 0
    _results(run.results)
    for r in run.results:
        column = f" {r.column}" if r.column else ""
        _events().emit("check_finished", f"{r.monitor} {r.check}{column}: {r.status}",
                       level=_LEVEL.get(r.status, "info"), monitor=r.monitor, check=r.check,
                       column=r.column, test=r.test, status=r.status, statistic=r.statistic,
                       p_value=r.p_value, as_of=r.as_of, message=r.message)
    as_json = output == "json"
    console = _console(stderr=as_json)  # with --output json, stdout holds only the document
    if as_json:
        _print_json("monitor", project, code, results=run.results, not_due=run.not_due,
                    # not the webhook URL: it may carry a token
                    alerts=[{"monitor": d.monitor, "changes": d.changes,
                             "delivered": d.delivered, "attempts": d.attempts,
                             "error": d.error} for d in run.deliveries])
    elif backfill:
        console.print(f"backfilled {len(run.results)} results for {', '.join(run.monitors)}")
        for line in failing_checks(run.results, fail_on):
            console.print(f"  {line}")
    else:
        console.print(monitor_table(run.results))
    if run.not_due:
        console.print(f"not due: {', '.join(run.not_due)} (--all to run anyway)", style="dim")
    for delivery in run.deliveries:
        if not delivery.delivered:
            _error(f"not delivered to {delivery.url} after {delivery.attempts} attempts: "
                   f"{delivery.error}", f"alert for {delivery.monitor}", "yellow")
    if prometheus_path:
        console.print(f"metrics written to {project.monitor_metrics(run, prometheus_path)}")
    if report_path or report_json:
        for written in project.monitor_report(run, report_path, report_json):
            console.print(f"report written to {written}")
    sys.exit(code)


@main.command(name="train-set")
@project_options
@click.option("--labels", "labels", required=True,
              help="Label rows: a .parquet or .csv file, or a SQL query (SELECT ...).")
@click.option("--features", "-f", multiple=True, required=True,
              help="view.column, view.* or a feature service's name (repeat the option or "
                   "separate with commas).")
@click.option("--timestamp", default="event_timestamp", show_default=True,
              help="Label column holding each row's point in time (naive = UTC).")
@click.option("--entity", multiple=True,
              help="ENTITY=LABEL_COLUMN when a label column is named differently.")
@click.option("--full-names", is_flag=True, help="Name feature columns view__column.")
@click.option("--out", default=None, type=click.Path(), help="Output .parquet or .csv file.")
@click.option("--save", default=None,
              help="Also save it as NAME with a manifest (see `featurekit datasets`).")
@click.option("--overwrite", is_flag=True, help="With --save: replace a saved NAME.")
def train_set(project, labels: str, features: tuple[str, ...], timestamp: str,
              entity: tuple[str, ...], full_names: bool, out: str | None, save: str | None,
              overwrite: bool) -> None:
    """Write a point-in-time correct training set: labels joined with feature values."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from featurekit.errors import ConfigError

    mapping = dict(pair.split("=", 1) for pair in entity if "=" in pair)
    if len(mapping) != len(entity):
        raise ConfigError("--entity takes ENTITY=LABEL_COLUMN, e.g. --entity customer_id=buyer")
    if out is None and save is None:
        raise ConfigError("say where the training set goes: --out FILE and/or --save NAME")
    wanted = [f.strip() for option in features for f in option.split(",") if f.strip()]
    console = _console()
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False),
                  TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("starting")

        def step(message: str) -> None:
            bar.update(task, description=message)
            if not console.is_terminal:
                console.print(f"  {message}")

        rows = project.write_training_set(labels, wanted, out, timestamp=timestamp,
                                          full_names=full_names, entity_columns=mapping,
                                          progress=step, save=save, overwrite=overwrite)
    plural = "row" if rows == 1 else "rows"
    if out is not None:
        console.print(f"wrote {rows:,} {plural} to {out}")
    if save is not None:
        dataset = project.dataset(save)
        console.print(f"saved as {save}: {rows:,} {plural} in {dataset.path} "
                      f"(content hash {dataset.content_hash[:16]})")


@main.group()
def datasets() -> None:
    """Saved training sets (train-set --save NAME): list, show, verify."""


@datasets.command(name="ls")
@project_options
def datasets_ls(project) -> None:
    """List the saved training sets of the target."""
    from featurekit.render import datasets_table

    _console().print(datasets_table(project.datasets()))


@datasets.command(name="show")
@click.argument("name")
@project_options
def datasets_show(project, name: str) -> None:
    """Print the manifest of a saved training set (JSON)."""
    import json

    dataset = project.dataset(name)
    click.echo(json.dumps({"name": dataset.name, "path": dataset.path,
                           "created_at": dataset.created_at.isoformat() + "Z",
                           **dataset.manifest}, indent=2))


@datasets.command(name="verify")
@click.argument("name")
@project_options
def datasets_verify(project, name: str) -> None:
    """Rebuild a saved training set and compare it; exit 0 identical, 1 different."""
    from featurekit.render import verification_lines

    result = project.verify_training_set(name)
    console = _console()
    for line in verification_lines(result):
        console.print(line)
    sys.exit(0 if result.identical else 1)


@main.group()
def docs() -> None:
    """A static documentation site: models, columns, lineage, runs and monitors."""


@docs.command(name="generate")
@project_options
@click.option("--out", default=None, type=click.Path(),
              help="Folder for the site [default: target/docs in the project].")
def docs_generate(project, out: str | None) -> None:
    """Write the docs site (one index.html that opens offline, from file://)."""
    from featurekit.docsite import generate_docs

    page = generate_docs(project, out)
    _console().print(f"docs written to {page}")


@docs.command(name="serve")
@click.option("--project-dir", default=".", show_default=True, type=click.Path(),
              help="The project folder (or any folder inside it).")
@click.option("--dir", "folder", default=None, type=click.Path(),
              help="The generated site [default: target/docs in the project].")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 to serve on.")
def docs_serve(project_dir: str, folder: str | None, port: int) -> None:
    """Serve the generated docs site on localhost until Ctrl-C."""
    from featurekit.docsite import DEFAULT_FOLDER, serve_docs
    from featurekit.project import find_project_root

    site = folder if folder is not None else find_project_root(project_dir) / DEFAULT_FOLDER
    console = _console()
    try:
        serve_docs(site, port, on_ready=lambda url: console.print(
            f"serving {site} at {url} (Ctrl-C to stop)"))
    except KeyboardInterrupt:
        console.print("stopped")


@main.command()
@project_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6566, show_default=True, type=int, help="Port (Feast's default).")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Worker processes (PostgreSQL targets; a DuckDB file admits one).")
@click.option("--access-log", is_flag=True, help="Log every request.")
def serve(project, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve online features (Feast's JSON shape), prediction/outcome logs, /health and
    /metrics over HTTP; the OpenAPI page is at /docs."""
    from featurekit.server import serve as run_server

    run_server(project, host=host, port=port, workers=workers, access_log=access_log)


if __name__ == "__main__":  # pragma: no cover
    main()
