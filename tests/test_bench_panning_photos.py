"""benchmarks/bench_panning_photos.py: its clips pan as they say, and it runs the quickstart's rows on them."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from temporal_condense.errors import ConfigError
from tests._scripts import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    pytest.importorskip("skimage")
    return load_script("benchmarks/bench_panning_photos.py")


def test_a_clip_is_its_first_frame_moved_by_the_speed(bench: ModuleType) -> None:
    x, y = bench.panning_photos(3, seed=0, frames=4, size=16, photo_size=40, speed=(2.0, 2.0), drift=0.0, noise=0.0)
    assert x.shape == (30, 4, 3, 16, 16) and x.dtype == torch.float32
    assert y.tolist() == [c for c in range(10) for _ in range(3)]
    assert x.min() >= 0 and x.max() <= 1
    for clip, label in zip(x, y, strict=True):
        # the window pans left for even labels (the content moves right by 2 px a frame), right for odd ones
        moved, kept = (
            (clip[1:, ..., 2:], clip[:-1, ..., :-2]) if label % 2 == 0 else (clip[1:, ..., :-2], clip[:-1, ..., 2:])
        )
        torch.testing.assert_close(moved, kept, atol=1e-5, rtol=0)
    first = x[:, 0]
    assert not torch.equal(first[0], first[1])  # each clip starts at its own place
    photos = x[::3, 0].flatten(1)  # one clip per class: 5 photographs, 2 classes each
    assert torch.cdist(photos[0::2], photos[0::2]).fill_diagonal_(1e9).min() > 0


def test_the_pan_must_fit_in_the_photograph(bench: ModuleType) -> None:
    expected = r"photo_size must leave room for the pan: got 20 for size 16, span 10.5; needs >= 31.5"
    with pytest.raises(ConfigError, match=expected):
        bench.panning_photos(1, seed=0, frames=4, size=16, photo_size=20)


def test_it_runs_the_rows_and_the_stages_they_reuse(bench: ModuleType, tmp_path: Path) -> None:
    got = bench.main(["--fast", "--out", str(tmp_path), "--padding", "circular", "--rows", "random_real", "DM+SD-warp"])
    assert list(got) == ["SD-warp", "random_real", "DM+SD-warp"]
    assert "warp_padding: circular" in (tmp_path / "circular_w16" / "DM+SD-warp" / "config.yaml").read_text()
    assert "dataset: custom" in (tmp_path / "circular_w16" / "random_real" / "config.yaml").read_text()
