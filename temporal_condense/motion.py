"""Motion as a displacement of a still image: the warp that a ``block="warp"`` static-dynamic set renders with,
and the estimate of a clip's global translation that starts its dynamic memory from real motion.

A displacement field ``d = (dy, dx)`` (pixels) moves an image's content by ``d``: the warped image at pixel
``p`` is the image sampled (bilinearly) at ``p - d(p)``. A field that is constant over the image is a global
translation; :func:`estimate_translation` measures one per frame of a clip.

Example:
    >>> import torch
    >>> image = torch.zeros(1, 5, 5); image[0, 2, 1] = 1.0
    >>> d = torch.tensor([[0.0, 2.0]]).reshape(1, 2, 1, 1).expand(1, 2, 5, 5)  # 2 px to the right
    >>> warp(image[None], d)[0, 0, 2].tolist()
    [0.0, 0.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from einops import rearrange

from temporal_condense._checks import check_choice, check_finite, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["PADDING_MODES", "PaddingMode", "estimate_translation", "warp"]

PaddingMode = Literal["border", "zeros", "reflection", "circular"]
PADDING_MODES: tuple[str, ...] = get_args(PaddingMode)


def warp(images: torch.Tensor, displacement: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Move the content of ``images`` by ``displacement`` pixels (bilinear sampling at ``p - d(p)``).

    Differentiable in both inputs (``torch.nn.functional.grid_sample``, ``align_corners=True``, so pixel centres
    sit on the grid and a zero displacement returns the images, to float rounding).

    Args:
        images: ``[N, C, H, W]``, ``H, W >= 2``.
        displacement: ``[N, 2, H, W]``: ``(dy, dx)`` in pixels at every output pixel.
        padding_mode: What is sampled outside the image: ``"border"`` (the nearest edge pixel), ``"zeros"``,
            ``"reflection"`` or ``"circular"`` (the image repeats periodically: what leaves one edge comes back
            at the other, as on a torus).

    Returns:
        ``[N, C, H, W]``.

    Raises:
        ShapeError: Wrong ranks, sizes below 2 or mismatched shapes.
        ConfigError: Unknown ``padding_mode``.

    Shape:
        - images: ``[N, C, H, W]``; displacement: ``[N, 2, H, W]``.
        - Output: ``[N, C, H, W]``.

    Example:
        >>> x = torch.rand(2, 3, 6, 6)
        >>> torch.allclose(warp(x, torch.zeros(2, 2, 6, 6)), x, atol=1e-6)
        True
    """
    images = check_tensor(images, "images", ndim=4, floating=True)
    displacement = check_tensor(displacement, "displacement", ndim=4, floating=True)
    padding = check_choice(padding_mode, "padding_mode", PADDING_MODES)
    n, _, h, w = images.shape
    if h < 2 or w < 2:
        raise ShapeError(f"images must be at least 2 x 2 pixels to warp, got {h} x {w}")
    if tuple(displacement.shape) != (n, 2, h, w):
        raise ShapeError(
            f"displacement must have shape [N, 2, H, W] = {(n, 2, h, w)} (dy, dx per pixel of images), "
            f"got {tuple(displacement.shape)}"
        )
    ys = torch.arange(h, dtype=images.dtype, device=images.device)
    xs = torch.arange(w, dtype=images.dtype, device=images.device)
    sx = xs - displacement[:, 1]  # sampling position p - d(p), pixels
    sy = ys[:, None] - displacement[:, 0]
    if padding == "circular":
        # wrap into [0, size) and sample the image with its first row and column repeated after the last, so
        # that positions between the last pixel and the (wrapped) first one interpolate across the seam
        images = F.pad(images, (0, 1, 0, 1), mode="circular")
        sx, sy, h, w, padding = torch.remainder(sx, w), torch.remainder(sy, h), h + 1, w + 1, "border"
    # normalized coordinates; grid_sample wants (x, y) last
    grid = torch.stack([sx * (2.0 / (w - 1)) - 1.0, sy * (2.0 / (h - 1)) - 1.0], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def estimate_translation(videos: torch.Tensor, reference: int = 0) -> torch.Tensor:
    """Global translation of every frame of every clip against its ``reference`` frame (phase correlation).

    For each frame the whole-pixel shift ``(dy, dx)`` that best aligns the reference frame (channel mean) with it
    is the peak of their normalized cross-power spectrum. Shifts are unwrapped along time (consecutive frames
    move by less than half the image), so an object that leaves one edge and comes back at the other, as on a
    torus, keeps moving in its direction. Made for clips whose motion is mostly one rigid translation (a moving
    object on a plain or static background, a camera pan); other motion gives the dominant shift only.

    Args:
        videos: ``[N, T, C, H, W]``, finite.
        reference: The frame that gets displacement ``(0, 0)`` (``0 <= reference < T``).

    Returns:
        ``[N, T, 2]`` (``dy, dx``, whole pixels, in the dtype of ``videos``): warping the reference frame by
        ``[n, t]`` (:func:`warp`) moves its content to where frame ``t`` has it.

    Raises:
        ShapeError: ``videos`` not 5-D or not finite.
        ConfigError: ``reference`` out of range.

    Shape:
        - videos: ``[N, T, C, H, W]``.
        - Output: ``[N, T, 2]``.

    Example:
        >>> frame = torch.zeros(1, 8, 8); frame[0, 2:4, 1:3] = 1.0
        >>> clip = torch.stack([torch.roll(frame, shifts=(0, 2 * t), dims=(1, 2)) for t in range(3)])
        >>> estimate_translation(clip[None])[0].tolist()
        [[0.0, 0.0], [0.0, 2.0], [0.0, 4.0]]
    """
    videos = check_finite(check_tensor(videos, "videos", ndim=5, floating=True), "videos")
    _, t, _, h, w = videos.shape
    ref = check_int(reference, "reference", minimum=0)
    if ref >= t:
        raise ConfigError(f"reference must be a frame index in [0, {t}), got {ref}")
    grey = videos.mean(2).to(torch.float64)  # [N, T, H, W]
    spectrum = torch.fft.fft2(grey)
    cross = spectrum * spectrum[:, ref : ref + 1].conj()
    cross = cross / cross.abs().clamp_min(1e-12)
    peak = rearrange(torch.fft.ifft2(cross).real, "n t h w -> n t (h w)").argmax(-1)
    shift = torch.stack([torch.div(peak, w, rounding_mode="floor"), peak % w], dim=-1).to(torch.float64)
    size = torch.tensor([h, w], dtype=torch.float64)
    shift = torch.remainder(shift + size / 2, size) - size / 2  # (-size/2, size/2]-ish: the shortest shift
    # unwrap along time: every step between consecutive frames is the shortest one
    step = torch.remainder(shift.diff(dim=1) + size / 2, size) - size / 2
    path = torch.cat([torch.zeros_like(shift[:, :1]), step.cumsum(1)], dim=1)
    path = path - path[:, ref : ref + 1]
    return path.to(videos.dtype)
