"""Errors that tickflow reports to a person in one line (the CLI prints them and exits non-zero)."""
from __future__ import annotations


class StackError(RuntimeError):
    """A service tickflow needs is missing, unreachable or refused what was asked of it."""
