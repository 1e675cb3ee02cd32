"""Exceptions raised by temporal-condense.

Every error the library raises on bad input is a :class:`TemporalCondenseError`, which is a
:class:`ValueError`, so existing ``except ValueError`` clauses keep working. Messages name the argument,
the expected value and the actual value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = [
    "ConfigError",
    "ShapeError",
    "TemporalCondenseError",
    "TensorOpError",
    "format_validation_error",
    "validate_config",
]

C = TypeVar("C", bound=BaseModel)


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


def format_validation_error(model: type[BaseModel], exc: ValidationError) -> str:
    """One readable message for a pydantic ``ValidationError`` of the config class ``model``.

    Each problem names its key and the offending value: an unknown key (a typo) lists the valid keys of the
    class, a cross-field check gives its own message, any other error reads ``key: problem, got value``.
    """
    valid = ", ".join(sorted(model.model_fields))
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "<config>"
        if err.get("type") == "extra_forbidden":
            known = f" (valid keys: {valid})" if len(err.get("loc", ())) == 1 else ""
            parts.append(f"{loc}: {err.get('msg')}: unknown config key {loc!r}{known}")
        elif err.get("type") in ("value_error", "assertion_error"):
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            # A check inside a nested section names its fields relative to it: prefix the section.
            parts.append(f"{loc}: {msg}" if err.get("loc") else msg)
        else:
            parts.append(f"{loc}: {err.get('msg')}, got {err.get('input')!r}")
    return f"invalid {model.__name__}: " + "; ".join(parts)


def validate_config(model: type[C], data: Mapping[str, Any]) -> C:
    """Validate ``data`` into the pydantic config class ``model``; errors become :class:`ConfigError`.

    Raises:
        ConfigError: With the message of :func:`format_validation_error`.
    """
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(model, exc)) from None
