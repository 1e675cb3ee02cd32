"""Static-dynamic synthetic videos (CVPR 2024, arXiv 2312.00362): static memory + dynamic memory + block H.

A :class:`DynamicMemoryBlock` stores

* a **static memory** ``[num_classes * static_per_class, C, h, w]`` of still images (stage 1; frozen unless
  ``train_static=True``; ``(h, w) = static_size``, by default the videos' size, up-sampled when smaller),
* a **dynamic memory** ``[num_classes, dynamic_per_class, N_dyn, c_dyn, h', w']`` (by default one channel per
  frame at the videos' size; ``N_dyn < frames`` key frames are interpolated to ``frames`` and a smaller
  ``dynamic_size`` is up-sampled *before* the block),
* a tiny **block** H that turns a static image repeated over time and a dynamic memory into a video.

Video slot ``v`` of class ``c`` (video index ``c * videos_per_class + v``) owns

* statics ``c * static_per_class + (v * static_per_video + j) % static_per_class`` for
  ``j < static_per_video``, and
* dynamics ``(c, (v * dynamic_per_video + j) % dynamic_per_class)`` for ``j < dynamic_per_video``.

With ``pairing="random"`` every render draws one ``j`` for the static and then one for the dynamic of each
requested video (``torch.randint`` from the caller's generator, statics first); with ``pairing="fixed"``
``j = 0``. For the published settings (2 statics and 2 dynamics per video and per slot) this is exactly the
published indexing ``static = spc * c + 2 v + r``, ``dynamic = 2 v + r'``.

Example:
    >>> import torch
    >>> from temporal_condense.dynamic_memory import DynamicMemoryBlock
    >>> synset = DynamicMemoryBlock(num_classes=2, videos_per_class=1, frames=8, size=(6, 6), static="noise", seed=0)
    >>> videos, labels = synset(torch.tensor([0, 1]), generator=torch.Generator().manual_seed(0))
    >>> tuple(videos.shape), labels.tolist()
    ((2, 8, 3, 6, 6), [0, 1])
    >>> sum(p.numel() for p in synset.block.parameters())
    327
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from pydantic import Field, model_validator
from torch import nn

from temporal_condense._checks import check_choice, check_finite, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.initialization import INITS, frames_at, real_clips, videos_per_class_of
from temporal_condense.interpolator import MODES, Interpolator
from temporal_condense.motion import PADDING_MODES, PaddingMode, warp
from temporal_condense.synthetic import SyntheticSet, SyntheticSetConfig, build_config

__all__ = [
    "AddBlock",
    "ConcatBlock",
    "DynamicMemoryBlock",
    "DynamicMemoryBlockConfig",
    "WarpBlock",
    "identity_init_",
    "residual_init_",
    "static_dynamic_conv3d",
]

PositiveInt = Annotated[int, Field(strict=True, ge=1)]

logger = logging.getLogger(__name__)


_FUSED_MAX_FRAMES = 64


def _fusable(conv: nn.Conv3d, frames: int) -> bool:
    """Whether ``conv`` is a plain zero-padded, unstrided, size-preserving Conv3d (the fast path applies)."""
    k, p = conv.kernel_size, conv.padding
    return (
        frames <= _FUSED_MAX_FRAMES
        and conv.stride == (1, 1, 1)
        and conv.dilation == (1, 1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and isinstance(p, tuple)
        and all(2 * pi + 1 == ki for pi, ki in zip(p, k))
    )


def static_dynamic_conv3d(
    static: torch.Tensor,
    dynamic: torch.Tensor,
    weight_static: torch.Tensor,
    weight_dynamic: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """``conv3d(static repeated over T) + conv3d(dynamic)`` computed as one 2-D convolution.

    Exactly the 3-D convolution (stride 1, zero padding ``k // 2`` on every axis) of the channel
    concatenation of a static image repeated over ``T`` frames and a dynamic memory, but without
    materializing the repeated static: time is folded into channels. Output frame ``t`` sees the static
    image through the sum of the temporal taps that fall inside the clip, and the dynamic frames through a
    banded ``[T * C_out, T * c_dyn]`` weight. Both weights are built differentiably from the 3-D kernels.

    Args:
        static: Static images ``[B, C, H, W]``.
        dynamic: Dynamic memories ``[B, T, c_dyn, H, W]``.
        weight_static: ``[C_out, C, k_t, k_h, k_w]`` (odd kernel sizes).
        weight_dynamic: ``[C_out, c_dyn, k_t, k_h, k_w]``.
        bias: ``[C_out]`` or ``None``.

    Returns:
        ``[B, T, C_out, H, W]``, contiguous.

    Shape:
        - static ``[B, C, H, W]``, dynamic ``[B, T, c_dyn, H, W]`` -> ``[B, T, C_out, H, W]``.

    Example:
        >>> w = torch.randn(3, 4, 3, 3, 3)
        >>> out = static_dynamic_conv3d(torch.randn(2, 3, 8, 8), torch.randn(2, 5, 1, 8, 8), w[:, :3], w[:, 3:], None)
        >>> out.shape
        torch.Size([2, 5, 3, 8, 8])
    """
    b, t, c_dyn, h, w = dynamic.shape
    c_out, _, k_t, k_h, k_w = weight_static.shape
    p_t = k_t // 2
    dev, dt = weight_static.device, weight_static.dtype
    frame = torch.arange(t, device=dev).view(t, 1, 1)
    tap = torch.arange(k_t, device=dev).view(1, 1, k_t)
    src = torch.arange(t, device=dev).view(1, t, 1)
    # band[t, s, j] = 1 when output frame t reads input frame s through temporal tap j.
    band = (src == frame + tap - p_t).to(dt)  # [T, T, k_t]
    inside = band.sum(1)  # [T, k_t]: taps of frame t that fall inside the clip
    w_static = torch.einsum("tj,ocjhw->tochw", inside, weight_static).reshape(t * c_out, -1, k_h, k_w)
    w_dynamic = torch.einsum("tsj,ocjhw->toschw", band, weight_dynamic).reshape(t * c_out, t * c_dyn, k_h, k_w)
    weight = torch.cat([w_static, w_dynamic], dim=1)
    x = torch.cat([static, dynamic.reshape(b, t * c_dyn, h, w)], dim=1)
    x = x.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(x, weight, None if bias is None else bias.repeat(t), padding=(k_h // 2, k_w // 2))
    return out.contiguous().view(b, t, c_out, h, w)


class ConcatBlock(nn.Module):
    """The published block H: ``Conv3d(C + c_dyn -> C, kernel 3, padding 1)`` on channel-concatenated input.

    ``out = conv3d(concat_channels(static_repeated, dynamic))``; 327 parameters for ``C = 3, c_dyn = 1``.
    The convolution is named ``encoder`` as in the published code, so its state dict keys
    (``encoder.weight``, ``encoder.bias``) load released weights as they are.

    :meth:`forward` is the literal formula; :meth:`forward_static` (used by :class:`DynamicMemoryBlock`)
    computes the same numbers from the un-repeated static image with :func:`static_dynamic_conv3d`,
    which is several times faster on CPU.

    Args:
        channels: Video channels ``C``.
        dynamic_channels: Dynamic memory channels ``c_dyn``.
        kernel_size: Cubic kernel size (odd; padding keeps the size).

    Shape:
        - static: ``[B, T, C, H, W]`` (typically an expanded view of one image per video).
        - dynamic: ``[B, T, c_dyn, H, W]``.
        - Output: ``[B, T, C, H, W]``, contiguous.

    Example:
        >>> block = ConcatBlock(3, 1)
        >>> block(torch.randn(2, 4, 3, 5, 5), torch.randn(2, 4, 1, 5, 5)).shape
        torch.Size([2, 4, 3, 5, 5])
    """

    def __init__(self, channels: int = 3, dynamic_channels: int = 1, kernel_size: int = 3) -> None:
        super().__init__()
        self.channels = channels
        self.encoder = nn.Conv3d(channels + dynamic_channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Combine ``static`` and ``dynamic`` (see the class docstring)."""
        x = torch.cat([static, dynamic], dim=2)
        y = self.encoder(rearrange(x, "b t c h w -> b c t h w"))
        return rearrange(y, "b c t h w -> b t c h w").contiguous()

    def forward_static(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Same as ``forward(static repeated over T, dynamic)`` from ``static [B, C, H, W]``."""
        if not _fusable(self.encoder, dynamic.shape[1]):
            return self.forward(static.unsqueeze(1).expand(-1, dynamic.shape[1], -1, -1, -1), dynamic)
        weight = self.encoder.weight
        return static_dynamic_conv3d(
            static, dynamic, weight[:, : self.channels], weight[:, self.channels :], self.encoder.bias
        )


class AddBlock(nn.Module):
    """The published ``"add"`` variant: ``Conv3d(C -> C, kernel 3, padding 1)`` on ``static + dynamic``.

    The dynamic memory is broadcast over channels when ``c_dyn = 1`` (it must be 1 or ``C``).

    Args:
        channels: Video channels ``C``.
        kernel_size: Cubic kernel size (odd).

    Shape:
        - static: ``[B, T, C, H, W]``; dynamic: ``[B, T, 1 or C, H, W]``.
        - Output: ``[B, T, C, H, W]``, contiguous.

    Example:
        >>> AddBlock(3)(torch.randn(2, 4, 3, 5, 5), torch.randn(2, 4, 1, 5, 5)).shape
        torch.Size([2, 4, 3, 5, 5])
    """

    def __init__(self, channels: int = 3, kernel_size: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Conv3d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Combine ``static`` and ``dynamic`` (see the class docstring)."""
        y = self.encoder(rearrange(static + dynamic, "b t c h w -> b c t h w"))
        return rearrange(y, "b c t h w -> b t c h w").contiguous()

    def forward_static(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Same as ``forward(static repeated over T, dynamic)`` from ``static [B, C, H, W]``."""
        if not _fusable(self.encoder, dynamic.shape[1]):
            return self.forward(static.unsqueeze(1).expand(-1, dynamic.shape[1], -1, -1, -1), dynamic)
        weight = self.encoder.weight
        # conv(static + broadcast(dynamic)) = conv(static) + conv(dynamic) with the kernel summed over the
        # input channels that the broadcast copies the single dynamic channel into.
        w_dyn = weight.sum(1, keepdim=True) if dynamic.shape[2] == 1 else weight
        return static_dynamic_conv3d(static, dynamic, weight, w_dyn, self.encoder.bias)


class WarpBlock(nn.Module):
    """Motion block: frame ``t`` is the static image moved by the displacement field ``dynamic[:, t]``.

    The dynamic memory holds ``(dy, dx)`` in pixels (2 channels); frame ``t`` at pixel ``p`` is the static
    sampled bilinearly at ``p - d_t(p)`` (:func:`temporal_condense.motion.warp`). No parameters: a zero dynamic
    memory renders the static repeated over time (to float rounding). A dynamic memory stored at 1 x 1 pixels
    (``DynamicMemoryBlock(dynamic_size=(1, 1))``) is one translation per frame: 2 numbers per frame instead of
    ``H x W``, which :func:`temporal_condense.motion.estimate_translation` can fill from real clips.

    Args:
        padding_mode: What moves in from outside the image: ``"border"``, ``"zeros"``, ``"reflection"`` or
            ``"circular"`` (see :func:`temporal_condense.motion.warp`); ``DynamicMemoryBlock(block="warp")``
            takes it from ``warp_padding``.

    Shape:
        - static: ``[B, T, C, H, W]``; dynamic: ``[B, T, 2, H, W]``.
        - Output: ``[B, T, C, H, W]``, contiguous.

    Example:
        >>> static = torch.rand(1, 3, 3, 6, 6)
        >>> out = WarpBlock()(static, torch.zeros(1, 3, 2, 6, 6))
        >>> torch.allclose(out, static, atol=1e-6)
        True
    """

    def __init__(self, padding_mode: str = "border") -> None:
        super().__init__()
        self.padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)

    def forward(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Combine ``static`` and ``dynamic`` (see the class docstring)."""
        b, t = static.shape[:2]
        if dynamic.shape[2] != 2:
            raise ShapeError(f"the warp block needs a 2-channel dynamic memory (dy, dx), got {dynamic.shape[2]}")
        out = warp(
            rearrange(static, "b t c h w -> (b t) c h w"),
            rearrange(dynamic, "b t c h w -> (b t) c h w"),
            self.padding_mode,
        )
        return rearrange(out, "(b t) c h w -> b t c h w", b=b, t=t).contiguous()

    def forward_static(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Same as ``forward(static repeated over T, dynamic)`` from ``static [B, C, H, W]``."""
        return self.forward(static.unsqueeze(1).expand(-1, dynamic.shape[1], -1, -1, -1), dynamic)

    def extra_repr(self) -> str:
        return f"padding_mode={self.padding_mode!r}"


def identity_init_(conv: nn.Conv3d, channels: int) -> nn.Conv3d:
    """Set ``conv`` to pass input channel ``c < channels`` to output channel ``c`` unchanged (in place).

    The centre tap of the kernel is the identity on the first ``channels`` input channels; every other
    weight (other taps, the dynamic-memory channels) and the bias are zero.

    Example:
        >>> conv = identity_init_(nn.Conv3d(4, 3, 3, padding=1), 3)
        >>> x = torch.randn(1, 4, 2, 5, 5)
        >>> torch.equal(conv(x), x[:, :3])
        True
    """
    k = conv.kernel_size
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(channels):
            conv.weight[c, c, k[0] // 2, k[1] // 2, k[2] // 2] = 1.0
        if conv.bias is not None:
            conv.bias.zero_()
    return conv


def residual_init_(conv: nn.Conv3d, channels: int, gain: float = 1.0) -> nn.Conv3d:
    """:func:`identity_init_` plus a centre tap of ``gain / c_dyn`` from every dynamic channel to every output.

    The block then computes ``static + gain * mean_j(dynamic_j)`` at the start: with a zero dynamic memory
    the video is exactly the static image repeated over time, and, unlike :func:`identity_init_`, the
    dynamic memory receives a non-zero gradient from the first step (``d video / d dynamic = gain / c_dyn``).

    Args:
        conv: A ``Conv3d(channels + c_dyn -> channels)`` (the :class:`ConcatBlock` encoder).
        channels: Static (and output) channels.
        gain: Weight of the dynamic memory in every output channel.

    Example:
        >>> conv = residual_init_(nn.Conv3d(4, 3, 3, padding=1), 3)
        >>> x = torch.randn(1, 4, 2, 5, 5)
        >>> torch.allclose(conv(x), x[:, :3] + x[:, 3:])
        True
    """
    identity_init_(conv, channels)
    k = conv.kernel_size
    c_dyn = conv.in_channels - channels
    if c_dyn > 0:
        with torch.no_grad():
            conv.weight[:, channels:, k[0] // 2, k[1] // 2, k[2] // 2] = gain / c_dyn
    return conv


class DynamicMemoryBlockConfig(SyntheticSetConfig):
    """Configuration of :class:`DynamicMemoryBlock` (written as JSON by ``save``).

    Cross-field checks: ``static_per_video <= static_per_class``, ``dynamic_per_video <= dynamic_per_class``,
    ``dynamic_frames <= frames``, fixed pairing uses one static and one dynamic per video, the ``"add"``
    block needs ``dynamic_channels`` 1 or ``channels``, the ``"warp"`` block 2 and ``size`` at least 2 x 2,
    ``warp_padding`` other than ``"border"`` only with the ``"warp"`` block, ``static_size`` and
    ``dynamic_size`` (stored sizes, up-sampled to ``size``) at most ``size``.
    """

    static_per_class: PositiveInt
    dynamic_per_class: PositiveInt
    dynamic_frames: PositiveInt
    dynamic_channels: PositiveInt = 1
    block: Literal["conv", "add", "warp", "custom"] = "conv"
    block_class: str | None = None
    warp_padding: PaddingMode = "border"
    static_size: tuple[PositiveInt, PositiveInt] | None = None
    dynamic_size: tuple[PositiveInt, PositiveInt] | None = None
    pairing: Literal["random", "fixed"] = "random"
    static_per_video: PositiveInt = 1
    dynamic_per_video: PositiveInt = 1
    train_static: bool = False
    train_block: bool = True
    mode: str = "linear"
    block_init: Literal["default", "identity", "residual"] = "default"
    dynamic_init: Literal["randn", "zeros"] = "randn"
    dynamic_std: float = Field(1.0, gt=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> DynamicMemoryBlockConfig:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.dynamic_frames > self.frames:
            raise ValueError(f"dynamic_frames must be <= frames ({self.frames}), got {self.dynamic_frames}")
        if self.static_per_video > self.static_per_class:
            raise ValueError(
                f"static_per_video must be <= static_per_class ({self.static_per_class}), got {self.static_per_video}"
            )
        if self.dynamic_per_video > self.dynamic_per_class:
            raise ValueError(
                f"dynamic_per_video must be <= dynamic_per_class ({self.dynamic_per_class}), "
                f"got {self.dynamic_per_video}"
            )
        if self.pairing == "fixed" and (self.static_per_video != 1 or self.dynamic_per_video != 1):
            raise ValueError(
                "pairing='fixed' uses one static and one dynamic per video: static_per_video and "
                f"dynamic_per_video must be 1, got {self.static_per_video} and {self.dynamic_per_video}"
            )
        if self.block_init != "default" and self.block in ("warp", "custom"):
            raise ValueError(
                f"block_init={self.block_init!r} applies to the built-in 'conv' and 'add' blocks, not to "
                f"{self.block!r}"
            )
        if self.block == "warp" and (self.dynamic_channels != 2 or min(self.size) < 2):
            raise ValueError(
                "block='warp' needs dynamic_channels 2 (dy, dx) and size at least (2, 2), got dynamic_channels "
                f"{self.dynamic_channels} and size {self.size}"
            )
        if self.warp_padding != "border" and self.block != "warp":
            raise ValueError(
                f"warp_padding={self.warp_padding!r} is the padding of the 'warp' block, got block {self.block!r}"
            )
        for name in ("static_size", "dynamic_size"):
            stored = getattr(self, name)
            if stored is not None and (stored[0] > self.size[0] or stored[1] > self.size[1]):
                raise ValueError(f"{name} must be at most size {self.size} (it is up-sampled to it), got {stored}")
        if self.block == "add" and self.dynamic_channels not in (1, self.channels):
            raise ValueError(
                f"block='add' needs dynamic_channels 1 (broadcast) or channels ({self.channels}), "
                f"got {self.dynamic_channels}"
            )
        return self


def _upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear ``[N, C, h, w] -> [N, C, *size]`` (how stored statics and dynamics reach the rendered size)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _slots(videos_per_class: int, per_video: int, per_class: int) -> torch.Tensor:
    """``[videos_per_class, per_video]`` table: slot v owns ``(v * per_video + j) % per_class``."""
    v = torch.arange(videos_per_class).unsqueeze(1)
    j = torch.arange(per_video).unsqueeze(0)
    return (v * per_video + j) % per_class


class DynamicMemoryBlock(SyntheticSet):
    """Static-dynamic synthetic video set: ``video = H(static repeated over T, I(dynamic))``.

    See :mod:`temporal_condense.dynamic_memory` for the slot-to-memory mapping and the random pairing.

    Args:
        num_classes: Number of classes.
        videos_per_class: Video slots per class.
        frames: Frames per rendered video.
        size: ``(H, W)``.
        static: Stage-1 static images ``[num_classes * static_per_class, C, H, W]`` (class-major), or
            ``"noise"`` for standard normal statics (the published code without ``--path_static``; logged,
            and a warning when they stay frozen). Required: ``None`` raises :class:`ConfigError` (see
            :meth:`from_videos` and :meth:`from_dataset` to take statics from real clips).
        static_per_class: Statics per class; default ``len(static) // num_classes`` or, without ``static``,
            ``videos_per_class * static_per_video``.
        dynamic_per_class: Dynamic memories per class; default ``videos_per_class * dynamic_per_video``.
        dynamic_frames: Stored frames per dynamic memory ``N_dyn <= frames`` (default ``frames``); fewer are
            interpolated with ``mode`` before the block.
        dynamic_channels: Channels ``c_dyn`` of the dynamic memory (default 1, as published).
        block: ``"conv"`` (published :class:`ConcatBlock`), ``"add"`` (:class:`AddBlock`), ``"warp"``
            (:class:`WarpBlock`: the dynamic memory moves the static; needs ``dynamic_channels=2``) or any
            ``nn.Module`` called as ``block(static [B, T, C, H, W], dynamic [B, T, c_dyn, H, W]) ->
            [B, T, C, H, W]`` (``static`` is an expanded view: do not modify it in place).
        pairing: ``"random"`` (draw one of the slot's statics and dynamics per render) or ``"fixed"``.
        static_per_video: Statics owned by each slot (random pairing; default ``min(2, static_per_class)``).
        dynamic_per_video: Dynamics owned by each slot (default ``min(2, dynamic_per_class)``).
        train_static: Make the static memory a trainable parameter (otherwise a buffer).
        train_block: Train the block's parameters (the published loop does). ``False`` keeps the block as
            initialized (``requires_grad=False``; left out of :meth:`param_groups`): with ``block_init="residual"``
            every video stays ``static + dynamic memory`` and only the dynamic memory learns. On the quickstart's
            benchmark a trained ``"conv"`` block learned to delete the statics from the middle frames
            (docs/results.md).
        block_init: ``"default"`` (PyTorch's Conv3d initialization, as published) or ``"identity"``: the
            block's kernel passes each static channel through its centre tap and ignores the dynamic memory
            (zero weights and bias), so before training every ``"conv"`` video is its static image repeated
            over time (exactly the static-only baseline) and training adds motion to it (with ``"add"`` the
            video starts as static + dynamic memory); see :func:`identity_init_`. Beware: with ``"conv"`` the
            dynamic memory then gets exactly zero gradient until the block's dynamic weights move.
            ``"residual"``: identity plus a centre tap from the dynamic memory (:func:`residual_init_`),
            so the video starts as ``static + dynamic`` and every part learns from the first step; with
            ``dynamic_init="zeros"`` it starts as exactly the static-only video.
        dynamic_init: ``"randn"`` (standard normal times ``dynamic_std``; published) or ``"zeros"``.
        dynamic_std: Standard deviation of the ``"randn"`` init. Memories live in the pixel space of the real
            clips the loss sees: 1 is the published scale for standardized clips; for clips in [0, 1] use
            about their std.
        channels: Video channels; default ``static.shape[1]`` or 3.
        mode: Interpolation mode for ``dynamic_frames < frames``.
        seed: Seeds the initialization (noise statics, dynamic memory, built-in block); otherwise torch's
            global RNG is used.
        static_size: ``(h, w)`` at which the statics are stored (default ``size``); they are up-sampled
            bilinearly to ``size`` when rendering, so a static costs ``C * h * w`` values.
        dynamic_size: ``(h, w)`` at which the dynamic memory is stored (default ``size``), up-sampled
            bilinearly to ``size`` after the temporal interpolation; ``(1, 1)`` is one value per channel and
            frame (with ``block="warp"``: a translation per frame).
        warp_padding: What the ``"warp"`` block moves in from outside the image: ``"border"`` (default: the
            edge pixels, as a camera pan of real video), ``"zeros"``, ``"reflection"`` or ``"circular"``
            (content that leaves one edge comes back at the other, as in data drawn on a torus).

    Raises:
        ConfigError: Invalid counts or combinations (see :class:`DynamicMemoryBlockConfig`); no ``static``.
        ShapeError: ``static`` of the wrong rank, size, channel count or number of images, or not finite.

    Shape:
        - Output of ``forward``: ``[B, frames, C, H, W]`` (contiguous) and labels ``[B]``.

    Example:
        >>> static = torch.rand(2 * 2, 3, 8, 8)
        >>> synset = DynamicMemoryBlock(2, 1, frames=16, size=(8, 8), static=static, dynamic_frames=4)
        >>> synset.dynamic.shape
        torch.Size([2, 2, 4, 1, 8, 8])
    """

    DEFAULT_LRS: ClassVar[dict[str, float]] = {"static": 100.0, "dynamic": 0.01, "block": 0.01}
    PIXEL_PART: ClassVar[str] = "static"
    KIND: ClassVar[str] = "DynamicMemoryBlock"

    config: DynamicMemoryBlockConfig
    static: torch.Tensor
    _static_slots: torch.Tensor
    _dynamic_slots: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        videos_per_class: int,
        frames: int,
        size: tuple[int, int] | Sequence[int],
        static: torch.Tensor | str | None = None,
        static_per_class: int | None = None,
        dynamic_per_class: int | None = None,
        dynamic_frames: int | None = None,
        dynamic_channels: int = 1,
        block: str | nn.Module = "conv",
        pairing: str = "random",
        static_per_video: int | None = None,
        dynamic_per_video: int | None = None,
        train_static: bool = False,
        *,
        train_block: bool = True,
        block_init: str = "default",
        dynamic_init: str = "randn",
        dynamic_std: float = 1.0,
        channels: int | None = None,
        mode: str = "linear",
        seed: int | None = None,
        static_size: tuple[int, int] | Sequence[int] | None = None,
        dynamic_size: tuple[int, int] | Sequence[int] | None = None,
        warp_padding: str = "border",
    ) -> None:
        if static is None:
            raise ConfigError(
                "static is required: pass the stage-1 statics [num_classes * static_per_class, C, H, W] "
                "(temporal_condense.static), build the set from real clips with DynamicMemoryBlock.from_videos("
                "videos, videos_per_class) or .from_dataset(data, videos_per_class), or pass static='noise' for "
                "standard normal statics (train them with train_static=True), got None"
            )
        if isinstance(static, str):
            if static != "noise":
                raise ConfigError(f"static must be a tensor of images or 'noise', got {static!r}")
            if train_static:
                logger.info("DynamicMemoryBlock: static='noise', standard normal statics trained with the set")
            else:
                logger.warning(
                    "DynamicMemoryBlock: static='noise' with train_static=False: the statics stay frozen noise; "
                    "pass stage-1 statics or train_static=True unless this is intended"
                )
            static = None
        else:
            static = check_tensor(static, "static", floating=True)
            if static.ndim != 4:
                raise ShapeError(
                    f"static must be a 4-D batch of images [N, C, H, W], got {static.ndim}-D "
                    f"(shape {tuple(static.shape)})"
                )
            if channels is None:
                channels = int(static.shape[1])
        channels = 3 if channels is None else channels
        # Defaults that depend on other arguments (validated afterwards by the config model).
        spv: int | None
        dpv: int | None
        if pairing == "fixed":
            spv = 1 if static_per_video is None else static_per_video
            dpv = 1 if dynamic_per_video is None else dynamic_per_video
        else:
            spv, dpv = static_per_video, dynamic_per_video
        if static_per_class is None and static is not None and isinstance(num_classes, int) and num_classes > 0:
            if static.shape[0] % num_classes != 0:
                raise ShapeError(
                    f"static must hold num_classes * static_per_class images (a multiple of num_classes="
                    f"{num_classes}), got {static.shape[0]} images"
                )
            static_per_class = int(static.shape[0]) // num_classes
        if spv is None:
            spv = min(2, static_per_class) if isinstance(static_per_class, int) else 2
        if dpv is None:
            dpv = min(2, dynamic_per_class) if isinstance(dynamic_per_class, int) else 2
        if static_per_class is None and isinstance(videos_per_class, int) and isinstance(spv, int):
            static_per_class = videos_per_class * spv
        if dynamic_per_class is None and isinstance(videos_per_class, int) and isinstance(dpv, int):
            dynamic_per_class = videos_per_class * dpv
        if isinstance(block, nn.Module):
            block_name = "custom"
            block_class: str | None = f"{type(block).__module__}.{type(block).__qualname__}"
        elif isinstance(block, str) and block in ("conv", "add", "warp"):
            block_name, block_class = block, None
        else:
            raise ConfigError(f"block must be 'conv', 'add', 'warp' or an nn.Module, got {block!r}")

        config = build_config(
            DynamicMemoryBlockConfig,
            {
                "num_classes": num_classes,
                "videos_per_class": videos_per_class,
                "frames": frames,
                "size": tuple(size) if isinstance(size, (list, tuple)) else size,
                "channels": channels,
                "static_per_class": static_per_class,
                "dynamic_per_class": dynamic_per_class,
                "dynamic_frames": frames if dynamic_frames is None else dynamic_frames,
                "dynamic_channels": dynamic_channels,
                "block": block_name,
                "block_class": block_class,
                "warp_padding": warp_padding,
                "pairing": pairing,
                "static_per_video": spv,
                "dynamic_per_video": dpv,
                "train_static": train_static,
                "train_block": train_block,
                "block_init": block_init,
                "dynamic_init": dynamic_init,
                "dynamic_std": dynamic_std,
                "mode": mode,
                "static_size": None if static_size is None else tuple(static_size),
                "dynamic_size": None if dynamic_size is None else tuple(dynamic_size),
            },
        )
        super().__init__(config)
        h, w = config.size
        sh, sw = config.static_size or config.size
        dh, dw = config.dynamic_size or config.size
        n_static = config.num_classes * config.static_per_class
        if static is not None:
            if tuple(static.shape[-2:]) not in ((sh, sw), (h, w)):
                raise ShapeError(
                    f"static images must have spatial size static_size={(sh, sw)} or size={(h, w)} (area "
                    f"down-sampled to static_size), got {tuple(static.shape[-2:])}"
                )
            if static.shape[1] != config.channels:
                raise ShapeError(f"static must have channels={config.channels}, got {static.shape[1]}")
            if static.shape[0] != n_static:
                raise ShapeError(
                    f"static must hold num_classes * static_per_class = {config.num_classes} * "
                    f"{config.static_per_class} = {n_static} images, got {static.shape[0]}"
                )
            check_finite(static, "static")

        rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
        with rng:
            if seed is not None:
                torch.manual_seed(int(seed))
            static_data = (
                torch.randn(n_static, config.channels, sh, sw)
                if static is None
                else static.detach().clone().to(torch.get_default_dtype())
            )
            if tuple(static_data.shape[-2:]) != (sh, sw):
                static_data = F.interpolate(static_data, size=(sh, sw), mode="area")
            dynamic_data = torch.randn(
                config.num_classes,
                config.dynamic_per_class,
                config.dynamic_frames,
                config.dynamic_channels,
                dh,
                dw,
            )
            module: nn.Module
            if isinstance(block, nn.Module):
                module = block
            elif block == "conv":
                module = ConcatBlock(config.channels, config.dynamic_channels)
            elif block == "warp":
                module = WarpBlock(config.warp_padding)
            else:
                module = AddBlock(config.channels)
            if config.dynamic_init == "zeros":
                dynamic_data.zero_()
            elif config.dynamic_std != 1.0:
                dynamic_data.mul_(config.dynamic_std)
            if isinstance(module, ConcatBlock) and config.block_init == "residual":
                residual_init_(module.encoder, config.channels)
            elif isinstance(module, (ConcatBlock, AddBlock)) and config.block_init != "default":
                identity_init_(module.encoder, config.channels)  # for "add", residual = identity
        if config.train_static:
            self.static = nn.Parameter(static_data.contiguous())
        else:
            self.register_buffer("static", static_data.contiguous())
        self.dynamic = nn.Parameter(dynamic_data)
        self.block = module
        if not config.train_block:
            self.block.requires_grad_(False)
        self.interpolator = Interpolator(config.frames, config.mode)
        self.register_buffer(
            "_static_slots",
            _slots(config.videos_per_class, config.static_per_video, config.static_per_class),
            persistent=False,
        )
        self.register_buffer(
            "_dynamic_slots",
            _slots(config.videos_per_class, config.dynamic_per_video, config.dynamic_per_class),
            persistent=False,
        )

    # ------------------------------------------------------------------------------------------ rendering
    def pair(
        self, indices: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Choose the static and dynamic memory of each video (see the module docstring).

        Args:
            indices: Validated int64 video indices.
            generator: Source of the random draws (random pairing only).

        Returns:
            ``(static_index [B], dynamic_index [B])``: rows of ``static`` and positions within the class's
            dynamic memories.
        """
        cfg = self.config
        device = indices.device
        label = torch.div(indices, cfg.videos_per_class, rounding_mode="floor")
        slot = indices - label * cfg.videos_per_class
        b = indices.shape[0]
        if cfg.pairing == "random":
            gen_device = generator.device if generator is not None else torch.device("cpu")
            js = torch.randint(cfg.static_per_video, (b,), generator=generator, device=gen_device).to(device)
            jd = torch.randint(cfg.dynamic_per_video, (b,), generator=generator, device=gen_device).to(device)
        else:
            js = torch.zeros(b, dtype=torch.int64, device=device)
            jd = js
        static_slots = self._static_slots.to(device)
        dynamic_slots = self._dynamic_slots.to(device)
        static_index = label * cfg.static_per_class + static_slots[slot, js]
        dynamic_index = dynamic_slots[slot, jd]
        return static_index, dynamic_index

    def _render(self, indices: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        cfg = self.config
        static_index, dynamic_index = self.pair(indices, generator)
        label = torch.div(indices, cfg.videos_per_class, rounding_mode="floor")
        dynamic = self.dynamic[label, dynamic_index]  # [B, N_dyn, c_dyn, h, w]
        if cfg.dynamic_frames != cfg.frames:
            dynamic = self.interpolator(dynamic)
        if cfg.dynamic_size is not None and cfg.dynamic_size != cfg.size:
            n = dynamic.shape[1]
            dynamic = rearrange(
                _upsample(rearrange(dynamic, "b t c h w -> (b t) c h w"), cfg.size), "(b t) c h w -> b t c h w", t=n
            )
        static = self.static[static_index]  # [B, C, h, w]
        if cfg.static_size is not None and cfg.static_size != cfg.size:
            static = _upsample(static, cfg.size)
        b = static.shape[0]
        fast = getattr(self.block, "forward_static", None)
        if callable(fast):
            out = fast(static, dynamic)
        else:
            out = self.block(static.unsqueeze(1).expand(b, cfg.frames, *static.shape[1:]), dynamic)
        expected = (b, cfg.frames, cfg.channels, *cfg.size)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ShapeError(f"block output must have shape [B, T, C, H, W] = {expected}, got {got}")
        return out.contiguous()

    def _parts(self) -> dict[str, list[torch.Tensor]]:
        return {"static": [self.static], "dynamic": [self.dynamic], "block": list(self.block.parameters())}

    # ------------------------------------------------------------------------------------------ from real clips
    @classmethod
    def from_videos(
        cls,
        videos: torch.Tensor,
        videos_per_class: int,
        *,
        static_per_video: int = 2,
        **kwargs: Any,
    ) -> DynamicMemoryBlock:
        """Build the set from the tensor a published init block filled (real clips per class, or noise).

        Replaces ``image_syn = image_syn.detach().to(device).requires_grad_(True)`` of the baseline loops: the
        statics are ``static_per_video`` evenly spaced frames of every clip (first and last for 2, as each
        published slot owns 2 statics), so video slot ``v`` of class ``c`` owns the frames of clip
        ``c * videos_per_class + v``. Frames, size and channels come from the clips; dtype and device are kept.

        Args:
            videos: Class-major clips ``[num_classes * videos_per_class, T, C, H, W]``.
            videos_per_class: Clips (video slots) per class (the loop's ``ipc``).
            static_per_video: Statics taken from every clip (and owned by its slot).
            **kwargs: Any other argument of :class:`DynamicMemoryBlock` (``dynamic_frames``, ``block``,
                ``block_init``, ``train_static``, ``pairing``, ``dynamic_per_video``, ``mode``, ``seed``, ...).

        Example:
            >>> image_syn = torch.randn(2 * 1, 8, 3, 6, 6)  # the loop's init block filled this
            >>> image_syn = DynamicMemoryBlock.from_videos(image_syn, 1, seed=0)
            >>> image_syn.static.shape, image_syn.shape
            (torch.Size([4, 3, 6, 6]), torch.Size([2, 8, 3, 6, 6]))
        """
        for key in ("num_classes", "frames", "size", "static", "static_per_class", "channels"):
            if key in kwargs:
                raise ConfigError(f"from_videos takes {key} from the clips; drop {key}={kwargs[key]!r}")
        k = videos_per_class_of(videos, videos_per_class)
        spv = check_int(static_per_video, "static_per_video")
        _, t, c, h, w = videos.shape
        obj = cls(
            k, videos_per_class, t, (h, w), static=frames_at(videos, spv).cpu(),
            static_per_class=videos_per_class * spv, static_per_video=spv, channels=c, **kwargs,
        )  # fmt: skip
        return obj.to(device=videos.device, dtype=videos.dtype)

    @classmethod
    def from_dataset(
        cls,
        data: object,
        videos_per_class: int,
        *,
        init: str = "real",
        seed: int = 0,
        static_per_video: int = 2,
        num_classes: int | None = None,
        **kwargs: Any,
    ) -> DynamicMemoryBlock:
        """Build the set from a dataset: ``init="real"`` takes statics from ``videos_per_class`` random clips.

        Args:
            data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)``.
            videos_per_class: Video slots per class.
            init: ``"real"`` (statics from random real clips, see :meth:`from_videos`) or ``"noise"``
                (``static="noise"``: standard normal, logged).
            seed: Seeds the draw of clips.
            static_per_video: As in :meth:`from_videos`.
            num_classes: Default: ``data.num_classes`` or the largest label + 1.
            **kwargs: As in :meth:`from_videos`.
        """
        if init not in INITS:
            raise ConfigError(f"init must be one of {INITS}, got {init!r}")
        videos, _ = real_clips(data, videos_per_class, seed, num_classes=num_classes)
        if init == "real":
            return cls.from_videos(videos, videos_per_class, static_per_video=static_per_video, **kwargs)
        k = videos_per_class_of(videos, videos_per_class)
        _, t, c, h, w = videos.shape
        return cls(
            k, videos_per_class, t, (h, w), static="noise", static_per_class=videos_per_class * static_per_video,
            static_per_video=static_per_video, channels=c, **kwargs,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------ loading
    @classmethod
    def _from_config(cls, config: dict[str, Any], **kwargs: Any) -> DynamicMemoryBlock:
        block = kwargs.pop("block", None)
        if kwargs:
            raise ConfigError(f"DynamicMemoryBlock.load accepts only block=, got {sorted(kwargs)}")
        cfg = build_config(DynamicMemoryBlockConfig, config)
        if cfg.block == "custom":
            if not isinstance(block, nn.Module):
                raise ConfigError(
                    f"this artifact was saved with a user-supplied block ({cfg.block_class}); a module cannot "
                    f"be rebuilt from JSON: pass block=<an instance of it> to load, got {block!r}"
                )
            saved_class = cfg.block_class
            given_class = f"{type(block).__module__}.{type(block).__qualname__}"
            if saved_class is not None and given_class != saved_class:
                raise ConfigError(
                    f"block= must be an instance of the block class this artifact was saved with "
                    f"({saved_class}), got an instance of {given_class}"
                )
            block_arg: str | nn.Module = block
        else:
            if block is not None:
                raise ConfigError(f"block= is only for artifacts saved with a custom block, got {cfg.block!r}")
            block_arg = cfg.block
        return cls(
            num_classes=cfg.num_classes,
            videos_per_class=cfg.videos_per_class,
            frames=cfg.frames,
            size=cfg.size,
            static=torch.zeros(
                cfg.num_classes * cfg.static_per_class, cfg.channels, *(cfg.static_size or cfg.size)
            ),  # loaded next
            static_per_class=cfg.static_per_class,
            dynamic_per_class=cfg.dynamic_per_class,
            dynamic_frames=cfg.dynamic_frames,
            dynamic_channels=cfg.dynamic_channels,
            block=block_arg,
            pairing=cfg.pairing,
            static_per_video=cfg.static_per_video,
            dynamic_per_video=cfg.dynamic_per_video,
            train_static=cfg.train_static,
            train_block=cfg.train_block,
            channels=cfg.channels,
            mode=cfg.mode,
            block_init=cfg.block_init,
            dynamic_init=cfg.dynamic_init,
            dynamic_std=cfg.dynamic_std,
            seed=0,
            static_size=cfg.static_size,
            dynamic_size=cfg.dynamic_size,
            warp_padding=cfg.warp_padding,
        )

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"num_classes={c.num_classes}, videos_per_class={c.videos_per_class}, frames={c.frames}, "
            f"size={c.size}, static_per_class={c.static_per_class}, dynamic_per_class={c.dynamic_per_class}, "
            f"dynamic_frames={c.dynamic_frames}, dynamic_channels={c.dynamic_channels}, pairing={c.pairing!r}, "
            f"static_per_video={c.static_per_video}, dynamic_per_video={c.dynamic_per_video}, "
            f"train_static={c.train_static}, train_block={c.train_block}"
            + (f", static_size={c.static_size}" if c.static_size is not None else "")
            + (f", dynamic_size={c.dynamic_size}" if c.dynamic_size is not None else "")
            + (f", warp_padding={c.warp_padding!r}" if c.warp_padding != "border" else "")
        )
