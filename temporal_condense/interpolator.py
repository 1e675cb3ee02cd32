"""Temporal interpolation ``I``: expand ``T_in`` frames to ``T_out`` frames with a weight matrix.

The interpolation is a fixed linear map along time, ``out[:, j] = sum_i W[j, i] * x[:, i]``, with a
``[T_out, T_in]`` matrix ``W`` that is computed once per ``(T_in, T_out, mode)`` in float64 and cached.
It is therefore exactly differentiable (the adjoint is ``W^T``), works on any number of channels and any
dtype, and has no data-dependent branches.

Sampling positions use the *align-corners* convention: output frame ``j`` sits at input position
``p_j = j * (T_in - 1) / (T_out - 1)``, so the first and last output frames are the first and last key
frames, and whenever ``T_out - 1`` is a multiple of ``T_in - 1`` every key frame is reproduced exactly.
With ``T_out == 1`` the single output frame sits at the middle of the clip.

Modes:
    * ``"nearest"``: frame duplication; output frame ``j`` copies input frame ``floor(j * T_in / T_out)``
      (each key frame is repeated ``T_out / T_in`` times when that is an integer).
    * ``"linear"``: piecewise-linear between the two neighbouring key frames.
    * ``"cubic"``: cubic convolution (Keys, ``a = -0.5``, i.e. Catmull-Rom). Beyond the first and last key
      frames the sequence is extended linearly (``x[-1] = 2 x[0] - x[1]``), so the interpolant passes
      through the key frames and reproduces linear motion exactly, borders included. With two key frames
      it equals ``"linear"``.

Every row of ``W`` sums to 1, and equal lengths give the identity.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import torch
from torch import nn

from temporal_condense._checks import (
    check_choice,
    check_device,
    check_finite,
    check_int,
    check_layout,
    check_video,
    from_btchw,
)
from temporal_condense.errors import ShapeError

__all__ = ["MODES", "Interpolator", "interpolate", "interpolation_matrix"]

Mode = Literal["nearest", "linear", "cubic"]
MODES: tuple[str, ...] = ("nearest", "linear", "cubic")
_CUBIC_A = -0.5


def _positions(t_in: int, t_out: int) -> list[float]:
    if t_out == 1:
        return [(t_in - 1) / 2.0]
    return [j * (t_in - 1) / (t_out - 1) for j in range(t_out)]


def _keys_cubic(s: float) -> float:
    s = abs(s)
    a = _CUBIC_A
    if s <= 1.0:
        return (a + 2.0) * s**3 - (a + 3.0) * s**2 + 1.0
    if s < 2.0:
        return a * s**3 - 5.0 * a * s**2 + 8.0 * a * s - 4.0 * a
    return 0.0


def _add_extended(row: torch.Tensor, k: int, weight: float) -> None:
    """Add ``weight * x[k]`` to ``row``, extending ``x`` linearly beyond its ends."""
    last = row.numel() - 1
    if last == 0:
        row[0] += weight
    elif k < 0:  # x[k] = (1 - k) x[0] + k x[1]
        row[0] += weight * (1 - k)
        row[1] += weight * k
    elif k > last:  # x[k] = (1 + d) x[last] - d x[last - 1], d = k - last
        d = k - last
        row[last] += weight * (1 + d)
        row[last - 1] -= weight * d
    else:
        row[k] += weight


@functools.lru_cache(maxsize=256)
def _matrix_f64(t_in: int, t_out: int, mode: str) -> torch.Tensor:
    weights = torch.zeros(t_out, t_in, dtype=torch.float64)
    if t_in == t_out:
        return torch.eye(t_in, dtype=torch.float64)
    if mode == "nearest":
        for j in range(t_out):
            weights[j, min(t_in - 1, (j * t_in) // t_out)] = 1.0
        return weights
    for j, p in enumerate(_positions(t_in, t_out)):
        base = math.floor(p)
        frac = p - base
        if frac < 1e-12:  # on a key frame: exact copy, no rounding residue
            weights[j, min(base, t_in - 1)] = 1.0
            continue
        if mode == "linear":
            weights[j, base] += 1.0 - frac
            weights[j, min(base + 1, t_in - 1)] += frac
        else:
            for k in range(base - 1, base + 3):
                _add_extended(weights[j], k, _keys_cubic(p - k))
    return weights / weights.sum(dim=1, keepdim=True)  # exact partition of unity, no rounding drift


_DEVICE_CACHE: dict[tuple[int, int, str, torch.dtype, torch.device], torch.Tensor] = {}


def interpolation_matrix(
    t_in: int,
    t_out: int,
    mode: str = "linear",
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Return the ``[t_out, t_in]`` temporal interpolation matrix (cached, read-only by convention).

    Args:
        t_in: Number of key frames.
        t_out: Number of output frames.
        mode: ``"nearest"``, ``"linear"`` or ``"cubic"``.
        dtype: Floating dtype of the returned matrix.
        device: Device of the returned matrix.

    Raises:
        ShapeError: ``dtype`` is not a floating dtype.
        ConfigError: ``t_in``/``t_out`` are not positive integers, ``mode`` or ``device`` is unknown.

    Returns:
        The matrix ``W`` with ``out[j] = sum_i W[j, i] * in[i]``; rows sum to 1.

    Shape:
        - Output: ``[t_out, t_in]``.

    Example:
        >>> interpolation_matrix(2, 3, "linear").tolist()
        [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    """
    t_in = check_int(t_in, "t_in")
    t_out = check_int(t_out, "t_out")
    mode = check_choice(mode, "mode", MODES)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ShapeError(
            f"dtype must be a floating torch.dtype (rows of an integer matrix cannot sum to 1), got {dtype!r}"
        )
    dev = check_device(device, "device") if device is not None else torch.device("cpu")
    key = (t_in, t_out, mode, dtype, dev)
    cached = _DEVICE_CACHE.get(key)
    if cached is None:
        cached = _matrix_f64(t_in, t_out, mode).to(dtype=dtype, device=dev)
        if len(_DEVICE_CACHE) > 1024:
            _DEVICE_CACHE.clear()
        _DEVICE_CACHE[key] = cached
    return cached


def interpolate_btchw(x: torch.Tensor, frames: int, mode: str) -> torch.Tensor:
    """Interpolate an already validated ``[B, T, C, H, W]`` tensor to ``frames`` frames (no checks; internal)."""
    b, t, c, h, w = x.shape
    if t == frames:
        return x.contiguous()
    weights = interpolation_matrix(t, frames, mode, dtype=x.dtype, device=x.device)
    out = torch.matmul(weights, x.reshape(b, t, c * h * w))
    return out.view(b, frames, c, h, w)


def interpolate(x: torch.Tensor, frames: int, mode: str = "linear", *, layout: str = "BTCHW") -> torch.Tensor:
    """Interpolate a batch of videos along time to ``frames`` frames.

    Args:
        x: Videos in ``layout``.
        frames: Number of output frames ``T_out``.
        mode: ``"nearest"``, ``"linear"`` or ``"cubic"``.
        layout: ``"BTCHW"`` (default) or ``"BCTHW"``; the output uses the same layout.

    Returns:
        The interpolated videos, contiguous, same dtype and device as ``x``.

    Raises:
        ShapeError: ``x`` is not a 5-D floating video batch or holds NaN/inf values.

    Shape:
        - Input: ``[B, T_in, C, H, W]`` (or ``[B, C, T_in, H, W]`` with ``layout="BCTHW"``).
        - Output: ``[B, frames, C, H, W]`` (or ``[B, C, frames, H, W]``).

    Example:
        >>> x = torch.randn(2, 4, 1, 8, 8)
        >>> interpolate(x, 16, "cubic").shape
        torch.Size([2, 16, 1, 8, 8])
    """
    frames = check_int(frames, "frames")
    mode = check_choice(mode, "mode", MODES)
    layout = check_layout(layout)
    video = check_finite(check_video(x, "x", layout), "x")
    return from_btchw(interpolate_btchw(video, frames, mode), layout)


class Interpolator(nn.Module):
    """Temporal interpolation as a module: ``[B, T_in, C, H, W] -> [B, frames, C, H, W]``.

    See :mod:`temporal_condense.interpolator` for the exact definition of each mode.

    Args:
        frames: Number of output frames ``T_out`` (``N_real`` in the paper's taxonomy).
        mode: ``"nearest"``, ``"linear"`` (default) or ``"cubic"``.
        layout: ``"BTCHW"`` (default) or ``"BCTHW"``.

    Shape:
        - Input: ``[B, T_in, C, H, W]`` with any ``T_in >= 1`` and any ``C``.
        - Output: ``[B, frames, C, H, W]``, contiguous.

    Example:
        >>> interp = Interpolator(frames=16, mode="linear")
        >>> interp(torch.randn(2, 4, 3, 8, 8)).shape
        torch.Size([2, 16, 3, 8, 8])
    """

    def __init__(self, frames: int, mode: str = "linear", *, layout: str = "BTCHW") -> None:
        super().__init__()
        self.frames: int = check_int(frames, "frames")
        self.mode: str = check_choice(mode, "mode", MODES)
        self.layout: str = check_layout(layout)

    def matrix(
        self, t_in: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Return the ``[frames, t_in]`` weight matrix this interpolator applies to ``t_in`` key frames."""
        return interpolation_matrix(t_in, self.frames, self.mode, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Interpolate ``x`` to ``self.frames`` frames (see the class docstring)."""
        return interpolate(x, self.frames, self.mode, layout=self.layout)

    def extra_repr(self) -> str:
        return f"frames={self.frames}, mode={self.mode!r}, layout={self.layout!r}"
