"""Initialization of synthetic sets from what a published loop has at hand (real clips, a dataset).

Published loops fill their synthetic tensor in an init block (``--init real``: random real clips per class,
else noise). The constructors ``SyntheticVideos.from_videos`` / ``DynamicMemoryBlock.from_videos`` take that
tensor, and ``from_dataset`` draws the real clips itself; the helpers below do the work:

* :func:`videos_per_class_of` checks a class-major ``[N, T, C, H, W]`` tensor and returns ``N // vpc``;
* :func:`fit_key_frames` picks ``N_syn`` key frames whose interpolation is closest (least squares) to a clip;
* :func:`frames_at` takes evenly spaced frames of every clip (statics for the static-dynamic set);
* :func:`real_clips` draws ``per_class`` random real clips of every class, class-major.

Example:
    >>> import torch
    >>> clip = torch.arange(5.0).view(1, 5, 1, 1, 1).expand(1, 5, 1, 2, 2)
    >>> [round(v, 4) for v in fit_key_frames(clip, 3, "linear")[0, :, 0, 0, 0].tolist()]
    [0.0, 2.0, 4.0]
    >>> frames_at(clip, 2)[:, 0, 0, 0].tolist()
    [0.0, 4.0]
"""

from __future__ import annotations

import torch

from temporal_condense._checks import check_finite, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.interpolator import interpolation_matrix

__all__ = ["INITS", "fit_key_frames", "frames_at", "real_clips", "videos_per_class_of"]

INITS: tuple[str, ...] = ("real", "noise")


def videos_per_class_of(videos: object, videos_per_class: int, name: str = "videos") -> int:
    """Check a class-major batch of clips ``[num_classes * videos_per_class, T, C, H, W]``; return num_classes.

    Raises:
        ShapeError: Not a finite floating 5-D tensor, or its length is not a multiple of ``videos_per_class``.
        ConfigError: ``videos_per_class`` is not a positive int.
    """
    vpc = check_int(videos_per_class, "videos_per_class")
    x = check_tensor(videos, name, ndim=5, floating=True)
    if x.shape[0] == 0 or x.shape[0] % vpc != 0:
        raise ShapeError(
            f"{name} must hold num_classes * videos_per_class clips (class-major, videos_per_class={vpc}), "
            f"got {x.shape[0]} clips"
        )
    check_finite(x, name)
    return int(x.shape[0]) // vpc


def fit_key_frames(videos: torch.Tensor, key_frames: int, mode: str = "linear") -> torch.Tensor:
    """Key frames ``k`` minimizing ``||I(k) - videos||`` for the interpolation ``I`` to ``T`` frames.

    With ``key_frames == T`` this returns the clips unchanged (a copy); with fewer, the least-squares solution
    (the pseudo-inverse of the ``[T, key_frames]`` interpolation matrix), computed in float64.

    Shape:
        - ``videos``: ``[N, T, C, H, W]`` -> ``[N, key_frames, C, H, W]`` (same dtype).
    """
    t = int(videos.shape[1])
    k = check_int(key_frames, "key_frames")
    if k > t:
        raise ConfigError(f"key_frames must be <= the clips' frames ({t}), got {k}")
    if k == t:
        return videos.detach().clone()
    w = interpolation_matrix(k, t, mode, dtype=torch.float64)
    pinv = torch.linalg.pinv(w).to(videos.device)  # [k, T]
    out = torch.einsum("kt,nt...->nk...", pinv, videos.detach().to(torch.float64))
    return out.to(videos.dtype).contiguous()


def frames_at(videos: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` evenly spaced frames of every clip (first and last for 2, the middle one for 1), clip-major.

    Shape:
        - ``videos``: ``[N, T, C, H, W]`` -> ``[N * count, C, H, W]`` (frame ``j`` of clip ``i`` at row
          ``i * count + j``).
    """
    t = int(videos.shape[1])
    n = check_int(count, "count")
    pos = [(t - 1) // 2] if n == 1 else [round(j * (t - 1) / (n - 1)) for j in range(n)]
    return videos.detach()[:, pos].flatten(0, 1).clone().contiguous()


def real_clips(
    data: object, per_class: int, seed: int = 0, *, num_classes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` random real clips of every class, class-major (the published ``--init real``).

    Args:
        data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)``.
        per_class: Clips per class.
        seed: Seeds the draw.
        num_classes: Default: a ``num_classes`` attribute of ``data`` or the largest label + 1.

    Returns:
        ``(videos [num_classes * per_class, T, C, H, W], labels)``.
    """
    from temporal_condense.evaluate import random_real_subset

    return random_real_subset(data, per_class, seed, num_classes=num_classes)
