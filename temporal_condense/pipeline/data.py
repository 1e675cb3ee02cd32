"""The real data of a run: the configured dataset, preloaded into tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from temporal_condense import data as tcdata
from temporal_condense.pipeline.config import DataSpec
from temporal_condense.pipeline.guard import check_data_options


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
    test_x, test_y = test.preload(progress=progress)
    appearance = None
    if hasattr(test, "class_appearance"):
        appearance = torch.as_tensor(test.class_appearance(torch.arange(test.num_classes)))
    return _Data(train_x, train_y, test_x, test_y, int(train.num_classes), train, test, appearance)
