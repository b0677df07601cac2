"""The only way domain code reads "now"; tests freeze it instead of sleeping.

from gongzhi.core import clock
clock.now()
with clock.frozen("2026-09-30T10:00+08:00"):
    ...
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

_frozen: list[dt.datetime] = []


def _parse(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def now() -> dt.datetime:
    """Aware current time (UTC-based, as Django stores it), or the frozen time."""
    if _frozen:
        return _frozen[-1]
    return timezone.now()


def today() -> dt.date:
    """Today's date in the deployment's time zone."""
    return timezone.localdate(now())


@contextlib.contextmanager
def frozen(at: dt.datetime | str) -> Iterator[Travel]:
    """Freeze time at `at` (naive values are in the deployment's zone); yields a handle to move it."""
    travel = Travel(_parse(at))
    _frozen.append(travel.at)
    try:
        yield travel
    finally:
        _frozen.pop()


class Travel:
    def __init__(self, at: dt.datetime):
        self.at = at

    def advance(self, **delta: float) -> dt.datetime:
        """Move the frozen clock forward by a timedelta given as keyword arguments."""
        self.at = self.at + dt.timedelta(**delta)
        _frozen[-1] = self.at
        return self.at

    def to(self, at: dt.datetime | str) -> dt.datetime:
        self.at = _parse(at)
        _frozen[-1] = self.at
        return self.at
