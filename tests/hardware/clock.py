"""A clock the tests move by hand, counting how often the code under test looks at it."""

from __future__ import annotations


class Clock:
    """The scanner's debounce clock: moved on by the test, counting the scanner's looks."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now
