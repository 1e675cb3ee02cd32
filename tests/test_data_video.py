"""Tests of temporal_condense.data.video (PyAV decoding, frame selection, VideoFileDataset)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from temporal_condense.data import VideoFileDataset, VideoInfo, list_videos, probe_video, read_frames, select_frames
from temporal_condense.errors import ConfigError, TemporalCondenseError

av = pytest.importorskip("av")

from _videos import frame_ids, write_video  # noqa: E402


def _info(n: int, fps: float = 10.0) -> VideoInfo:
    return VideoInfo(frames=n, fps=fps, timestamps=tuple(i / fps for i in range(n)))


def test_select_frames_rules() -> None:
    assert select_frames(_info(5)) == [0, 1, 2, 3, 4]
    assert select_frames(_info(20), frames=4) == [2, 7, 12, 17]  # centres of 4 equal segments
    assert select_frames(_info(3), frames=8) == [0, 1, 2]  # short clip: everything, reported by the caller
    assert select_frames(_info(20), fps=2.0) == [0, 5, 10, 15]
    # fps and frames: 4 frames 0.5 s apart around the middle (1.0 s) of a 2 s clip
    assert select_frames(_info(20), fps=2.0, frames=4) == [0, 5, 10, 15]
    assert select_frames(_info(40), fps=2.0, frames=2) == [15, 20]
    with pytest.raises(ConfigError, match="fps must be a positive finite number"):
        select_frames(_info(3), fps=0)
    with pytest.raises(ConfigError, match="frames must be an integer >= 1"):
        select_frames(_info(3), frames=0)


@pytest.mark.parametrize("ext", [".avi", ".mp4"])
def test_probe_and_read_frames_are_frame_accurate(tmp_path: Path, ext: str) -> None:
    path = write_video(tmp_path / f"clip{ext}", frames=12, fps=10)
    info = probe_video(path)
    assert info.frames == 12 and info.fps == pytest.approx(10.0)
    assert info.timestamps[:3] == pytest.approx((0.0, 0.1, 0.2))
    clip = read_frames(path, [5, 0, 11, 5])
    assert clip.dtype == torch.uint8 and clip.shape == (4, 3, 24, 32)
    assert frame_ids(clip) == [5, 0, 11, 5]
    assert read_frames(path, [2], size=(12, 8)).shape == (1, 3, 12, 8)
    assert read_frames(path, [2], channels=1).shape == (1, 1, 24, 32)


def test_missing_indices_repeat_the_last_frame(tmp_path: Path) -> None:
    path = write_video(tmp_path / "c.mp4", frames=4)
    assert frame_ids(read_frames(path, [1, 9])) == [1, 3]


def test_unreadable_files_raise_named_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(TemporalCondenseError, match=r"bad\.mp4"):
        probe_video(bad)
    with pytest.raises(TemporalCondenseError, match="video file not found"):
        probe_video(tmp_path / "none.mp4")
    with pytest.raises(TemporalCondenseError, match=r"bad\.mp4"):
        read_frames(bad, [0])


def test_video_file_dataset_from_folder(tmp_path: Path) -> None:
    write_video(tmp_path / "walk" / "a.mp4", frames=12)
    write_video(tmp_path / "walk" / "b.avi", frames=20)
    write_video(tmp_path / "run" / "c.mp4", frames=16)
    (tmp_path / "run" / "notes.txt").write_text("x")
    assert [p.name for p in list_videos(tmp_path)] == ["c.mp4", "a.mp4", "b.avi"]
    ds = VideoFileDataset.from_folder(tmp_path, frames=4, size=(12, 16))
    assert ds.classes == ("run", "walk") and ds.labels == [0, 1, 1]
    video, label = ds[1]
    assert video.shape == (4, 3, 12, 16) and video.dtype == torch.float32 and label == 1
    full = VideoFileDataset.from_folder(tmp_path, frames=4)
    assert frame_ids(full[1][0]) == [1, 4, 7, 10]  # uniform sampling of a 12-frame clip
    rnd = VideoFileDataset.from_folder(tmp_path, frames=4, sampling="random", stride=2, seed=3)
    first, again = rnd[2][0], rnd[2][0]
    assert torch.equal(first, again)  # deterministic per (seed, epoch, index)
    ids = frame_ids(first)
    assert all(b - a == 2 for a, b in itertools.pairwise(ids))
    videos, labels = ds.preload(progress=False)
    assert videos.shape == (3, 4, 3, 12, 16) and labels.tolist() == [0, 1, 1]


def test_video_file_dataset_errors(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", frames=3)
    with pytest.raises(TemporalCondenseError, match="has 3 frame\\(s\\), fewer than frames=8"):
        VideoFileDataset([path], [0], ["x"], frames=8)[0]
    assert VideoFileDataset([path], [0], ["x"], frames=8, short="pad")[0][0].shape[0] == 8
    with pytest.raises(TemporalCondenseError, match="video file not found"):
        VideoFileDataset([tmp_path / "b.mp4"], [0], ["x"])
    with pytest.raises(TemporalCondenseError, match="label of video"):
        VideoFileDataset([path], [2], ["x"])
