"""The 2-D ConvNet of the DC/DSA/DM/MTT codebases: its trunk, its size arithmetic and the image ``ConvNet``.

The trunk is ``net_depth`` blocks of ``Conv2d(3x3) -> norm -> activation -> pooling`` with ``net_width``
channels; the defaults (width 128, depth 3, instance norm, ReLU, 2x2 average pooling) are the benchmark's
``get_default_convnet_setting()``. The modules are registered in the published order, so a block's layers
sit at ``features.{4 d}``, ``features.{4 d + 1}``, ... exactly like the original ``nn.Sequential`` and
state dicts (and flat-parameter expert buffers) trained with the published code load unchanged.

Sizes are computed from the real layer arithmetic (``floor((n + 2p - k) / s) + 1`` per layer) instead of
the original's ``n // 2`` shortcut and its 28 -> 32 special case; both agree wherever the original works.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from einops import rearrange
from torch import nn

from temporal_condense._checks import check_choice, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = [
    "NET_ACTS",
    "NET_NORMS",
    "NET_POOLINGS",
    "ConvNet",
    "Swish",
    "make_activation",
    "make_trunk",
    "min_trunk_size",
    "trunk_output_size",
]

NetAct = Literal["relu", "sigmoid", "leakyrelu", "swish"]
NetNorm = Literal["instancenorm", "batchnorm", "layernorm", "groupnorm", "none"]
NetPooling = Literal["avgpooling", "maxpooling", "none"]
NET_ACTS: tuple[str, ...] = ("relu", "sigmoid", "leakyrelu", "swish")
NET_NORMS: tuple[str, ...] = ("instancenorm", "batchnorm", "layernorm", "groupnorm", "none")
NET_POOLINGS: tuple[str, ...] = ("avgpooling", "maxpooling", "none")

# Largest side length searched when computing the smallest valid input (pure integer arithmetic).
_SEARCH_LIMIT = 4096


def _out(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling window along one axis (0 when empty)."""
    if n <= 0:
        return 0
    return max(0, (n + 2 * padding - kernel) // stride + 1)


class Swish(nn.Module):
    """``x * sigmoid(x)`` (the benchmark's ``Swish``).

    Shape:
        Any shape; the output has the input's shape.

    Example:
        >>> Swish()(torch.zeros(2)).tolist()
        [0.0, 0.0]
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``x * sigmoid(x)``."""
        return x * torch.sigmoid(x)


def make_activation(net_act: str) -> nn.Module:
    """Return the activation module named ``net_act`` (never in-place, so autograd and ``torch.func`` work).

    Example:
        >>> make_activation("relu")
        ReLU()
    """
    net_act = check_choice(net_act, "net_act", NET_ACTS)
    if net_act == "relu":
        return nn.ReLU()
    if net_act == "sigmoid":
        return nn.Sigmoid()
    if net_act == "leakyrelu":
        return nn.LeakyReLU(negative_slope=0.01)
    return Swish()


def _first_padding(channels: int, depth_index: int) -> int:
    # The benchmark pads the first layer by 3 for 1-channel inputs (MNIST 28 px -> 32 px), by 1 otherwise.
    return 3 if channels == 1 and depth_index == 0 else 1


def trunk_output_size(
    size: tuple[int, int], channels: int = 3, net_depth: int = 3, net_pooling: str = "avgpooling"
) -> tuple[int, int]:
    """Spatial size ``(H', W')`` of the 2-D trunk's output for an input of ``size`` (0 means empty).

    Example:
        >>> trunk_output_size((112, 112))
        (14, 14)
    """
    sides = []
    for n in size:
        for d in range(net_depth):
            n = _out(n, 3, 1, _first_padding(channels, d))
            if net_pooling != "none":
                n = _out(n, 2, 2)
        sides.append(n)
    return sides[0], sides[1]


def min_trunk_size(channels: int = 3, net_depth: int = 3, net_pooling: str = "avgpooling", final_pool: int = 1) -> int:
    """Smallest side length that leaves a non-empty trunk output (and survives a final ``final_pool`` pool).

    Computed from the layer arithmetic by search, not hard-coded.

    Example:
        >>> min_trunk_size()
        8
    """
    for n in range(1, _SEARCH_LIMIT + 1):
        side = trunk_output_size((n, n), channels, net_depth, net_pooling)[0]
        if _out(side, final_pool, final_pool) >= 1:
            return n
    raise ConfigError(f"no input side up to {_SEARCH_LIMIT} px works for net_depth={net_depth}")


def _check_size(size: object, name: str = "size") -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ConfigError(f"{name} must be an (H, W) pair of positive integers, got {size!r}")
    return check_int(size[0], f"{name}[0]"), check_int(size[1], f"{name}[1]")


def check_trunk_config(
    model: str,
    size: tuple[int, int],
    channels: int,
    net_depth: int,
    net_pooling: str,
    final_pool: int = 1,
) -> tuple[int, int]:
    """Raise :class:`ConfigError` (naming the smallest size that works) if the trunk output would be empty.

    Returns:
        The trunk's output size ``(H', W')`` (before any final pool).
    """
    out_h, out_w = trunk_output_size(size, channels, net_depth, net_pooling)
    if min(_out(out_h, final_pool, final_pool), _out(out_w, final_pool, final_pool)) < 1:
        smallest = min_trunk_size(channels, net_depth, net_pooling, final_pool)
        raise ConfigError(
            f"{model} with net_depth={net_depth}, net_pooling={net_pooling!r}, channels={channels} needs "
            f"size of at least ({smallest}, {smallest}) px (smaller inputs leave no features); got size={size}"
        )
    return out_h, out_w


def make_trunk(
    channels: int,
    net_width: int,
    net_depth: int,
    net_act: str,
    net_norm: str,
    net_pooling: str,
    size: tuple[int, int],
) -> tuple[nn.Sequential, tuple[int, int, int]]:
    """Build the benchmark's 2-D ConvNet trunk (``ConvNet._make_layers``) in the published module order.

    Args:
        channels: Input channels.
        net_width: Channels of every conv layer.
        net_depth: Number of conv blocks.
        net_act: ``"relu"``, ``"sigmoid"``, ``"leakyrelu"`` or ``"swish"``.
        net_norm: ``"instancenorm"`` (``GroupNorm(C, C)``), ``"batchnorm"``, ``"layernorm"``, ``"groupnorm"``
            (4 groups) or ``"none"``.
        net_pooling: ``"avgpooling"``, ``"maxpooling"`` (2x2, stride 2) or ``"none"``.
        size: Input ``(H, W)``.

    Returns:
        The ``nn.Sequential`` trunk and its output shape ``(C', H', W')``.

    Shape:
        The trunk maps ``[N, channels, H, W]`` to ``[N, net_width, H', W']``.

    Example:
        >>> trunk, shape = make_trunk(3, 128, 3, "relu", "instancenorm", "avgpooling", (32, 32))
        >>> shape
        (128, 4, 4)
    """
    check_choice(net_norm, "net_norm", NET_NORMS)
    check_choice(net_pooling, "net_pooling", NET_POOLINGS)
    layers: list[nn.Module] = []
    in_channels = channels
    h, w = size
    for d in range(net_depth):
        pad = _first_padding(channels, d)
        layers.append(nn.Conv2d(in_channels, net_width, kernel_size=3, padding=pad))
        h, w = _out(h, 3, 1, pad), _out(w, 3, 1, pad)
        if net_norm == "batchnorm":
            layers.append(nn.BatchNorm2d(net_width, affine=True))
        elif net_norm == "layernorm":
            layers.append(nn.LayerNorm([net_width, h, w], elementwise_affine=True))
        elif net_norm == "instancenorm":
            layers.append(nn.GroupNorm(net_width, net_width, affine=True))
        elif net_norm == "groupnorm":
            layers.append(nn.GroupNorm(4, net_width, affine=True))
        layers.append(make_activation(net_act))
        in_channels = net_width
        if net_pooling == "maxpooling":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif net_pooling == "avgpooling":
            layers.append(nn.AvgPool2d(kernel_size=2, stride=2))
        if net_pooling != "none":
            h, w = _out(h, 2, 2), _out(w, 2, 2)
    return nn.Sequential(*layers), (net_width, h, w)


def check_trunk_args(
    model: str,
    channels: int,
    num_classes: int,
    size: object,
    net_width: int,
    net_depth: int,
    net_act: str,
    net_norm: str,
    net_pooling: str,
) -> tuple[int, int]:
    """Validate the constructor arguments shared by the 2-D ConvNet models; return ``size`` as a pair."""
    check_int(channels, "channels")
    check_int(num_classes, "num_classes")
    check_int(net_width, "net_width")
    check_int(net_depth, "net_depth")
    check_choice(net_act, "net_act", NET_ACTS)
    check_choice(net_norm, "net_norm", NET_NORMS)
    check_choice(net_pooling, "net_pooling", NET_POOLINGS)
    if net_norm == "groupnorm" and net_width % 4 != 0:
        raise ConfigError(f"net_width must be divisible by 4 for net_norm='groupnorm', got {net_width}")
    return _check_size(size)


def check_frames_input(
    x: object,
    name: str,
    ndim: int,
    channels: int,
    size: tuple[int, int],
    feat_hw: tuple[int, int],
    *,
    net_depth: int,
    pooling: str,
) -> torch.Tensor:
    """Check a model input: rank ``ndim``, floating, ``channels`` channels, a size giving ``feat_hw``."""
    t = check_tensor(x, name, ndim=ndim, floating=True)
    if t.shape[-3] != channels:
        raise ShapeError(
            f"{name} must have {channels} channels (dim {ndim - 3}), got {t.shape[-3]} (shape {tuple(t.shape)})"
        )
    got = trunk_output_size((int(t.shape[-2]), int(t.shape[-1])), channels, net_depth, pooling)
    if got != feat_hw:
        raise ShapeError(
            f"{name} must have spatial size {size} (the size the model was built for), "
            f"got {tuple(t.shape[-2:])} (shape {tuple(t.shape)})"
        )
    return t


class ConvNet(nn.Module):
    """The image ConvNet of DC/DSA/DM/MTT (stage-1 distillation on single frames).

    Args:
        channels: Input channels.
        num_classes: Number of classes.
        size: Input ``(H, W)`` (an int means square).
        net_width: Channels per conv layer (128).
        net_depth: Number of conv blocks (3).
        net_act: Activation (``"relu"``).
        net_norm: Normalization (``"instancenorm"``).
        net_pooling: Pooling (``"avgpooling"``).

    Raises:
        ConfigError: An argument is invalid, or ``size`` is too small to leave any feature (the message names
            the smallest size that works: 8x8 px for the defaults).

    Shape:
        ``forward``: ``[B, C, H, W] -> [B, num_classes]``; ``embed``: ``[B, C, H, W] -> [B, F]`` with
        ``F = net_width * H' * W'``.

    Example:
        >>> net = ConvNet(channels=3, num_classes=10, size=(32, 32))
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        channels: int = 3,
        num_classes: int = 10,
        size: tuple[int, int] | int = (32, 32),
        net_width: int = 128,
        net_depth: int = 3,
        net_act: str = "relu",
        net_norm: str = "instancenorm",
        net_pooling: str = "avgpooling",
    ) -> None:
        super().__init__()
        hw = check_trunk_args(
            "ConvNet", channels, num_classes, size, net_width, net_depth, net_act, net_norm, net_pooling
        )
        check_trunk_config("ConvNet", hw, channels, net_depth, net_pooling)
        self.channels = channels
        self.num_classes = num_classes
        self.size = hw
        self._net_depth = net_depth
        self._pooling = net_pooling
        self.features, shape_feat = make_trunk(channels, net_width, net_depth, net_act, net_norm, net_pooling, hw)
        self._feat_hw = (shape_feat[1], shape_feat[2])
        self.num_feat = math.prod(shape_feat)
        self.classifier = nn.Linear(self.num_feat, num_classes)

    @property
    def feature_dim(self) -> int:
        """Length ``F`` of :meth:`embed`'s output."""
        return self.num_feat

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened trunk features.

        Shape:
            ``[B, C, H, W] -> [B, F]``.
        """
        x = check_frames_input(
            x, "x", 4, self.channels, self.size, self._feat_hw, net_depth=self._net_depth, pooling=self._pooling
        )
        return rearrange(self.features(x), "b c h w -> b (c h w)").contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits.

        Shape:
            ``[B, C, H, W] -> [B, num_classes]``.
        """
        return self.classifier(self.embed(x))
