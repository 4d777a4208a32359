"""Errors a user can act on. Each says what was wrong, where, and what to do."""

from __future__ import annotations


class CounterwatchError(Exception):
    """Base class; ``exit_code`` is what the command line exits with."""

    exit_code = 1


class InputError(CounterwatchError):
    """The workspace cannot be read at all: a missing table or column, or a file that does not parse."""

    exit_code = 2


class ConfigError(CounterwatchError):
    """``counterwatch.toml`` is malformed or holds a value out of range."""

    exit_code = 2


class NotFoundError(CounterwatchError):
    """No such object, or none the caller may see: both read the same, so existence does not leak.

    ``denied`` marks the second case, which is audited."""

    def __init__(self, message: str, *, denied: bool = False, entity: str = "", entity_id: str = "") -> None:
        super().__init__(message)
        self.denied = denied
        self.entity = entity
        self.entity_id = entity_id


class ConflictError(CounterwatchError):
    """The request clashes with the current state: decided already, appealed already, a skipped step."""


class RefusedError(CounterwatchError):
    """A rule forbids the request: the appeal window has passed, the same reviewer handling an appeal."""
