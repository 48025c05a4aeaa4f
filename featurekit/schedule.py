"""When a model's ``refresh:`` schedule next comes due: a duration or a cron expression."""

from __future__ import annotations

from datetime import datetime

from featurekit.durations import is_duration, parse_duration


def next_due(schedule: str, last_success: datetime) -> datetime:
    """The first moment after ``last_success`` at which ``schedule`` makes the model due.

    Durations count from the last success; cron expressions give their next tick after it
    (all times naive UTC).

    >>> next_due("1h", datetime(2024, 1, 1, 10, 30))
    datetime.datetime(2024, 1, 1, 11, 30)
    >>> next_due("0 * * * *", datetime(2024, 1, 1, 10, 30))
    datetime.datetime(2024, 1, 1, 11, 0)
    """
    if is_duration(schedule):
        return last_success + parse_duration(schedule)
    from croniter import croniter

    return croniter(schedule, last_success).get_next(datetime)
