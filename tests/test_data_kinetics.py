"""Tests of the published Kinetics layout (CSV + replacement/ + broken/short lists)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from temporal_condense.data import (
    Kinetics400CSV,
    kinetics_clip_name,
    read_broken_list,
    read_kinetics_csv,
    read_short_list,
)
from temporal_condense.errors import TemporalCondenseError

HEADER = "label,youtube_id,time_start,time_end,split\n"


def _clip(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (10 * i, 0, 0)).save(folder / f"{i + 1:02d}.jpg")


def _layout(root: Path, frames: int = 16) -> None:
    (root / "train.csv").write_text(
        HEADER
        + "yoga,aaa,0,10,train\n"  # in train/
        + "yoga,bbb,5,15,train\n"  # short in train/, complete in replacement/
        + "abseiling,ccc,1,11,train\n"  # in train/
        + "abseiling,ddd,2,12,train\n"  # nowhere -> skipped
        + "zumba,eee,3,13,train\n"  # only short copies -> skipped (its class disappears, as published)
    )
    (root / "validate.csv").write_text(HEADER + "yoga,fff,0,10,validate\n")
    _clip(root / "train" / "aaa_000000_000010", frames)
    _clip(root / "train" / "bbb_000005_000015", frames - 3)
    _clip(root / "replacement" / "bbb_000005_000015", frames)
    _clip(root / "train" / "ccc_000001_000011", frames)
    _clip(root / "train" / "eee_000003_000013", 2)
    _clip(root / "val" / "fff_000000_000010", frames)
    (root / "broken_videos.txt").write_text("train/ddd.mp4\n\n")
    (root / "short_videos.txt").write_text("train/eee.mp4,2\n")


def test_reads_the_published_layout(tmp_path: Path) -> None:
    _layout(tmp_path)
    ds = Kinetics400CSV(tmp_path, "train")
    assert ds.classes == ("abseiling", "yoga")
    assert [p.name for p in ds.videos] == ["aaa_000000_000010", "bbb_000005_000015", "ccc_000001_000011"]
    assert ds.videos[1].parent.name == "replacement" and ds.replaced == ["bbb_000005_000015"]
    assert ds.skipped == ["ddd_000002_000012", "eee_000003_000013"]
    assert ds.labels == [1, 1, 0]
    assert ds.broken == ["train/ddd.mp4"] and ds.short == {"train/eee.mp4": 2}
    video, _ = ds[0]
    assert video.shape == (16, 3, 8, 8)  # the whole clip, as the published loader returns it
    val = Kinetics400CSV(tmp_path, "val", classes=ds.classes, frames=4)
    assert len(val) == 1 and val.labels == [1] and val[0][0].shape == (4, 3, 8, 8)


def test_eight_frame_root_name_rule(tmp_path: Path) -> None:
    root = tmp_path / "kinetics_64x64x8"
    root.mkdir()
    _layout(root, frames=8)
    ds = Kinetics400CSV(root, "train")
    assert len(ds) == 3 and ds[0][0].shape[0] == 8
    with pytest.raises(TemporalCondenseError, match="with 16 frame files"):
        Kinetics400CSV(root, "train", require_frames=16)


def test_kinetics_errors(tmp_path: Path) -> None:
    with pytest.raises(TemporalCondenseError, match="annotation file not found"):
        Kinetics400CSV(tmp_path, "train")
    (tmp_path / "train.csv").write_text("label,youtube_id,split\nx,y,train\n")
    with pytest.raises(TemporalCondenseError, match="missing \\('time_start', 'time_end'\\)"):
        read_kinetics_csv(tmp_path / "train.csv")
    (tmp_path / "train.csv").write_text(HEADER + "x,y,a,3,train\n")
    with pytest.raises(TemporalCondenseError, match="line 2: time_start and time_end must be integers"):
        read_kinetics_csv(tmp_path / "train.csv")
    (tmp_path / "train.csv").write_text(HEADER + "x,y,1,3,test\n")
    with pytest.raises(TemporalCondenseError, match="split 'test' differs from the file's 'train'"):
        Kinetics400CSV(tmp_path, "train")
    (tmp_path / "train.csv").write_text(HEADER + "x,y,1,3,train\n")
    with pytest.raises(TemporalCondenseError, match=r"no Kinetics clip .* has a folder with 16 frame files"):
        Kinetics400CSV(tmp_path, "train")
    (tmp_path / "short_videos.txt").write_text("a.mp4\n")
    with pytest.raises(TemporalCondenseError, match="line 1: expected 'path,count'"):
        read_short_list(tmp_path / "short_videos.txt")
    assert read_broken_list(tmp_path / "absent.txt") == [] and kinetics_clip_name("q", 1, 2) == "q_000001_000002"
