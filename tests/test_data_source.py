"""Tests of the one source adapter (data.VideoSource), data.as_tensors, data.single_frames, class folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from temporal_condense import SyntheticVideos
from temporal_condense.data import ClassFolders, VideoSource, as_tensors, class_folder_split, single_frames
from temporal_condense.errors import ConfigError, ShapeError


class Clips(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], int(self.y[i])


def test_pair_dataset_and_synthetic_set_read_alike() -> None:
    x, y = torch.rand(5, 3, 2, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    pair, ds = VideoSource((x, y), "a"), VideoSource(Clips(x, y), "b")
    idx = torch.tensor([4, 0, 2])
    for a, b in zip(pair.batch(idx), ds.batch(idx), strict=True):
        assert torch.equal(a, b)
    assert pair.sample_shape == ds.sample_shape == (3, 2, 4, 4) and pair.length == ds.length == 5
    assert torch.equal(as_tensors(Clips(x, y))[0], x) and torch.equal(as_tensors((x, y))[1], y)
    synset = SyntheticVideos(2, 1, frames=3, size=(4, 4), channels=2)
    src = VideoSource(synset, "syn")
    assert src.length == 2 and src.labels is not None and src.labels.tolist() == [0, 1]
    assert as_tensors(synset)[0].shape == (2, 3, 2, 4, 4)


def test_source_errors() -> None:
    x, y = torch.rand(3, 2, 1, 2, 2), torch.tensor([0, 1, 0])
    with pytest.raises(ShapeError, match=r"tensor pair, a synthetic set or a torch Dataset .* got str"):
        VideoSource("clips", "data")
    with pytest.raises(ShapeError, match="same length, got 3 videos and 2 labels"):
        VideoSource((x, y[:2]), "data")
    with pytest.raises(ShapeError, match="must be finite"):
        VideoSource((x * float("nan"), y), "data")
    with pytest.raises(ShapeError, match=r"data videos must be 5-D \[N, T, C, H, W\]"):
        as_tensors((x[:, 0], y))
    with pytest.raises(ShapeError, match=r"must not be empty"):
        VideoSource(Clips(x[:0], y[:0]), "data")


def test_single_frames_seeded_and_from_the_clip() -> None:
    x = torch.arange(4 * 5, dtype=torch.float32).view(4, 5, 1, 1, 1).expand(4, 5, 1, 2, 2).contiguous()
    y = torch.arange(4)
    a, la = single_frames(x, y, seed=3)
    b, _ = single_frames(x, y, seed=3)
    assert torch.equal(a, b) and torch.equal(la, y) and a.shape == (4, 1, 2, 2)
    frame = a[:, 0, 0, 0].long()
    assert all(5 * i <= int(f) < 5 * (i + 1) for i, f in enumerate(frame))  # a frame of its own clip


def _folders(root: Path, counts: dict[str, int]) -> None:
    for cls, n in counts.items():
        for k in range(n):
            (root / cls / f"c{k}").mkdir(parents=True)
            Image.new("RGB", (4, 4)).save(root / cls / f"c{k}" / "0.png")


def test_class_folder_split(tmp_path: Path) -> None:
    _folders(tmp_path, {"b": 5, "a": 2, "c": 1})
    classes, split = class_folder_split(tmp_path, test_ratio=0.4, seed=1)
    assert classes == ("a", "b", "c")
    test = {(p.parent.name, p.name) for p, _ in split["test"]}
    assert len(test) == 1 + 2  # a: max(1, round(0.8)) = 1, b: round(2.0) = 2, c: only one clip -> train
    assert not test & {(p.parent.name, p.name) for p, _ in split["train"]}
    assert class_folder_split(tmp_path, test_ratio=0.4, seed=1) == (classes, split)  # seeded
    assert len(ClassFolders(tmp_path, "test", test_ratio=0.4, split_seed=1, frames=1)) == 3
    with pytest.raises(ConfigError, match="holds no class folders"):
        class_folder_split(tmp_path / "a" / "c0")
    with pytest.raises(ConfigError, match="test_ratio must be in"):
        class_folder_split(tmp_path, test_ratio=1.0)
    with pytest.raises(ConfigError, match="split must be one of"):
        ClassFolders(tmp_path, "val")
