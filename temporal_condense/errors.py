"""Exceptions raised by temporal-condense.

Every error the library raises on bad input is a :class:`TemporalCondenseError`, which is a
:class:`ValueError`, so existing ``except ValueError`` clauses keep working. Messages name the argument,
the expected value and the actual value.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ShapeError", "TemporalCondenseError"]


class TemporalCondenseError(ValueError):
    """Base class of every error raised by temporal-condense on invalid input."""


class ShapeError(TemporalCondenseError):
    """A tensor has the wrong rank, layout, size, dtype or contents."""


class ConfigError(TemporalCondenseError):
    """A configuration value (or a combination of values) is invalid."""
