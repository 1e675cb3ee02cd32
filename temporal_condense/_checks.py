"""Input validation shared by the public entry points (internal).

Every helper raises a :class:`~temporal_condense.errors.TemporalCondenseError` subclass whose message
names the argument, the expected value and the actual value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import torch
from einops import rearrange
from pydantic import BaseModel, ValidationError

from temporal_condense.errors import ConfigError, ShapeError

Layout = Literal["BTCHW", "BCTHW"]
C = TypeVar("C", bound=BaseModel)
LAYOUTS: tuple[str, ...] = ("BTCHW", "BCTHW")


def check_layout(layout: str, name: str = "layout") -> Layout:
    """Return ``layout`` if it is a supported video layout, else raise :class:`ConfigError`."""
    if layout not in LAYOUTS:
        raise ConfigError(f"{name} must be one of {LAYOUTS}, got {layout!r}")
    return layout  # type: ignore[return-value]


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ConfigError`."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {choices}, got {value!r}")
    return str(value)


def check_tensor(x: object, name: str, *, ndim: int | None = None, floating: bool = False) -> torch.Tensor:
    """Check that ``x`` is a tensor (optionally of rank ``ndim`` and floating dtype) and return it."""
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimensions, got {x.ndim} (shape {tuple(x.shape)})")
    if floating and not x.is_floating_point():
        raise ShapeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def check_video(x: object, name: str, layout: str = "BTCHW") -> torch.Tensor:
    """Validate a batch of videos and return it in ``BTCHW`` layout (a view where possible).

    Args:
        x: The batch of videos.
        name: The argument name used in error messages.
        layout: ``"BTCHW"`` (default) or ``"BCTHW"``.

    Returns:
        ``x`` as ``[B, T, C, H, W]``.

    Raises:
        ShapeError: ``x`` is not a floating tensor of rank 5 or has an empty dimension.
        ConfigError: ``layout`` is not supported.
    """
    layout = check_layout(layout)
    video = check_tensor(x, name, floating=True)
    if video.ndim != 5:
        raise ShapeError(
            f"{name} must be a 5-D video batch in layout {layout} ({' x '.join(layout)}), "
            f"got {video.ndim}-D tensor of shape {tuple(video.shape)}"
        )
    if video.numel() == 0:
        raise ShapeError(f"{name} must not be empty, got shape {tuple(video.shape)}")
    return to_btchw(video, layout)


def to_btchw(x: torch.Tensor, layout: str) -> torch.Tensor:
    """Rearrange a 5-D video batch from ``layout`` to ``BTCHW`` (no copy)."""
    return x if layout == "BTCHW" else rearrange(x, "b c t h w -> b t c h w")


def from_btchw(x: torch.Tensor, layout: str) -> torch.Tensor:
    """Rearrange a ``BTCHW`` video batch to ``layout``; the result is contiguous."""
    out = x if layout == "BTCHW" else rearrange(x, "b t c h w -> b c t h w")
    return out.contiguous()


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise :class:`ShapeError` if ``x`` contains NaN or infinite values; return ``x``.

    One reduction per tensor: a finite sum implies that every element is finite (a NaN or an infinity makes
    the sum NaN or infinite), and ``sum`` is vectorized, about 25x cheaper than ``isfinite(x).all()`` on CPU.
    Only when the sum is not finite (a bad value, or a sum that overflows) is the exact elementwise test run,
    so the check is exact either way. Integer tensors pass for free; the autograd graph is not touched.
    """
    if not x.is_floating_point() or x.device.type == "meta" or x.numel() == 0:
        return x
    data = x.detach()
    if bool(torch.isfinite(data.sum())):
        return x
    bad = int((~torch.isfinite(data)).sum())
    if bad:
        raise ShapeError(f"{name} must be finite, got {bad} NaN/inf value(s) of {x.numel()}")
    return x


def check_device(device: object, name: str = "device") -> torch.device:
    """Return ``device`` as a :class:`torch.device` that exists on this machine, else raise :class:`ConfigError`."""
    if not isinstance(device, (str, torch.device)):
        raise ConfigError(
            f"{name} must be a str or torch.device such as 'cpu' or 'cuda:0', got {type(device).__name__}"
        )
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"{name} must name a torch device such as 'cpu' or 'cuda:0', got {device!r} ({exc})"
        ) from None
    if dev.type != "cpu":
        try:
            torch.empty(0, device=dev)
        except (RuntimeError, AssertionError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{name} {str(device)!r} is not available on this machine: {reason}") from None
    return dev


def check_same_device(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise :class:`ShapeError` unless ``a`` and ``b`` live on the same device."""
    if a.device != b.device:
        raise ShapeError(f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}")


def check_divisible(value: int, divisor: int, name: str, divisor_name: str) -> int:
    """Raise :class:`ConfigError` unless ``divisor`` divides ``value``; return the quotient."""
    if value % divisor != 0:
        raise ConfigError(
            f"{name} ({value}) must be divisible by {divisor_name} ({divisor}); "
            f"nearest valid values are {value - value % divisor} and {value + divisor - value % divisor}"
        )
    return value // divisor


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
