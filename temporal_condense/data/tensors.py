"""Any video data as tensors: a ``(videos, labels)`` pair or a map-style Dataset of ``(video, label)``.

:func:`as_tensors` turns what a user has into one ``(videos [N, T, C, H, W], labels [N])`` pair (validated),
and :func:`single_frames` derives stage 1's single-frame view from clips: one random frame per clip, drawn
from a seed, so nobody has to write a ``single_frame()`` method for their own data.

Example:
    >>> import torch
    >>> from temporal_condense.data import as_tensors, single_frames
    >>> class Clips(torch.utils.data.Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return torch.full((3, 1, 2, 2), float(i)), i % 2
    >>> videos, labels = as_tensors(Clips())
    >>> tuple(videos.shape), labels.tolist()
    ((4, 3, 1, 2, 2), [0, 1, 0, 1])
    >>> images, same = single_frames(videos, labels, seed=0)
    >>> tuple(images.shape), torch.equal(same, labels)
    ((4, 1, 2, 2), True)
"""

from __future__ import annotations

from typing import Any

import torch
from tqdm.auto import tqdm

from temporal_condense._checks import check_finite, check_tensor
from temporal_condense.errors import ShapeError
from temporal_condense.seeds import seeded_generator

__all__ = ["as_tensors", "single_frames"]


def _check_pair(videos: object, labels: object, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = check_tensor(videos, f"{name} videos", floating=True)
    if x.ndim != 5:
        raise ShapeError(f"{name} videos must be 5-D [N, T, C, H, W], got shape {tuple(x.shape)}")
    y = check_tensor(labels, f"{name} labels", ndim=1)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ShapeError(f"{name} labels must have an integer dtype, got {y.dtype}")
    if x.shape[0] != y.shape[0]:
        raise ShapeError(f"{name} videos and labels must have the same length, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] == 0:
        raise ShapeError(f"{name} must not be empty, got 0 videos")
    if int(y.min()) < 0:
        raise ShapeError(f"{name} labels must be >= 0, got minimum {int(y.min())}")
    check_finite(x, f"{name} videos")
    return x.detach(), y.detach().to(torch.int64)


def as_tensors(data: object, name: str = "data", *, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(videos [N, T, C, H, W], labels [N] int64)`` from a tensor pair or any map-style Dataset.

    Args:
        data: A ``(videos, labels)`` pair, a dataset with ``preload(progress=)`` (ours), or any object with
            ``__len__`` and ``__getitem__`` returning ``(video [T, C, H, W] float tensor, int label)``.
        name: Named in error messages.
        progress: Show a bar while reading a Dataset.

    Returns:
        The validated pair (contiguous, detached).

    Raises:
        ShapeError: Not a pair or a Dataset, wrong ranks, items of different shapes, non-float videos,
            negative or non-integer labels, NaN/inf, no items.

    Shape:
        ``videos``: ``[N, T, C, H, W]``; ``labels``: ``[N]``.
    """
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ShapeError(f"{name} must be a (videos, labels) pair, got a sequence of length {len(data)}")
        x, y = _check_pair(data[0], data[1], name)
        return x.contiguous(), y
    preload = getattr(data, "preload", None)
    if callable(preload):
        x, y = preload(progress=progress)
        x, y = _check_pair(x, y, name)
        return x.contiguous(), y
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise ShapeError(
            f"{name} must be a (videos, labels) pair or a map-style Dataset of (video, label), "
            f"got {type(data).__name__}"
        )
    ds: Any = data
    n = len(ds)
    if n == 0:
        raise ShapeError(f"{name} must not be empty, got a dataset of length 0")
    xs: list[torch.Tensor] = []
    ys: list[int] = []
    for i in tqdm(range(n), desc=f"reading {name}", disable=not progress, leave=False):
        item = ds[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ShapeError(f"{name}[{i}] must be a (video, label) pair, got {type(item).__name__}")
        x, label = item[0], item[1]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 4:
            what = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"{name}[{i}] video must be a float tensor [T, C, H, W], got {what}")
        if xs and x.shape != xs[0].shape:
            raise ShapeError(f"{name}[{i}] has shape {tuple(x.shape)}, expected {tuple(xs[0].shape)} like item 0")
        xs.append(x.detach())
        ys.append(int(label))
    return _check_pair(torch.stack(xs), torch.tensor(ys, dtype=torch.int64), name)


def single_frames(
    videos: torch.Tensor, labels: torch.Tensor, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 1's single-frame view of clips: one uniformly random frame of every clip.

    Args:
        videos: Clips.
        labels: Their labels.
        seed: The frames are drawn from :func:`~temporal_condense.seeds.seeded_generator` ``(seed,
            "single_frames")``: the same seed gives the same frames.

    Returns:
        ``(images [N, C, H, W], labels [N])``.

    Shape:
        ``videos [N, T, C, H, W]`` -> ``images [N, C, H, W]``.
    """
    x, y = _check_pair(videos, labels, "videos")
    pick = torch.randint(0, x.shape[1], (x.shape[0],), generator=seeded_generator(seed, "single_frames"))
    return x[torch.arange(x.shape[0]), pick].contiguous(), y
