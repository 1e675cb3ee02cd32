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

import torch
from tqdm.auto import tqdm

from temporal_condense.data.source import VideoSource, check_pair
from temporal_condense.errors import ShapeError
from temporal_condense.seeds import seeded_generator

__all__ = ["as_tensors", "single_frames"]


def _videos(x: torch.Tensor, y: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if x.ndim != 5:
        raise ShapeError(f"{name} videos must be 5-D [N, T, C, H, W], got shape {tuple(x.shape)}")
    return x.contiguous(), y


def as_tensors(data: object, name: str = "data", *, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(videos [N, T, C, H, W], labels [N] int64)`` from a tensor pair or any map-style Dataset.

    Args:
        data: Anything :class:`~temporal_condense.data.VideoSource` reads (a ``(videos, labels)`` pair, a
            synthetic set, a map-style Dataset of ``(video [T, C, H, W] float tensor, int label)``); a dataset
            with ``preload(progress=)`` (ours) reads itself.
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
    preload = getattr(data, "preload", None)
    if callable(preload) and not isinstance(data, (tuple, list)):  # our datasets read themselves fastest
        x, y = preload(progress=progress)
        return _videos(*check_pair(x, y, name), name)
    source = VideoSource(data, name)
    if source.tensors is not None:
        return _videos(*source.tensors, name)
    chunks = torch.arange(source.length).split(64)
    parts = [source.batch(idx) for idx in tqdm(chunks, desc=f"reading {name}", disable=not progress, leave=False)]
    return _videos(torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts]), name)


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
    x, y = _videos(*check_pair(videos, labels, "videos"), "videos")
    pick = torch.randint(0, x.shape[1], (x.shape[0],), generator=seeded_generator(seed, "single_frames"))
    return x[torch.arange(x.shape[0]), pick].contiguous(), y
