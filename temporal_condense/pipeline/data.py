"""The real data of a run: the configured dataset or the caller's own, as tensors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from temporal_condense.data import (
    HMDB51,
    UCF101,
    ClassFolders,
    Kinetics400,
    MiniUCF,
    MovingShapes,
    SSv2,
    as_tensors,
    single_frames,
)
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.pipeline.config import DataSpec
from temporal_condense.pipeline.guard import check_data_options
from temporal_condense.seeds import derive_seed

__all__ = ["RealData", "load_data"]


@dataclass
class RealData:
    """Real clips of a run as tensors, plus stage 1's single-frame view and (MovingShapes) class appearances."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    frames_view: Any  # stage 1 input: a dataset's single_frame() view or an (images, labels) pair
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


def _split_user_data(data: object) -> tuple[object, object]:
    if isinstance(data, Mapping):
        missing = {"train", "test"} - set(data)
        if missing or len(data) != 2:
            raise ConfigError(f"data must be {{'train': ..., 'test': ...}}, got keys {sorted(map(str, data))}")
        return data["train"], data["test"]
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], torch.Tensor):
        return data[0], data[1]
    raise ConfigError(
        "data must be (train, test) or {'train': ..., 'test': ...}, each a (videos, labels) pair or a Dataset of "
        f"(video, label), got {type(data).__name__}"
    )


def _datasets(spec: DataSpec) -> tuple[Any, Any]:
    frames, size = spec.clip_frames, spec.clip_size
    if spec.dataset == "MovingShapes":
        check_data_options(spec.options)
        common: dict[str, Any] = {"frames": frames, "size": size, "seed": spec.seed, **spec.options}
        return (
            MovingShapes("train", videos_per_class=spec.train_per_class, **common),
            MovingShapes("test", videos_per_class=spec.test_per_class, **common),
        )
    root = str(spec.root)
    kw: dict[str, Any] = {"frames": frames, "size": size, "seed": spec.seed}
    if spec.dataset == "folder":
        split: dict[str, Any] = {"split_file": spec.split_file, "test_ratio": spec.test_ratio, "split_seed": spec.seed}
        return ClassFolders(root, "train", **split, **kw), ClassFolders(root, "test", **split, **kw)
    if spec.dataset == "SSv2":
        return SSv2(root, "train", **kw), SSv2(root, "val", **kw)
    if spec.dataset == "Kinetics400":
        train = Kinetics400(root, "train", **kw)
        return train, Kinetics400(root, "val", classes=train.classes, **kw)
    cls = {"miniUCF101": MiniUCF, "UCF101": UCF101, "HMDB51": HMDB51}[spec.dataset]
    return cls(root, "train", **kw), cls(root, "test", **kw)


def load_data(spec: DataSpec, progress: bool, data: object = None, *, seed: int = 0) -> RealData:
    """The run's real data: ``spec``'s dataset, or ``data`` (``(train, test)``) for ``dataset: custom``.

    With ``spec.validation_per_class`` the test clips are clips held out of the training split (the test split is
    not read); with ``spec.standardize`` both are standardized with the training clips' per-channel statistics
    (:func:`standardize_clips`). Stage 1's single-frame view is the dataset's own ``single_frame()`` only when
    neither applies; otherwise (and for datasets without one) it is one random frame per training clip
    (:func:`~temporal_condense.data.single_frames`, seeded from ``seed``).
    """
    if spec.dataset == "custom":
        if data is None:
            raise ConfigError("data.dataset 'custom' needs run_pipeline(config, out_dir, data=(train, test))")
        train, test = _split_user_data(data)
    elif data is not None:
        raise ConfigError(f"run_pipeline(data=...) needs data.dataset 'custom', got {spec.dataset!r}")
    else:
        train, test = _datasets(spec)
    train_x, train_y = as_tensors(train, "train data", progress=progress)
    split = "test"
    if spec.validation_per_class:
        # Tuning runs never read the test split: hold out clips of the training split instead.
        train_x, train_y, test_x, test_y = carve_validation(
            train_x, train_y, spec.validation_per_class, derive_seed(seed, "validation")
        )
        split = "validation"
    else:
        test_x, test_y = as_tensors(test, "test data", progress=progress)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise ShapeError(
            f"train and test clips must have the same [T, C, H, W], got {tuple(train_x.shape[1:])} and "
            f"{tuple(test_x.shape[1:])}"
        )
    if spec.frames is not None and train_x.shape[1] != spec.frames:
        raise ShapeError(f"data.frames is {spec.frames} but the clips have {train_x.shape[1]} frames")
    if spec.size is not None and tuple(train_x.shape[3:]) != tuple(spec.size):
        raise ShapeError(f"data.size is {tuple(spec.size)} but the clips are {tuple(train_x.shape[3:])}")
    declared = getattr(train, "num_classes", None)
    num_classes = int(declared) if isinstance(declared, int) else int(max(train_y.max(), test_y.max())) + 1
    missing = sorted(set(range(num_classes)) - set(train_y.tolist()))
    if missing:
        raise ShapeError(f"train data must hold every class 0..{num_classes - 1}; class(es) {missing[:10]} have none")
    pixel_mean = pixel_std = None
    if spec.standardize:
        train_x, test_x, pixel_mean, pixel_std = standardize_clips(train_x, test_x)
    view_fn = getattr(train, "single_frame", None)
    if callable(view_fn) and not spec.standardize and not spec.validation_per_class:
        frames_view = view_fn()
    else:  # the frames must come from the (standardized, validation-free) training clips themselves
        frames_view = single_frames(train_x, train_y, derive_seed(seed, "stage1"))
    appearance = None
    class_appearance = getattr(test, "class_appearance", None)
    if callable(class_appearance):
        appearance = torch.as_tensor(class_appearance(torch.arange(num_classes)))
    return RealData(
        train_x, train_y, test_x, test_y, num_classes, frames_view, appearance, pixel_mean, pixel_std, split
    )


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


def standardize_clips(
    train: torch.Tensor, test: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardize train and test clips with the per-channel mean and std of the training clips.

    The published video codebases distill in this space (their loaders normalize every frame); every
    synthetic memory is initialized in it, and previews map back with the returned statistics.

    Returns:
        ``(train, test, mean [C], std [C])``.

    Shape:
        ``[N, T, C, H, W]`` in and out.

    Example:
        >>> tr, te, mean, std = standardize_clips(torch.rand(4, 2, 3, 5, 5), torch.rand(2, 2, 3, 5, 5))
        >>> bool(tr.mean(dim=(0, 1, 3, 4)).abs().max() < 1e-5), tuple(mean.shape)
        (True, (3,))
    """
    mean = train.mean(dim=(0, 1, 3, 4), dtype=torch.float64)
    std = train.to(torch.float64).std(dim=(0, 1, 3, 4)).clamp_min(1e-6)
    shape = (1, 1, -1, 1, 1)
    m, s = mean.to(train.dtype).view(shape), std.to(train.dtype).view(shape)
    return ((train - m) / s).contiguous(), ((test - m) / s).contiguous(), mean.float(), std.float()
