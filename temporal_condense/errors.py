"""Exceptions raised by temporal-condense.

Every error the library raises on bad input is a :class:`TemporalCondenseError`, which is a
:class:`ValueError`, so existing ``except ValueError`` clauses keep working. Messages name the argument,
the expected value and the actual value.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ShapeError", "TemporalCondenseError", "TensorOpError"]


class TemporalCondenseError(ValueError):
    """Base class of every error raised by temporal-condense on invalid input."""


class ShapeError(TemporalCondenseError):
    """A tensor has the wrong rank, layout, size, dtype or contents."""


class ConfigError(TemporalCondenseError):
    """A configuration value (or a combination of values) is invalid."""


class TensorOpError(TemporalCondenseError, AttributeError):
    """A tensor operation that a synthetic set cannot honour (e.g. ``synset.data[...] = ...``).

    Synthetic sets stand in for the tensor of synthetic videos in published loops; where a loop does something
    only a tensor can do, this error says what to write instead. It is also an :class:`AttributeError`, so
    ``hasattr(synset, "data")`` is ``False`` as for any module.
    """
