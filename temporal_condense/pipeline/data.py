"""The real data of a run: the configured dataset, preloaded into tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from temporal_condense import data as tcdata
from temporal_condense.errors import ConfigError
from temporal_condense.pipeline.config import DataSpec
from temporal_condense.pipeline.guard import check_data_options
from temporal_condense.seeds import derive_seed


@dataclass
class _Data:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    train_set: Any
    test_set: Any
    appearance: torch.Tensor | None  # appearance group of every class (MovingShapes), else None
    pixel_mean: torch.Tensor | None = None  # [C]: the clips were standardized with these (data.standardize)
    pixel_std: torch.Tensor | None = None
    split: str = "test"  # what test_x holds: the "test" split or "validation" clips carved from train

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[2])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.train_x.shape[3]), int(self.train_x.shape[4])

    @property
    def frames(self) -> int:
        return int(self.train_x.shape[1])


def _load_data(spec: DataSpec, progress: bool) -> _Data:
    train: Any
    test: Any
    if spec.dataset == "MovingShapes":
        check_data_options(spec.options)
        common: dict[str, Any] = {"frames": spec.frames, "size": spec.size, "seed": spec.seed, **spec.options}
        train = tcdata.MovingShapes("train", videos_per_class=spec.train_per_class, **common)
        test = tcdata.MovingShapes("test", videos_per_class=spec.test_per_class, **common)
    else:
        root = str(spec.root)
        kw: dict[str, Any] = {"frames": spec.frames, "size": spec.size, "seed": spec.seed}
        if spec.dataset == "SSv2":
            train, test = tcdata.SSv2(root, "train", **kw), tcdata.SSv2(root, "val", **kw)
        elif spec.dataset == "Kinetics400":
            train = tcdata.Kinetics400(root, "train", **kw)
            test = tcdata.Kinetics400(root, "val", classes=train.classes, **kw)
        else:
            cls = {"miniUCF101": tcdata.MiniUCF, "UCF101": tcdata.UCF101, "HMDB51": tcdata.HMDB51}[spec.dataset]
            train, test = cls(root, "train", **kw), cls(root, "test", **kw)
    train_x, train_y = train.preload(progress=progress)
    appearance = None
    if hasattr(test, "class_appearance"):
        appearance = torch.as_tensor(test.class_appearance(torch.arange(test.num_classes)))
    split = "test"
    if spec.validation_per_class:
        # Tuning runs never see the test split: hold out clips of the training split instead.
        train_x, train_y, test_x, test_y = carve_validation(
            train_x, train_y, spec.validation_per_class, derive_seed(spec.seed, "validation")
        )
        split = "validation"
    else:
        test_x, test_y = test.preload(progress=progress)
    data = _Data(train_x, train_y, test_x, test_y, int(train.num_classes), train, test, appearance, split=split)
    return standardize_data(data) if spec.standardize else data


def carve_validation(
    videos: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split ``per_class`` random clips of every class off a training set (for tuning without the test split).

    Args:
        videos: Training clips ``[N, T, C, H, W]``.
        labels: Their labels ``[N]``.
        per_class: Clips per class to hold out; every class must keep at least one training clip.
        seed: Seeds the draw.

    Returns:
        ``(train_videos, train_labels, validation_videos, validation_labels)``, each in the original order.

    Raises:
        ConfigError: A class with ``per_class`` clips or fewer.

    Example:
        >>> x, y = torch.arange(6.0).view(6, 1, 1, 1, 1), torch.tensor([0, 0, 0, 1, 1, 1])
        >>> tx, ty, vx, vy = carve_validation(x, y, 1, seed=0)
        >>> ty.tolist(), vy.tolist()
        ([0, 0, 1, 1], [0, 1])
    """
    g = torch.Generator().manual_seed(seed)
    held = torch.zeros(labels.numel(), dtype=torch.bool)
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        if members.numel() <= per_class:
            raise ConfigError(
                f"data.validation_per_class must leave every class a training clip: class {c} has "
                f"{members.numel()} clips, validation_per_class is {per_class}"
            )
        held[members[torch.randperm(members.numel(), generator=g)[:per_class]]] = True
    return videos[~held], labels[~held], videos[held], labels[held]


def standardize_data(data: _Data) -> _Data:
    """Standardize train and test clips with the per-channel mean and std of the training clips.

    The published video codebases distill in this space (their loaders normalize every frame); every
    synthetic memory is initialized in it, and previews map back with ``pixel_mean``/``pixel_std``.
    """
    x = data.train_x
    mean = x.mean(dim=(0, 1, 3, 4), dtype=torch.float64)
    std = x.to(torch.float64).std(dim=(0, 1, 3, 4)).clamp_min(1e-6)
    shape = (1, 1, -1, 1, 1)
    m32, s32 = mean.to(x.dtype).view(shape), std.to(x.dtype).view(shape)
    data.train_x = ((x - m32) / s32).contiguous()
    data.test_x = ((data.test_x - m32) / s32).contiguous()
    data.pixel_mean, data.pixel_std = mean.to(torch.float32), std.to(torch.float32)
    return data
