"""The random-real baseline: a class-balanced random subset of real clips (read through ``VideoSource``)."""

from __future__ import annotations

import torch

from temporal_condense._checks import check_int
from temporal_condense.data.source import Pair, VideoSource, check_label_range
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["Pair", "random_real_subset"]

def random_real_subset(
    data: object,
    per_class: int,
    seed: int = 0,
    *,
    num_classes: int | None = None,
) -> Pair:
    """A class-balanced random subset of real videos (the "random real" baseline of the papers).

    Args:
        data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)`` (a ``labels`` attribute, when
            present, avoids reading every item to learn the labels).
        per_class: Videos drawn (without replacement) from every class.
        seed: Seeds the draw; the same seed gives the same subset.
        num_classes: Number of classes; default a ``num_classes`` attribute or the largest label + 1.

    Returns:
        ``(videos [num_classes * per_class, ...], labels)``, class-major (class 0's videos first), contiguous.

    Raises:
        ConfigError: A class has fewer than ``per_class`` samples.

    Shape:
        ``videos``: ``[num_classes * per_class, T, C, H, W]``; ``labels``: ``[num_classes * per_class]``.

    Example:
        >>> x = torch.rand(6, 2, 1, 2, 2); y = torch.tensor([0, 1, 0, 1, 0, 1])
        >>> sub_x, sub_y = random_real_subset((x, y), per_class=2, seed=0)
        >>> sub_y.tolist()
        [0, 0, 1, 1]
    """
    per_class = check_int(per_class, "per_class")
    seed = check_int(seed, "seed", minimum=0)
    source = VideoSource(data, "data")
    if source.labels is None:
        labels = torch.tensor([source.item(i)[1] for i in range(source.length)], dtype=torch.int64)
    else:
        labels = source.labels
    if labels.numel() != source.length:
        raise ShapeError(f"data.labels has {labels.numel()} entries but data has {source.length} items")
    if num_classes is not None:
        k = check_int(num_classes, "num_classes")
    elif source.declared_classes is not None:
        k = source.declared_classes
    else:
        k = int(labels.max()) + 1
    check_label_range(labels, k, "data")
    gen = torch.Generator().manual_seed(seed)
    chosen: list[torch.Tensor] = []
    for c in range(k):
        members = (labels == c).nonzero().flatten()
        if members.numel() < per_class:
            raise ConfigError(f"per_class={per_class} but class {c} has only {members.numel()} sample(s) in data")
        pick = members[torch.randperm(members.numel(), generator=gen)[:per_class]]
        chosen.append(pick.sort().values)
    idx = torch.cat(chosen)
    x, _ = source.batch(idx)
    return x.contiguous(), labels[idx].contiguous()
