"""Data sources of an evaluation: a ``(videos, labels)`` pair, a synthetic set or a Dataset, batched uniformly."""

from __future__ import annotations

from typing import Any

import torch

from temporal_condense._checks import check_finite, check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["Pair", "random_real_subset"]

Pair = tuple[torch.Tensor, torch.Tensor]


class _Source:
    """Uniform batched access to a tensor pair, a synthetic set (via ``as_dataset``) or a Dataset."""

    def __init__(
        self,
        data: object,
        name: str,
        *,
        num_classes: int | None = None,
    ) -> None:
        self.name = name
        self.tensors: Pair | None = None
        self.dataset: Any = None
        self.declared_classes: int | None = None
        self.labels: torch.Tensor | None = None
        if isinstance(data, (tuple, list)):
            if len(data) != 2:
                raise ShapeError(f"{name} must be a (videos, labels) pair, got a sequence of length {len(data)}")
            x, y = _check_pair(data[0], data[1], name)
            self.tensors = (x, y)
            self.labels = y
            self.sample_shape = tuple(x.shape[1:])
            self.length = int(x.shape[0])
        elif hasattr(data, "as_dataset") and callable(data.as_dataset):  # a synthetic set
            self.declared_classes = _int_attr(data, "num_classes")
            self.dataset = data.as_dataset()
            vpc = _int_attr(data, "videos_per_class")
            if self.declared_classes is not None and vpc is not None:
                self.labels = torch.arange(self.declared_classes * vpc) // vpc
            self._init_dataset()
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
            self.dataset = data
            self.declared_classes = _int_attr(data, "num_classes")
            labels = getattr(data, "labels", None)
            if isinstance(labels, (torch.Tensor, list, tuple)):
                self.labels = torch.as_tensor(labels, dtype=torch.int64)
            self._init_dataset()
        else:
            raise ShapeError(
                f"{name} must be a (videos, labels) tensor pair, a synthetic set or a torch Dataset of "
                f"(video, label), got {type(data).__name__}"
            )
        if num_classes is not None:
            self.declared_classes = num_classes

    def _init_dataset(self) -> None:
        self.length = len(self.dataset)
        if self.length == 0:
            raise ShapeError(f"{self.name} must not be empty, got a dataset of length 0")
        x0, _ = self._item(0)
        if x0.ndim not in (3, 4):
            raise ShapeError(
                f"{self.name} items must be videos [T, C, H, W] (or images [C, H, W]), got an item of shape "
                f"{tuple(x0.shape)}"
            )
        self.sample_shape = tuple(x0.shape)

    @property
    def is_dataset(self) -> bool:
        return self.dataset is not None

    def _epoch_owner(self) -> Any:
        ds = self.dataset
        if ds is None or not callable(getattr(ds, "set_epoch", None)):
            return None
        return ds

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of pass ``epoch`` on datasets that have ``set_epoch`` (ours do)."""
        owner = self._epoch_owner()
        if owner is not None:
            owner.set_epoch(epoch)

    def saved_epoch(self) -> int | None:
        """The dataset's current epoch (restored after evaluation), or ``None``."""
        owner = self._epoch_owner()
        if owner is None:
            return None
        for obj in (owner, getattr(owner, "parent", None)):
            value = getattr(obj, "epoch", None)
            if isinstance(value, int):
                return value
        return 0

    def _item(self, i: int) -> tuple[torch.Tensor, int]:
        return self._unpack(self.dataset[i], i)

    def _unpack(self, item: Any, i: int) -> tuple[torch.Tensor, int]:
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ShapeError(f"{self.name}[{i}] must be a (video, label) pair, got {type(item).__name__}")
        x = item[0]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ShapeError(f"{self.name}[{i}] video must be a floating torch.Tensor, got {type(x).__name__}")
        return x.detach(), int(item[1])

    def batch(self, idx: torch.Tensor) -> Pair:
        """Samples ``idx`` as ``(x [b, *sample_shape], y [b] int64)``."""
        if self.tensors is not None:
            return self.tensors[0][idx], self.tensors[1][idx]
        xs, ys = [], []
        with torch.no_grad():
            getitems = getattr(self.dataset, "__getitems__", None)
            items = getitems(idx.tolist()) if callable(getitems) else None  # batched rendering when offered
            for pos, i in enumerate(idx.tolist()):
                x, y = self._item(int(i)) if items is None else self._unpack(items[pos], int(i))
                if tuple(x.shape) != self.sample_shape:
                    raise ShapeError(
                        f"{self.name}[{i}] has shape {tuple(x.shape)}, expected {self.sample_shape} like item 0"
                    )
                xs.append(x)
                ys.append(y)
        x = torch.stack(xs)
        if x.is_floating_point() and not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
            bad = [int(i) for i, v in zip(idx.tolist(), xs, strict=True) if not bool(torch.isfinite(v).all())]
            raise ShapeError(f"{self.name} videos must be finite, got NaN/inf values in item(s) {bad[:10]}")
        return x, torch.tensor(ys, dtype=torch.int64)


def _int_attr(obj: object, name: str) -> int | None:
    value = getattr(obj, name, None)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _check_pair(videos: object, labels: object, name: str) -> Pair:
    x = check_finite(check_tensor(videos, f"{name} videos", floating=True), f"{name} videos")
    if x.ndim not in (4, 5):
        raise ShapeError(
            f"{name} videos must be 5-D [N, T, C, H, W] (or 4-D images [N, C, H, W]), got {x.ndim}-D tensor "
            f"of shape {tuple(x.shape)}"
        )
    y = check_tensor(labels, f"{name} labels", ndim=1)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ShapeError(f"{name} labels must have an integer dtype, got {y.dtype}")
    if x.shape[0] != y.shape[0]:
        raise ShapeError(
            f"{name} videos and labels must have the same length, got {x.shape[0]} videos and {y.shape[0]} labels"
        )
    if x.shape[0] == 0:
        raise ShapeError(f"{name} must not be empty, got 0 samples")
    if y.min() < 0:
        raise ShapeError(f"{name} labels must be >= 0, got minimum {int(y.min())}")
    return x.detach(), y.detach().to(torch.int64)


def _check_label_range(labels: torch.Tensor, num_classes: int, name: str) -> None:
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise ShapeError(
            f"{name} labels must lie in [0, {num_classes - 1}] (num_classes={num_classes}), got {int(bad[0])}"
        )


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
    source = _Source(data, "data")
    if source.labels is None:
        labels = torch.tensor([source._item(i)[1] for i in range(source.length)], dtype=torch.int64)
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
    _check_label_range(labels, k, "data")
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
