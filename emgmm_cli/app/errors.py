"""The one error the use cases raise themselves: a request that makes no sense."""

from __future__ import annotations


class UsageProblem(ValueError):
    """Options that contradict each other or name impossible outputs (exit status 2; in
    the Python API, a ValueError).

    option: the option the problem is about, where there is one (for the message).
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class MissingExtra(Exception):
    """An optional library a request needs is not installed (exit status 1); the message
    names the extra that brings it."""
