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
