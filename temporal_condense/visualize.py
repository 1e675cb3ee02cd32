"""Pictures of synthetic videos: a PNG grid (rows = videos, columns = frames) and an animated GIF.

Both take a batch ``[B, T, C, H, W]`` (1 or 3 channels). Values are mapped to 8-bit with ``normalize``:
``"clip"`` clamps ``[0, 1]`` (videos in the data's range), ``"minmax"`` stretches each video's own range
(synthetic videos drift outside ``[0, 1]``; per-video scaling keeps them visible). Files are written
atomically (temporary file + rename) with Pillow.

Example:
    >>> import tempfile, os, torch
    >>> d = tempfile.mkdtemp()
    >>> p = save_video_grid(torch.rand(2, 4, 3, 8, 8), os.path.join(d, "grid.png"))
    >>> g = save_video_gif(torch.rand(2, 4, 3, 8, 8), os.path.join(d, "anim.gif"))
    >>> p.name, g.name
    ('grid.png', 'anim.gif')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import torch
from einops import rearrange
from PIL import Image

from temporal_condense._checks import check_choice, check_finite, check_int, check_video
from temporal_condense.errors import ShapeError
from temporal_condense.io import atomic_write

__all__ = ["save_video_gif", "save_video_grid", "video_grid", "video_to_uint8"]

Normalize = Literal["clip", "minmax"]
_NORMALIZE: tuple[str, ...] = ("clip", "minmax")


def video_to_uint8(videos: torch.Tensor, normalize: str = "minmax") -> torch.Tensor:
    """Map a float video batch to ``uint8`` ``[B, T, H, W, C]`` (C = 1 or 3).

    Args:
        videos: ``[B, T, C, H, W]`` floating tensor with ``C`` in ``{1, 3}``.
        normalize: ``"clip"`` (clamp to ``[0, 1]``) or ``"minmax"`` (each video to its own min/max).

    Returns:
        ``uint8`` tensor ``[B, T, H, W, C]``, contiguous, on the CPU.

    Raises:
        ShapeError: Not a 5-D floating batch, ``C`` not 1 or 3, or NaN/inf values (a picture of them would lie).
        ConfigError: Unknown ``normalize``.

    Shape:
        ``[B, T, C, H, W] -> [B, T, H, W, C]``.

    Example:
        >>> video_to_uint8(torch.ones(1, 2, 3, 4, 4), "clip").shape
        torch.Size([1, 2, 4, 4, 3])
    """
    x = check_finite(check_video(videos, "videos").detach(), "videos").to("cpu", torch.float32)
    check_choice(normalize, "normalize", _NORMALIZE)
    if x.shape[2] not in (1, 3):
        raise ShapeError(f"videos must have 1 or 3 channels to be drawn, got C={x.shape[2]} (shape {tuple(x.shape)})")
    x = torch.nan_to_num(x)
    if normalize == "minmax":
        lo = x.amin(dim=(1, 2, 3, 4), keepdim=True)
        hi = x.amax(dim=(1, 2, 3, 4), keepdim=True)
        x = (x - lo) / (hi - lo).clamp_min(1e-8)
    x = x.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return rearrange(x, "b t c h w -> b t h w c").contiguous()


def video_grid(videos: torch.Tensor, normalize: str = "minmax", padding: int = 1) -> torch.Tensor:
    """One image with a row per video and a column per frame.

    Args:
        videos: ``[B, T, C, H, W]`` (C = 1 or 3).
        normalize: See :func:`video_to_uint8`.
        padding: White pixels between tiles.

    Returns:
        ``uint8`` ``[B * (H + padding) + padding, T * (W + padding) + padding, C]``.

    Shape:
        ``[B, T, C, H, W] -> [rows, cols, C]``.

    Example:
        >>> video_grid(torch.rand(2, 3, 1, 4, 4), padding=0).shape
        torch.Size([8, 12, 1])
    """
    padding = check_int(padding, "padding", minimum=0)
    frames = video_to_uint8(videos, normalize)
    b, t, h, w, c = frames.shape
    canvas = torch.full((b * (h + padding) + padding, t * (w + padding) + padding, c), 255, dtype=torch.uint8)
    for i in range(b):
        for j in range(t):
            y, x = padding + i * (h + padding), padding + j * (w + padding)
            canvas[y : y + h, x : x + w] = frames[i, j]
    return canvas


def _pil(image: torch.Tensor) -> Image.Image:
    arr = image.numpy()
    return Image.fromarray(arr[..., 0], mode="L") if arr.shape[-1] == 1 else Image.fromarray(arr, mode="RGB")


def save_video_grid(
    videos: torch.Tensor,
    path: str | os.PathLike[str],
    normalize: str = "minmax",
    padding: int = 1,
    scale: int = 1,
) -> Path:
    """Save :func:`video_grid` as a PNG (atomically).

    Args:
        videos: ``[B, T, C, H, W]``.
        path: Output ``.png`` file.
        normalize: See :func:`video_to_uint8`.
        padding: Pixels between tiles.
        scale: Integer upscaling (nearest neighbour) for small frames.

    Returns:
        The path.

    Shape:
        ``videos``: ``[B, T, C, H, W]``.
    """
    scale = check_int(scale, "scale")
    img = _pil(video_grid(videos, normalize, padding))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def save_video_gif(
    videos: torch.Tensor,
    path: str | os.PathLike[str],
    normalize: str = "minmax",
    duration_ms: int = 120,
    scale: int = 2,
    padding: int = 1,
) -> Path:
    """Save an animated GIF: frame ``t`` shows frame ``t`` of every video side by side.

    Args:
        videos: ``[B, T, C, H, W]``.
        path: Output ``.gif`` file.
        normalize: See :func:`video_to_uint8`.
        duration_ms: Milliseconds per frame.
        scale: Integer upscaling (nearest neighbour).
        padding: Pixels between videos.

    Returns:
        The path.

    Shape:
        ``videos``: ``[B, T, C, H, W]``.
    """
    duration_ms = check_int(duration_ms, "duration_ms")
    scale = check_int(scale, "scale")
    padding = check_int(padding, "padding", minimum=0)
    frames = video_to_uint8(videos, normalize)
    b, t, h, w, c = frames.shape
    images = []
    for j in range(t):
        canvas = torch.full((h + 2 * padding, b * (w + padding) + padding, c), 255, dtype=torch.uint8)
        for i in range(b):
            x = padding + i * (w + padding)
            canvas[padding : padding + h, x : x + w] = frames[i, j]
        img = _pil(canvas).convert("RGB")
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
        images.append(img)

    def write(tmp: str) -> None:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0, optimize=False
        )

    return atomic_write(path, write)
