"""The one source adapter: a ``(videos, labels)`` pair, a synthetic set or a Dataset, read uniformly."""

from __future__ import annotations

from typing import Any

import torch

from temporal_condense._checks import check_finite, check_tensor
from temporal_condense.errors import ShapeError

__all__ = ["Pair", "VideoSource", "check_label_range", "check_pair"]

Pair = tuple[torch.Tensor, torch.Tensor]


class VideoSource:
    """The one adapter for "a pair, a synthetic set, or a Dataset": validated, uniform batched access.

    Accepts a ``(videos, labels)`` tensor pair (videos ``[N, T, C, H, W]`` or images ``[N, C, H, W]``), a
    synthetic set (anything with ``as_dataset()``: re-rendered per item) or any map-style Dataset of
    ``(video, label)`` (``__getitems__`` is used for batched reads when offered). The evaluation, the experts
    and the pipeline all read their data through it.

    Args:
        data: The data.
        name: Named in error messages.
        num_classes: Overrides the number of classes the data declares (``num_classes`` attribute).

    Attributes:
        tensors: The pair, or ``None`` for a Dataset; ``dataset``: the Dataset, or ``None`` for a pair.
        length: Number of samples; ``sample_shape``: shape of one sample; ``labels``: all labels when known
            without reading items (a pair, a ``labels`` attribute), else ``None``.

    Raises:
        ShapeError: Not one of the three, wrong ranks or dtypes, mismatched lengths, NaN/inf, no samples.

    Example:
        >>> src = VideoSource((torch.rand(4, 2, 1, 3, 3), torch.tensor([0, 1, 0, 1])), "data")
        >>> src.length, src.sample_shape, src.batch(torch.tensor([1, 3]))[1].tolist()
        (4, (2, 1, 3, 3), [1, 1])
    """

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
            x, y = check_pair(data[0], data[1], name)
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
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (str, bytes)):
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
        x0, _ = self.item(0)
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

    def item(self, i: int) -> tuple[torch.Tensor, int]:
        """Item ``i`` of a Dataset source as ``(sample, label)`` (validated)."""
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
                x, y = self.item(int(i)) if items is None else self._unpack(items[pos], int(i))
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


def check_pair(videos: object, labels: object, name: str) -> Pair:
    """Validate a ``(videos, labels)`` pair (see :class:`VideoSource`); returns it detached, labels int64."""
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


def check_label_range(labels: torch.Tensor, num_classes: int, name: str) -> None:
    """Raise :class:`ShapeError` naming the first label outside ``[0, num_classes)``."""
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise ShapeError(
            f"{name} labels must lie in [0, {num_classes - 1}] (num_classes={num_classes}), got {int(bad[0])}"
        )
