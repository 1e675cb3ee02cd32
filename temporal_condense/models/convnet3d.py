"""``ConvNet3D``: the 3-D student of the video-distillation benchmark, with its size arithmetic.

Per layer ``d``: ``Conv3d(kernel (3, 7, 7), padding (1, 3, 3), stride (1, 2, 2))`` with 64 output channels
for ``d = 0`` and ``net_width`` after, an activation (ReLU), no normalization and max pooling
(``(1, 2, 2)`` for ``d = 0``, ``2`` in time and space after). The head is an ``AvgPool3d`` with stride 1 and
kernel ``(2, 2, 2)`` when the input height is above 64 px (``(2, 1, 1)`` otherwise), dropout, a 1x1x1
``Conv3d`` to class logits, a squeeze of the (1x1) spatial map and a max over time.

The published head squeezes a spatial map that must be exactly 1x1 after its average pool; other sizes
produce logits of the wrong shape (or a pooling error) there. Here such sizes are refused at construction
with a :class:`~temporal_condense.errors.ConfigError` that names the sizes and frame counts that work,
all computed from the layer arithmetic. For the defaults: H in 43-64 px (then W in 43-106) or H in
107-170 px (then W in 107-170, the head pooling 2x2 in space), and at least 8 frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from temporal_condense._checks import check_choice, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.models.convnet import NET_ACTS, _check_size, _out, make_activation

__all__ = ["ConvNet3D", "Geometry3D", "convnet3d_geometry", "convnet3d_valid_sizes"]

_SEARCH_LIMIT = 2048
_SMALL_HEAD_MAX_H = 64  # the published rule: a (2, 2, 2) head pool for inputs taller than 64 px


@dataclass(frozen=True)
class Geometry3D:
    """Shapes through ``ConvNet3D`` for one input size (0 means empty).

    Attributes:
        features: ``(T', H', W')`` after the conv trunk (what :meth:`ConvNet3D.embed` flattens).
        head: ``(T'', H'', W'')`` after the head's average pool (the logit map before the max over time).
        head_kernel: The average-pool kernel the published rule picks for this input height.
    """

    features: tuple[int, int, int]
    head: tuple[int, int, int]
    head_kernel: tuple[int, int, int]

    @property
    def valid(self) -> bool:
        """Whether the features are non-empty and the logit map is ``[T'' >= 1, 1, 1]``."""
        return min(self.features) >= 1 and self.head[0] >= 1 and self.head[1] == 1 and self.head[2] == 1


def _axis_features(n: int, net_depth: int, temporal: bool) -> int:
    for d in range(net_depth):
        if temporal:
            n = _out(n, 3, 1, 1)
            n = n if d == 0 else _out(n, 2, 2)
        else:
            n = _out(n, 7, 2, 3)
            n = _out(n, 2, 2)
    return n


def convnet3d_geometry(
    size: tuple[int, int],
    frames: int,
    net_depth: int = 3,
    head_kernel: tuple[int, int, int] | None = None,
) -> Geometry3D:
    """Compute the shapes through ``ConvNet3D`` from the layer arithmetic.

    Args:
        size: Input ``(H, W)``.
        frames: Input frames.
        net_depth: Number of conv layers.
        head_kernel: The head's average-pool kernel; ``None`` applies the published rule for ``size``.

    Example:
        >>> convnet3d_geometry((112, 112), 16)
        Geometry3D(features=(4, 2, 2), head=(3, 1, 1), head_kernel=(2, 2, 2))
    """
    h, w = size
    feats = (
        _axis_features(frames, net_depth, True),
        _axis_features(h, net_depth, False),
        _axis_features(w, net_depth, False),
    )
    kernel = head_kernel or ((2, 2, 2) if h > _SMALL_HEAD_MAX_H else (2, 1, 1))
    head = (_out(feats[0], kernel[0]), _out(feats[1], kernel[1]), _out(feats[2], kernel[2]))
    return Geometry3D(feats, head, kernel)


def _ranges(ok: list[bool]) -> list[tuple[int, int]]:
    """Runs of True in ``ok`` (index i stands for the value i + 1) as inclusive ``(lo, hi)`` pairs."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate([*ok, False]):
        if flag and start is None:
            start = i + 1
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _fmt(runs: list[tuple[int, int]]) -> str:
    return ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in runs) or "none"


def convnet3d_valid_sizes(
    net_depth: int = 3, height: int | None = None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """The input sizes ``ConvNet3D`` accepts, computed by scanning the layer arithmetic.

    Args:
        net_depth: Number of conv layers.
        height: The input height whose head rule fixes the valid widths; ``None`` means the smallest valid
            height.

    Returns:
        ``(heights, widths, min_frames)``: inclusive ranges of valid heights, of valid widths for ``height``,
        and the smallest frame count.

    Example:
        >>> convnet3d_valid_sizes()
        ([(43, 64), (107, 170)], [(43, 106)], 8)
    """
    limit = range(1, _SEARCH_LIMIT + 1)

    def side_ok(n: int, kernel: int) -> bool:
        f = _axis_features(n, net_depth, False)
        return f >= 1 and _out(f, kernel) == 1

    def kernel_for(h: int) -> int:
        return 2 if h > _SMALL_HEAD_MAX_H else 1

    heights = _ranges([side_ok(n, kernel_for(n)) for n in limit])
    if height is None:
        height = heights[0][0] if heights else 1
    widths = _ranges([side_ok(n, kernel_for(height)) for n in limit])
    min_frames = next((t for t in limit if _out(_axis_features(t, net_depth, True), 2) >= 1), -1)
    return heights, widths, min_frames


def _describe_failure(size: tuple[int, int], frames: int, net_depth: int, geo: Geometry3D) -> str:
    heights, widths, min_frames = convnet3d_valid_sizes(net_depth, size[0])
    smallest_h = heights[0][0] if heights else None
    smallest_w = convnet3d_valid_sizes(net_depth)[1]
    smallest = f"({smallest_h}, {smallest_w[0][0]})" if smallest_h is not None and smallest_w else "none"
    return (
        f"ConvNet3D (net_depth={net_depth}) needs size of at least {smallest} px and frames >= {min_frames} "
        f"(got size={size}, frames={frames}: features {geo.features}, logit map {geo.head} after the "
        f"{geo.head_kernel} head pool, which must be (>=1, 1, 1)). Heights that work: {_fmt(heights)}; "
        f"widths that work with H={size[0]}: {_fmt(widths)} (the published head pools 2x2 in space for "
        f"H > {_SMALL_HEAD_MAX_H} px and 1x1 otherwise, then squeezes a 1x1 map)"
    )


class ConvNet3D(nn.Module):
    """The benchmark's 3-D ConvNet student (video-distillation ``networks.ConvNet3D``).

    Args:
        channels: Input channels.
        num_classes: Number of classes.
        size: Input ``(H, W)`` (an int means square).
        frames: Number of input frames the model is built for (used to validate the geometry; any valid
            frame count is accepted at call time).
        net_width: Channels of the conv layers after the first (which has 64), 128 by default.
        net_depth: Number of conv layers (3).
        net_act: Activation (``"relu"``).
        dropout: Drop probability before the classifier (0.5; the original names it ``dropout_keep_prob``
            but passes it to ``nn.Dropout`` as the drop probability).

    Raises:
        ConfigError: An argument is invalid or the size/frames leave no valid logit map; the message names
            the smallest size and frame count that work and the valid ranges.

    Shape:
        ``forward``: ``[B, T, C, H, W] -> [B, num_classes]``; ``embed``: ``[B, T, C, H, W] -> [B, F]`` with
        ``F = width_last * T' * H' * W'`` (flattened in ``(C, T, H, W)`` order, as the original).

    Example:
        >>> net = ConvNet3D(channels=3, num_classes=5, size=(64, 64), frames=8)
        >>> net.eval()(torch.zeros(2, 8, 3, 64, 64)).shape
        torch.Size([2, 5])
    """

    def __init__(
        self,
        channels: int = 3,
        num_classes: int = 10,
        size: tuple[int, int] | int = (112, 112),
        frames: int = 16,
        net_width: int = 128,
        net_depth: int = 3,
        net_act: str = "relu",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        check_int(channels, "channels")
        check_int(num_classes, "num_classes")
        check_int(frames, "frames")
        check_int(net_width, "net_width")
        check_int(net_depth, "net_depth")
        check_choice(net_act, "net_act", NET_ACTS)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        hw = _check_size(size)
        geo = convnet3d_geometry(hw, frames, net_depth)
        if not geo.valid:
            raise ConfigError(_describe_failure(hw, frames, net_depth, geo))
        self.channels = channels
        self.num_classes = num_classes
        self.size = hw
        self.frames = frames
        self._net_depth = net_depth

        layers: list[nn.Module] = []
        in_channels = channels
        for d in range(net_depth):
            out_channels = 64 if d == 0 else net_width
            layers.append(
                nn.Conv3d(in_channels, out_channels, kernel_size=(3, 7, 7), padding=(1, 3, 3), stride=(1, 2, 2))
            )
            layers.append(make_activation(net_act))
            layers.append(nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2)) if d == 0 else nn.MaxPool3d(2, 2))
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.num_feat = in_channels * geo.features[0] * geo.features[1] * geo.features[2]
        self._head_kernel = geo.head_kernel
        self.avg_pool = nn.AvgPool3d(kernel_size=geo.head_kernel, stride=(1, 1, 1))
        self.dropout = nn.Dropout(float(dropout))
        self.logit = nn.Conv3d(in_channels, num_classes, kernel_size=(1, 1, 1), stride=(1, 1, 1), bias=True)

    @property
    def feature_dim(self) -> int:
        """Length ``F`` of :meth:`embed`'s output at the construction size."""
        return self.num_feat

    def _features(self, x: torch.Tensor, *, head: bool) -> torch.Tensor:
        x = check_tensor(x, "x", ndim=5, floating=True)
        _, t, c, h, w = (int(n) for n in x.shape)
        if c != self.channels:
            raise ShapeError(f"x must be [B, T, C, H, W] with C={self.channels}, got C={c} (shape {tuple(x.shape)})")
        geo = convnet3d_geometry((h, w), t, self._net_depth, head_kernel=self._head_kernel)
        if min(geo.features) < 1 or (head and not geo.valid):
            raise ShapeError("x: " + _describe_failure((h, w), t, self._net_depth, geo))
        return self.features(rearrange(x, "b t c h w -> b c t h w"))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened trunk features (no head, no dropout).

        Shape:
            ``[B, T, C, H, W] -> [B, F]``.
        """
        return rearrange(self._features(x, head=False), "b c t h w -> b (c t h w)").contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: head pool, dropout, 1x1x1 conv, then the max over time.

        Shape:
            ``[B, T, C, H, W] -> [B, num_classes]``.
        """
        out = self.logit(self.dropout(self.avg_pool(self._features(x, head=True))))
        return torch.max(out[:, :, :, 0, 0], dim=2).values.contiguous()
