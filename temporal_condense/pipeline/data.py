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

    Stage 1's single-frame view is the dataset's own ``single_frame()`` when it has one, else one random frame
    per training clip (:func:`~temporal_condense.data.single_frames`, seeded from ``seed``).
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
    view_fn = getattr(train, "single_frame", None)
    frames_view = view_fn() if callable(view_fn) else single_frames(train_x, train_y, derive_seed(seed, "stage1"))
    appearance = None
    class_appearance = getattr(test, "class_appearance", None)
    if callable(class_appearance):
        appearance = torch.as_tensor(class_appearance(torch.arange(num_classes)))
    return RealData(train_x, train_y, test_x, test_y, num_classes, frames_view, appearance)
