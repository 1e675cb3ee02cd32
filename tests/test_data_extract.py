"""Tests of frame extraction (temporal_condense.data.extract) on videos the tests write with PyAV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from temporal_condense.data import UCF101, Kinetics400, list_frames, load_frame, read_broken_list, read_short_list
from temporal_condense.data.extract import extract_video, extract_videos, main
from temporal_condense.errors import TemporalCondenseError

av = pytest.importorskip("av")

from _videos import frame_ids, write_video  # noqa: E402


def _ids(folder: Path) -> list[int]:
    return frame_ids(torch.stack([load_frame(f) for f in list_frames(folder)]))


def test_extract_video_evenly_spaced_and_fixed_fps(tmp_path: Path) -> None:
    src = write_video(tmp_path / "a.mp4", frames=20, fps=10)
    assert extract_video(src, tmp_path / "even", frames=4, size=(12, 16)) == 4
    names = [p.name for p in list_frames(tmp_path / "even")]
    assert names == ["frame000001.jpg", "frame000002.jpg", "frame000003.jpg", "frame000004.jpg"]
    assert load_frame(tmp_path / "even" / names[0]).shape == (3, 12, 16)
    assert _ids(tmp_path / "even") == [2, 7, 12, 17]
    assert extract_video(src, tmp_path / "fps", fps=5.0) == 10
    assert _ids(tmp_path / "fps") == list(range(0, 20, 2))
    assert extract_video(src, tmp_path / "mid", fps=5.0, frames=4) == 4
    assert _ids(tmp_path / "mid") == [6, 8, 10, 12]  # 4 frames at 5 fps around the middle (1 s)
    with pytest.raises(TemporalCondenseError, match="frame folder already exists"):
        extract_video(src, tmp_path / "even", frames=4)


def _tree(root: Path) -> None:
    write_video(root / "train" / "walk" / "v_walk_1.mp4", frames=12)
    write_video(root / "train" / "walk" / "v_walk_2.avi", frames=12)
    write_video(root / "train" / "run" / "v_run_1.mp4", frames=5)  # short
    (root / "train" / "run" / "v_run_2.mp4").write_bytes(b"\x00" * 64)  # broken


@pytest.mark.parametrize("workers", [1, 2])
def test_extract_folder_resumes_lists_broken_and_short_and_loads(tmp_path: Path, workers: int) -> None:
    src, dst = tmp_path / "videos", tmp_path / "frames"
    _tree(src)
    report = extract_videos(src, dst, frames=8, size=(16, 16), workers=workers, progress=False)
    assert report.done == 3 and report.skipped == 0 and report.frames == 8 + 8 + 5
    broken = str(src / "train" / "run" / "v_run_2.mp4")
    assert list(report.broken) == [broken]
    assert read_broken_list(dst / "broken_videos.txt") == [broken]
    assert read_short_list(dst / "short_videos.txt") == {str(src / "train" / "run" / "v_run_1.mp4"): 5}
    assert not list(dst.rglob(".*.partial"))
    # the class-folder loader reads the result
    ds = Kinetics400(dst, "train", frames=4, short="pad")
    assert ds.classes == ("run", "walk") and len(ds) == 3
    assert ds[2][0].shape == (4, 3, 16, 16)
    # resumable: finished clips are skipped, a clip whose folder was removed is redone
    for f in (dst / "train" / "walk" / "v_walk_1").iterdir():
        f.unlink()
    (dst / "train" / "walk" / "v_walk_1").rmdir()
    again = extract_videos(src, dst, frames=8, size=(16, 16), workers=workers, progress=False)
    assert again.done == 1 and again.skipped == 2 and list(again.broken) == [broken]
    assert read_broken_list(dst / "broken_videos.txt") == [broken]  # not listed twice
    assert str(src / "train" / "run" / "v_run_1.mp4") in read_short_list(dst / "short_videos.txt")
    # a repaired file is extracted by the next run and leaves the broken list
    write_video(src / "train" / "run" / "v_run_2.mp4", frames=9)
    fixed = extract_videos(src, dst, frames=8, size=(16, 16), workers=workers, progress=False)
    assert fixed.done == 1 and not fixed.broken and read_broken_list(dst / "broken_videos.txt") == []


def test_a_leftover_partial_folder_is_replaced(tmp_path: Path) -> None:
    src = write_video(tmp_path / "in" / "a.mp4", frames=6)
    partial = tmp_path / "out" / ".a.partial"
    partial.mkdir(parents=True)
    (partial / "frame000099.jpg").write_bytes(b"junk")
    report = extract_videos(src.parent, tmp_path / "out", frames=3, progress=False)
    assert report.done == 1 and [p.name for p in list_frames(tmp_path / "out" / "a")][-1] == "frame000003.jpg"
    assert not partial.exists()


def test_flat_layout_feeds_the_published_csv_loader(tmp_path: Path) -> None:
    write_video(tmp_path / "UCF-101" / "Walk" / "v_Walk_g01_c01.avi", frames=10)
    write_video(tmp_path / "UCF-101" / "Run" / "v_Run_g01_c01.avi", frames=10)
    root = tmp_path / "UCF101"
    extract_videos(tmp_path / "UCF-101", root / "jpegs_112", flat=True, size=(16, 16), progress=False)
    (root / "ucf101_splits1.csv").write_text(
        "folder_name,label,split\nv_Walk_g01_c01,Walk,train\nv_Run_g01_c01,Run,train\n"
    )
    ds = UCF101(root, "train", frames=8)
    assert len(ds) == 2 and ds[0][0].shape == (8, 3, 16, 16)


def test_flat_name_clash_is_refused(tmp_path: Path) -> None:
    write_video(tmp_path / "in" / "a" / "x.mp4", frames=2)
    write_video(tmp_path / "in" / "b" / "x.mp4", frames=2)
    with pytest.raises(TemporalCondenseError, match="both map to"):
        extract_videos(tmp_path / "in", tmp_path / "out", flat=True, progress=False)


def test_command_line(tmp_path: Path) -> None:
    write_video(tmp_path / "in" / "c" / "a.mp4", frames=6)
    assert main([str(tmp_path / "in"), str(tmp_path / "out"), "--frames", "3", "--quiet", "--workers", "1"]) == 0
    assert len(list_frames(tmp_path / "out" / "c" / "a")) == 3
    assert main([str(tmp_path / "nowhere"), str(tmp_path / "out2"), "--quiet"]) == 2
    done = subprocess.run(
        [sys.executable, "-m", "temporal_condense.data.extract", "--help"], capture_output=True, text=True, check=True
    )
    assert "--frames" in done.stdout and "--fps" in done.stdout
