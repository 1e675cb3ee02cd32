"""Segment-wise matching ``K``: apply any matching loss per temporal segment and reduce.

The real clip ``[B_r, N_real, C, H, W]`` and the synthetic clip ``[B_s, N_syn, C, H, W]`` are each cut
into ``K`` contiguous segments along time; segment ``k`` of the synthetic clip is matched with segment
``k`` of the real clip by the user's ``loss_fn`` and the ``K`` losses are reduced by mean or sum.

Two interpolation scopes decide how ``N_syn`` frames meet ``N_real`` frames:

* ``scope="segment"`` (default): each synthetic segment of ``N_syn / K`` frames is interpolated on its own
  to the real segment length ``N_real / K``. Requires ``N_syn`` divisible by ``K``.
* ``scope="global"``: the whole synthetic clip is interpolated to ``N_real`` frames first, then split.

The paper's taxonomy corner cases: ``K = 1`` is whole-clip matching; ``N_syn = N_real = K`` is
frame-by-frame (image) distillation; ``N_syn = 1, K = 1`` matches a video to one image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from temporal_condense._checks import (
    check_choice,
    check_finite,
    check_int,
    check_layout,
    check_same_device,
    check_video,
    from_btchw,
)
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.interpolator import MODES, Interpolator, interpolate_btchw

__all__ = ["SegmentedMatcher"]

LossFn = Callable[..., torch.Tensor]
SCOPES: tuple[str, ...] = ("segment", "global")
REDUCTIONS: tuple[str, ...] = ("mean", "sum")


class SegmentedMatcher(nn.Module):
    """Match real and synthetic clips segment by segment with any loss.

    Args:
        loss_fn: ``loss_fn(real_segment, syn_segment, *args, **kwargs) -> scalar tensor``. Segments are
            passed in ``layout`` and are contiguous.
        segments: Number of segments ``K >= 1``.
        interpolator: How synthetic frames are expanded to the real length: an :class:`Interpolator`
            (its ``mode`` is used; with ``scope="global"`` its ``frames`` must equal ``N_real``), a mode
            name (``"nearest"``, ``"linear"``, ``"cubic"``), or ``None`` to pass synthetic segments
            unchanged (then ``loss_fn`` must accept segments of different lengths).
        scope: ``"segment"`` or ``"global"`` (see the module docstring).
        reduction: ``"mean"`` or ``"sum"`` over the ``K`` segment losses.
        layout: ``"BTCHW"`` (default) or ``"BCTHW"`` for both inputs and for the segments given to
            ``loss_fn``.

    Raises:
        ConfigError: ``segments < 1``, an unknown mode, scope, reduction or layout, or (at call time)
            ``N_real`` / ``N_syn`` not divisible by ``K``, or ``N_syn > N_real``.

    Shape:
        - real: ``[B_r, N_real, C, H, W]``.
        - syn: ``[B_s, N_syn, C, H, W]`` with ``N_syn <= N_real``.
        - Output: scalar (whatever ``loss_fn`` returns, reduced over segments).

    Example:
        >>> mse = lambda r, s: (r.mean(0) - s.mean(0)).pow(2).sum()
        >>> matcher = SegmentedMatcher(mse, segments=4, interpolator="linear")
        >>> matcher(torch.randn(8, 16, 3, 8, 8), torch.randn(2, 8, 3, 8, 8)).shape
        torch.Size([])
    """

    def __init__(
        self,
        loss_fn: LossFn,
        segments: int = 1,
        interpolator: Interpolator | str | None = "linear",
        *,
        scope: str = "segment",
        reduction: str = "mean",
        layout: str = "BTCHW",
    ) -> None:
        super().__init__()
        if not callable(loss_fn):
            raise ConfigError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        self.loss_fn = loss_fn
        self.segments: int = check_int(segments, "segments")
        # The mode used to expand synthetic frames (None: no interpolation) and, for an Interpolator,
        # the length it was built for (checked against N_real with scope="global").
        self.mode: str | None
        self.frames: int | None = None
        if isinstance(interpolator, Interpolator):
            self.mode, self.frames = interpolator.mode, interpolator.frames
        elif isinstance(interpolator, str) or interpolator is None:
            self.mode = None if interpolator is None else check_choice(interpolator, "interpolator", MODES)
        else:
            raise ConfigError(
                f"interpolator must be an Interpolator, one of {MODES} or None, got {type(interpolator).__name__}"
            )
        self.scope: str = check_choice(scope, "scope", SCOPES)
        self.reduction: str = check_choice(reduction, "reduction", REDUCTIONS)
        self.layout: str = check_layout(layout)

    def split(self, real: torch.Tensor, syn: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Return the ``K`` ``(real_segment, syn_segment)`` pairs that :meth:`forward` matches.

        Shape:
            - real: ``[B_r, N_real, C, H, W]``, syn: ``[B_s, N_syn, C, H, W]``.
            - Output: ``K`` pairs of ``[B_r, N_real/K, C, H, W]`` and ``[B_s, L, C, H, W]`` where ``L`` is
              ``N_real/K`` with an interpolator and ``N_syn/K`` without one.
        """
        r = check_video(real, "real", self.layout)
        s = check_video(syn, "syn", self.layout)
        check_same_device("real", r, "syn", s)
        check_finite(r, "real")
        check_finite(s, "syn")
        k = self.segments
        n_real, n_syn = r.shape[1], s.shape[1]
        if n_syn > n_real:
            raise ConfigError(
                f"syn must not have more frames than real: N_syn ({n_syn}) > N_real ({n_real}); "
                "temporal condensation stores at most as many frames as the real clips have"
            )
        if n_real % k:
            raise ConfigError(f"N_real ({n_real}) must be divisible by segments K ({k})")
        if r.shape[2:] != s.shape[2:]:
            raise ShapeError(
                f"real and syn must agree in (C, H, W), got real {tuple(r.shape[2:])} and syn {tuple(s.shape[2:])}"
            )
        seg_real = n_real // k
        if self.scope == "global":
            if self.mode is not None:
                if self.frames is not None and self.frames != n_real:
                    raise ConfigError(
                        f'interpolator.frames ({self.frames}) must equal N_real ({n_real}) with scope="global"'
                    )
                s = interpolate_btchw(s, n_real, self.mode)
            elif n_syn % k:
                raise ConfigError(f"N_syn ({n_syn}) must be divisible by segments K ({k})")
            seg_syn = s.shape[1] // k
        else:
            if n_syn % k:
                raise ConfigError(f"N_syn ({n_syn}) must be divisible by segments K ({k})")
            seg_syn = n_syn // k
        pairs = []
        for i in range(k):
            r_i = r[:, i * seg_real : (i + 1) * seg_real]
            s_i = s[:, i * seg_syn : (i + 1) * seg_syn]
            if self.scope == "segment" and self.mode is not None:
                s_i = interpolate_btchw(s_i, seg_real, self.mode)
            pairs.append((from_btchw(r_i, self.layout), from_btchw(s_i, self.layout)))
        return pairs

    def segment_losses(self, real: torch.Tensor, syn: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Return the ``K`` unreduced segment losses as a ``[K]`` tensor (see :meth:`forward`)."""
        losses = []
        for i, (r_i, s_i) in enumerate(self.split(real, syn)):
            loss = self.loss_fn(r_i, s_i, *args, **kwargs)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
                raise ShapeError(f"loss_fn must return a scalar tensor, got {shape} for segment {i}")
            losses.append(loss.reshape(()))
        return torch.stack(losses)

    def forward(self, real: torch.Tensor, syn: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Match ``real`` and ``syn`` segment by segment; extra arguments go to ``loss_fn``."""
        losses = self.segment_losses(real, syn, *args, **kwargs)
        return losses.mean() if self.reduction == "mean" else losses.sum()

    def extra_repr(self) -> str:
        return (
            f"segments={self.segments}, interpolator={self.mode!r}, scope={self.scope!r}, reduction={self.reduction!r}"
        )
