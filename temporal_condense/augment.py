"""Differentiable Siamese Augmentation (DSA) for videos: the published ``DiffAugment`` call on ``[B, T, C, H, W]``.

The image codebases (DC/DSA, DM, MTT, DATM, the video codebase's stage 1) augment with
``DiffAugment(x, strategy, seed=-1, param=ParamDiffAug())`` on images ``[B, C, H, W]``. Given videos, their
transforms index the wrong axes and fail with shape errors. :func:`DiffAugment` here takes the same arguments
and gives videos the same transforms:

* **Strategy string**: ``"color_crop_cutout_flip_scale_rotate"`` (the published default) and any ``_``-joined
  subset of ``color`` (brightness, saturation, contrast), ``crop`` (integer translation with zero fill),
  ``cutout`` (a zeroed square), ``flip`` (horizontal), ``scale`` and ``rotate`` (affine resampling);
  ``"none"``/``""`` is the identity.
* **Parameters** are read by name from ``param`` (:class:`ParamDiffAug`, or the user's own ``ParamDiffAug``
  object from a published ``utils.py``; missing fields take the published defaults). With ``aug_mode="S"`` (the
  default) one component of the strategy is drawn per call; ``"M"`` applies all of them in order.
* **One draw per video**, the same on every frame: a video is transformed as ``T`` images sharing one set of
  random parameters (so the result on frame ``t`` equals the image augmentation of frame ``t``).
* **Siamese seeding as published**: ``seed=-1`` draws from torch's global RNG (or ``generator``); any other seed
  makes the call deterministic and *batch-wise*: every draw ``k`` of the call comes from seed ``seed + k`` and
  the first video's parameters apply to the whole batch, so ``DiffAugment(real, s, seed=k, param=p)`` and
  ``DiffAugment(syn, s, seed=k, param=p)`` transform a real and a synthetic batch of any sizes identically
  (the DC/DM siamese pair). Seeded draws use private generators: torch's global RNG is left untouched.

Random numbers are drawn on the CPU in the published order (the strategy choice, then per transform its
draws), so a call replays exactly under ``torch.random.fork_rng`` + ``torch.manual_seed`` (as the checkpointed
trajectory matching does), whatever device the videos are on.

Example:
    >>> import torch
    >>> x = torch.randn(2, 4, 3, 8, 8, requires_grad=True)   # [B, T, C, H, W]
    >>> y = DiffAugment(x, "color_crop_cutout_flip_scale_rotate", param=ParamDiffAug())
    >>> tuple(y.shape), y.requires_grad
    ((2, 4, 3, 8, 8), True)
    >>> real, syn = torch.randn(5, 4, 3, 8, 8), torch.randn(2, 4, 3, 8, 8)
    >>> a = DiffAugment(real, "flip", seed=3, param=ParamDiffAug())
    >>> b = DiffAugment(syn, "flip", seed=3, param=ParamDiffAug())
    >>> torch.equal(a[0, 0], real[0, 0].flip(-1)) == torch.equal(b[0, 0], syn[0, 0].flip(-1))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from temporal_condense._checks import check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["STRATEGIES", "DiffAugment", "DiffAugmentation", "ParamDiffAug"]

STRATEGIES: tuple[str, ...] = ("color", "crop", "cutout", "flip", "scale", "rotate")
DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"


@dataclass
class ParamDiffAug:
    """The published DSA parameters (field names and defaults as in the DC/DSA, DM and MTT codebases).

    Attributes:
        aug_mode: ``"S"`` (one strategy component per call) or ``"M"`` (all components in order).
        prob_flip: Probability of a horizontal flip.
        ratio_scale: Scale factors are drawn from ``[1 / ratio_scale, ratio_scale]`` per axis.
        ratio_rotate: Rotation angles are drawn from ``[-ratio_rotate, ratio_rotate]`` degrees.
        ratio_crop_pad: Translation of up to ``int(size * ratio_crop_pad + 0.5)`` pixels per axis.
        ratio_cutout: Side of the cutout square as a fraction of the frame.
        ratio_noise: Kept for compatibility (no published strategy uses it).
        brightness: Brightness offsets are drawn from ``[-brightness / 2, brightness / 2]``.
        saturation: Saturation factors are drawn from ``[0, saturation]``.
        contrast: Contrast factors are drawn from ``[contrast, contrast + 1]``.
    """

    aug_mode: str = "S"
    prob_flip: float = 0.5
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    ratio_noise: float = 0.05
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5


def _field(param: object, name: str) -> float:
    value = getattr(param, name, getattr(ParamDiffAug, name))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"param.{name} must be a finite number, got {value!r}")
    return float(value)


class _Draws:
    """The random numbers of one call: global RNG / ``generator``, or (siamese) ``seed + k`` for draw ``k``."""

    def __init__(self, seed: int | None, generator: torch.Generator | None, batch: int) -> None:
        self.seed = seed
        self.generator = generator
        self.count = 0
        self.batch = batch

    def _gen(self) -> torch.Generator | None:
        if self.seed is None:
            return self.generator
        gen = torch.Generator().manual_seed(self.seed + self.count)
        self.count += 1
        return gen

    def _batchwise(self, v: torch.Tensor) -> torch.Tensor:
        return v[:1].expand_as(v).clone() if self.seed is not None else v

    def rand(self) -> torch.Tensor:
        """``[B]`` uniform numbers in ``[0, 1)``."""
        return self._batchwise(torch.rand(self.batch, generator=self._gen()))

    def randint(self, low: int, high: int) -> torch.Tensor:
        """``[B]`` integers in ``[low, high)``."""
        return self._batchwise(torch.randint(low, high, (self.batch,), generator=self._gen()))

    def choice(self, n: int) -> int:
        """One index in ``[0, n)`` for the whole call (``aug_mode="S"``)."""
        return int(torch.randint(0, n, (1,), generator=self._gen()).item())


# Every transform takes frames ``f [B * T, C, H, W]`` and per-video draws repeated over the T frames.
Transform = Callable[[torch.Tensor, _Draws, object, int], torch.Tensor]


def _per_frame(v: torch.Tensor, frames: int, like: torch.Tensor) -> torch.Tensor:
    return v.to(device=like.device).repeat_interleave(frames, 0)


def _affine(f: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta.to(dtype=f.dtype, device=f.device), list(f.shape), align_corners=True)
    return F.grid_sample(f, grid, align_corners=True)


def _scale(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    ratio = _field(param, "ratio_scale")
    sx = draws.rand() * (ratio - 1.0 / ratio) + 1.0 / ratio
    sy = draws.rand() * (ratio - 1.0 / ratio) + 1.0 / ratio
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)], 1)
    return _affine(f, _per_frame(theta, frames, f))


def _rotate(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    angle = (draws.rand() - 0.5) * 2 * _field(param, "ratio_rotate") / 180 * math.pi
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return _affine(f, _per_frame(theta, frames, f))


def _flip(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    coin = _per_frame(draws.rand(), frames, f).view(-1, 1, 1, 1)
    return torch.where(coin < _field(param, "prob_flip"), f.flip(3), f)


def _brightness(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    r = _per_frame(draws.rand(), frames, f).to(f.dtype).view(-1, 1, 1, 1)
    return f + (r - 0.5) * _field(param, "brightness")


def _saturation(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    r = _per_frame(draws.rand(), frames, f).to(f.dtype).view(-1, 1, 1, 1)
    mean = f.mean(dim=1, keepdim=True)
    return (f - mean) * (r * _field(param, "saturation")) + mean


def _contrast(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    r = _per_frame(draws.rand(), frames, f).to(f.dtype).view(-1, 1, 1, 1)
    mean = f.mean(dim=(1, 2, 3), keepdim=True)
    return (f - mean) * (r + _field(param, "contrast")) + mean


def _crop(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    _, _, h, w = f.shape
    ratio = _field(param, "ratio_crop_pad")
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    th = _per_frame(draws.randint(-shift_h, shift_h + 1), frames, f)
    tw = _per_frame(draws.randint(-shift_w, shift_w + 1), frames, f)
    # Output pixel (i, j) reads (i + th, j + tw); outside the frame it reads the zero border.
    padded = F.pad(f, (1, 1, 1, 1))
    rows = (torch.arange(h, device=f.device).view(1, h) + th.view(-1, 1) + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=f.device).view(1, w) + tw.view(-1, 1) + 1).clamp(0, w + 1)
    n = torch.arange(f.shape[0], device=f.device).view(-1, 1, 1)
    return padded.permute(0, 2, 3, 1)[n, rows.unsqueeze(2), cols.unsqueeze(1)].permute(0, 3, 1, 2)


def _cutout(f: torch.Tensor, draws: _Draws, param: object, frames: int) -> torch.Tensor:
    _, _, h, w = f.shape
    ratio = _field(param, "ratio_cutout")
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oh = _per_frame(draws.randint(0, h + (1 - size_h % 2)), frames, f) - size_h // 2
    ow = _per_frame(draws.randint(0, w + (1 - size_w % 2)), frames, f) - size_w // 2
    i = torch.arange(h, device=f.device).view(1, h)
    j = torch.arange(w, device=f.device).view(1, w)
    in_rows = (i >= oh.view(-1, 1)) & (i < oh.view(-1, 1) + size_h)
    in_cols = (j >= ow.view(-1, 1)) & (j < ow.view(-1, 1) + size_w)
    keep = ~(in_rows.unsqueeze(2) & in_cols.unsqueeze(1))
    return f * keep.unsqueeze(1).to(f.dtype)


_TRANSFORMS: dict[str, tuple[Transform, ...]] = {
    "color": (_brightness, _saturation, _contrast),
    "crop": (_crop,),
    "cutout": (_cutout,),
    "flip": (_flip,),
    "scale": (_scale,),
    "rotate": (_rotate,),
}


def _parse(strategy: object) -> list[str]:
    if not isinstance(strategy, str):
        raise ConfigError(f"strategy must be a string such as {DEFAULT_STRATEGY!r}, got {type(strategy).__name__}")
    if strategy in ("", "none", "None"):
        return []
    parts = strategy.split("_")
    for p in parts:
        if p not in _TRANSFORMS:
            raise ConfigError(f"strategy {strategy!r} has unknown component {p!r}; valid components: {STRATEGIES}")
    return parts


def DiffAugment(  # noqa: N802 - the published name, so the published call stays as it is
    x: torch.Tensor,
    strategy: str = "",
    seed: int = -1,
    param: object = None,
    *,
    generator: torch.Generator | None = None,
    layout: str = "BTCHW",
) -> torch.Tensor:
    """Differentiable augmentation of videos (or images) with the published call signature.

    Args:
        x: Videos ``[B, T, C, H, W]`` (``layout="BCTHW"`` for channels first) or images ``[B, C, H, W]``.
        strategy: ``_``-joined components of ``color``, ``crop``, ``cutout``, ``flip``, ``scale``, ``rotate``;
            ``"none"`` or ``""`` returns ``x``.
        seed: ``-1`` (published default): random draws from ``generator`` or torch's global RNG, one per video.
            Otherwise siamese: draw ``k`` comes from seed ``seed + k`` and applies batch-wise.
        param: A :class:`ParamDiffAug` or any object with its fields (the published one); ``None``: defaults.
        generator: CPU generator for the non-siamese draws (default torch's global RNG).
        layout: ``"BTCHW"`` or ``"BCTHW"`` for 5-D input.

    Returns:
        The augmented tensor, same shape, dtype and device as ``x``, contiguous; differentiable w.r.t. ``x``.

    Raises:
        ShapeError: ``x`` is not a floating 4-D or 5-D tensor.
        ConfigError: Unknown strategy component, ``aug_mode``, ``layout`` or seed.

    Shape:
        - ``x``: ``[B, T, C, H, W]`` -> same (or ``[B, C, H, W]`` -> same).
    """
    x = check_tensor(x, "x", floating=True)
    if x.ndim not in (4, 5):
        raise ShapeError(f"x must be videos [B, T, C, H, W] or images [B, C, H, W], got shape {tuple(x.shape)}")
    if layout not in ("BTCHW", "BCTHW"):
        raise ConfigError(f"layout must be 'BTCHW' or 'BCTHW', got {layout!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < -1:
        raise ConfigError(f"seed must be -1 (no siamese seeding) or an int >= 0, got {seed!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ConfigError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    parts = _parse(strategy)
    if not parts:
        return x
    if param is None:
        param = ParamDiffAug()
    mode = getattr(param, "aug_mode", "S")
    if mode not in ("S", "M"):
        raise ConfigError(f"param.aug_mode must be 'S' (one component per call) or 'M' (all), got {mode!r}")
    video = x if x.ndim == 5 else x.unsqueeze(1)
    if x.ndim == 5 and layout == "BCTHW":
        video = video.transpose(1, 2)
    b, t = video.shape[:2]
    f = video.reshape(b * t, *video.shape[2:])
    draws = _Draws(None if seed == -1 else seed, generator, b)
    chosen = parts if mode == "M" else [parts[draws.choice(len(parts))]]
    for p in chosen:
        for fn in _TRANSFORMS[p]:
            f = fn(f, draws, param, t)
    out = f.reshape(video.shape)
    if x.ndim == 4:
        out = out.squeeze(1)
    elif layout == "BCTHW":
        out = out.transpose(1, 2)
    return out.contiguous()


class DiffAugmentation:
    """:func:`DiffAugment` as a render hook: ``synset.register_render_hook(DiffAugmentation(strategy, param))``.

    Use it where the augmentation must live inside the set's rendering, e.g. with
    ``trajectory_matching_loss(mode="checkpointed")``, which replays every render's random draws.

    Args:
        strategy: As in :func:`DiffAugment` (default the published ``"color_crop_cutout_flip_scale_rotate"``).
        param: As in :func:`DiffAugment`.

    Example:
        >>> hook = DiffAugmentation("flip_crop")
        >>> videos, labels = hook(torch.randn(2, 3, 3, 6, 6), torch.tensor([0, 1]))
        >>> tuple(videos.shape)
        (2, 3, 3, 6, 6)
    """

    def __init__(self, strategy: str = DEFAULT_STRATEGY, param: object = None) -> None:
        _parse(strategy)
        self.strategy = strategy
        self.param = ParamDiffAug() if param is None else param

    def __call__(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return DiffAugment(videos, self.strategy, param=self.param), labels

    def __repr__(self) -> str:
        return f"DiffAugmentation({self.strategy!r})"
