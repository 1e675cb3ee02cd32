"""Frame-folder datasets: temporal sampling, resize, flip, preload, the single-frame view, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from temporal_condense.data import (
    ClipConfig,
    FrameFolderDataset,
    list_frames,
    load_frame,
    sample_indices,
)
from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError

STEP = 7  # frame k of a test clip is the constant grey level STEP * k (survives JPEG exactly enough)


def write_clip(folder: Path, n: int, size: tuple[int, int] = (8, 8), fmt: str = "jpg", offset: int = 0) -> Path:
    """A frame folder whose frame k (1-based file names like the published layout) is grey STEP*(k+offset)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        img = Image.new("RGB", (size[1], size[0]), color=(STEP * (k + offset),) * 3)
        img.save(folder / f"frame{k + 1:06d}.{fmt}", quality=95)
    return folder


def frame_ids(video: torch.Tensor, offset: int = 0) -> list[int]:
    """Recover the frame numbers of a clip written by ``write_clip`` (mean grey level / STEP)."""
    return [round(float(v) * 255 / STEP) - offset for v in video.mean(dim=(1, 2, 3))]


# ---------------------------------------------------------------------------------------------- sample_indices


def ref_uniform(length: int, frames: int) -> list[int]:
    """Segment centres, written with floats: floor((i + 0.5) * L / N)."""
    return [int((i + 0.5) * length / frames) for i in range(frames)]


@pytest.mark.parametrize(("length", "frames"), [(16, 16), (32, 4), (17, 4), (100, 16), (5, 1), (64, 16), (9, 8)])
def test_uniform_positions_exact(length: int, frames: int) -> None:
    got = sample_indices(length, frames, mode="uniform").tolist()
    assert got == ref_uniform(length, frames)
    assert got == sorted(got) and len(set(got)) == frames and got[0] >= 0 and got[-1] < length


def test_uniform_known_values() -> None:
    assert sample_indices(32, 4).tolist() == [4, 12, 20, 28]
    assert sample_indices(8, 8).tolist() == list(range(8))


@pytest.mark.parametrize(
    ("length", "frames", "stride", "step"), [(100, 16, 4, 4), (40, 16, 4, 2), (16, 16, 4, 1), (70, 8, 3, 3)]
)
def test_random_positions_follow_published_rule(length: int, frames: int, stride: int, step: int) -> None:
    """Consecutive frames `step` apart; step = stride, or length // frames when the clip is too short."""
    starts = set()
    for s in range(200):
        idx = sample_indices(length, frames, mode="random", stride=stride, generator=torch.Generator().manual_seed(s))
        start = int(idx[0])
        assert idx.tolist() == [start + i * step for i in range(frames)]
        assert int(idx[-1]) < length
        starts.add(start)
    last = length - (frames - 1) * step - 1
    assert min(starts) == 0 and max(starts) == last  # every fitting offset is reachable (both ends)


def test_random_sampling_is_seeded() -> None:
    a = sample_indices(300, 16, mode="random", generator=torch.Generator().manual_seed(3))
    b = sample_indices(300, 16, mode="random", generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.dtype == torch.int64


def test_short_clip_policies() -> None:
    assert sample_indices(3, 5, short="pad").tolist() == [0, 1, 2, 2, 2]
    assert sample_indices(3, 5, short="loop").tolist() == [0, 1, 2, 0, 1]
    looped = sample_indices(3, 7, mode="random", short="loop", generator=torch.Generator().manual_seed(0))
    assert [int(looped[i + 1] - looped[i]) % 3 for i in range(6)] == [1] * 6
    with pytest.raises(ConfigError, match=r"clip has 3 frame\(s\) but frames=5"):
        sample_indices(3, 5)


def test_sample_indices_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="mode must be one of"):
        sample_indices(10, 2, mode="center")
    with pytest.raises(ConfigError, match="frames must be an integer >= 1, got 0"):
        sample_indices(10, 0)
    with pytest.raises(ConfigError, match="short must be one of"):
        sample_indices(10, 2, short="wrap")


# ---------------------------------------------------------------------------------------------- frame files


def test_list_frames_natural_order(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    folder.mkdir()
    for k in (1, 2, 10, 11):
        Image.new("RGB", (4, 4)).save(folder / f"{k}.jpg")
    (folder / "notes.txt").write_text("x")
    assert [p.name for p in list_frames(folder)] == ["1.jpg", "2.jpg", "10.jpg", "11.jpg"]


def test_load_frame_matches_pillow(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (5, 7, 3), generator=g, dtype=torch.uint8)
    Image.frombytes("RGB", (7, 5), bytes(pixels.flatten().tolist())).save(tmp_path / "a.png")
    got = load_frame(tmp_path / "a.png")
    assert got.shape == (3, 5, 7) and got.dtype == torch.uint8
    assert torch.equal(got, pixels.permute(2, 0, 1))
    grey = load_frame(tmp_path / "a.png", channels=1)
    assert grey.shape == (1, 5, 7)


# ---------------------------------------------------------------------------------------------- dataset


@pytest.fixture
def tree(tmp_path: Path) -> tuple[list[Path], list[int]]:
    lengths = [20, 16, 33, 24]
    folders = [write_clip(tmp_path / f"clip{i}", n) for i, n in enumerate(lengths)]
    return folders, [0, 1, 1, 0]


def test_item_shape_dtype_and_uniform_frames(tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    ds = FrameFolderDataset(folders, labels, ["a", "b"], frames=8)
    assert len(ds) == 4 and ds.num_classes == 2 and ds.classes == ("a", "b")
    assert ds.class_counts().tolist() == [2, 2]
    for i, n in enumerate([20, 16, 33, 24]):
        video, label = ds[i]
        assert video.shape == (8, 3, 8, 8) and video.dtype == torch.float32 and video.is_contiguous()
        assert float(video.min()) >= 0.0 and float(video.max()) <= 1.0
        assert label == labels[i]
        assert frame_ids(video) == ref_uniform(n, 8)
    assert ds[-1][1] == labels[-1]


def test_random_offsets_deterministic_per_seed_epoch_and_index(tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    ds = FrameFolderDataset(folders, labels, ["a", "b"], frames=4, sampling="random", stride=3, seed=5)
    first = [frame_ids(ds[i][0]) for i in range(4)]
    reverse = [frame_ids(ds[i][0]) for i in reversed(range(4))][::-1]
    assert first == reverse  # independent of access order
    for ids, n in zip(first, [20, 16, 33, 24]):
        step = max(1, min(3, n // 4))
        assert ids == [ids[0] + k * step for k in range(4)] and ids[-1] < n
    assert [frame_ids(x) for x in (ds[0][0], ds[2][0])] == [first[0], first[2]]
    again = FrameFolderDataset(folders, labels, ["a", "b"], frames=4, sampling="random", stride=3, seed=5)
    assert [frame_ids(again[i][0]) for i in range(4)] == first
    draws = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        draws.add(tuple(frame_ids(ds[2][0])))
    assert len(draws) > 1  # new offsets per epoch
    ds.set_epoch(0)
    assert [frame_ids(ds[i][0]) for i in range(4)] == first
    assert frame_ids(ds[2][0]) == ds.frame_indices(2).tolist()


def test_resize_matches_interpolate(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(1)
    folder = tmp_path / "v"
    folder.mkdir()
    frames = torch.randint(0, 256, (3, 8, 12, 3), generator=g, dtype=torch.uint8)
    for k in range(3):
        Image.frombytes("RGB", (12, 8), bytes(frames[k].flatten().tolist())).save(folder / f"frame{k + 1:06d}.png")
    ds = FrameFolderDataset([folder], [0], ["a"], frames=3, size=(4, 6))
    video, _ = ds[0]
    ref = F.interpolate(
        frames.permute(0, 3, 1, 2).double() / 255, size=(4, 6), mode="bilinear", align_corners=False, antialias=True
    ).clamp(0, 1)
    assert video.shape == (3, 3, 4, 6)
    torch.testing.assert_close(video.double(), ref, atol=1e-5, rtol=0)
    raw, _ = FrameFolderDataset([folder], [0], ["a"], frames=3)[0]
    assert torch.equal((raw * 255).round().to(torch.uint8), frames.permute(0, 3, 1, 2))  # PNG: exact


def test_flip_same_for_all_frames(tmp_path: Path) -> None:
    folders = []
    for i in range(6):
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        ramp = torch.arange(8, dtype=torch.uint8).mul(30).expand(4, 8)  # left-to-right ramp
        for k in range(4):
            rgb = ramp[..., None].expand(4, 8, 3).contiguous()
            Image.frombytes("RGB", (8, 4), bytes(rgb.flatten().tolist())).save(folder / f"frame{k + 1:06d}.png")
        folders.append(folder)
    plain = FrameFolderDataset(folders, [0] * 6, ["a"], frames=4)
    flipping = FrameFolderDataset(folders, [0] * 6, ["a"], frames=4, flip=True, seed=2)
    flips = []
    for i in range(6):
        x, y = plain[i][0], flipping[i][0]
        if torch.equal(x, y):
            flips.append(False)
        else:
            assert torch.equal(x.flip(-1), y)  # whole clip flipped, every frame alike
            flips.append(True)
    assert any(flips) and not all(flips)


def test_grayscale_channels(tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    video, _ = FrameFolderDataset(folders, labels, ["a", "b"], frames=4, channels=1)[0]
    assert video.shape == (4, 1, 8, 8)


def test_preload_float_uint8_and_workers(tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    ds = FrameFolderDataset(folders, labels, ["a", "b"], frames=4, sampling="random", flip=True, seed=1)
    videos, y = ds.preload(progress=False)
    assert videos.shape == (4, 4, 3, 8, 8) and videos.dtype == torch.float32 and y.tolist() == labels
    assert torch.equal(videos[2], ds[2][0])
    small, _ = ds.preload(progress=False, dtype=torch.uint8)
    assert small.dtype == torch.uint8 and torch.equal(small, (videos * 255).round().to(torch.uint8))
    parallel, y2 = ds.preload(progress=False, num_workers=2)
    assert torch.equal(parallel, videos) and torch.equal(y2, y)
    with pytest.raises(ConfigError, match=r"dtype must be torch\.float32 or torch\.uint8"):
        ds.preload(progress=False, dtype=torch.float16)


def test_single_frame_view(tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    ds = FrameFolderDataset(folders, labels, ["a", "b"], frames=4, seed=3)
    view = ds.single_frame()
    assert len(view) == 4 and view.num_classes == 2 and view.class_counts().tolist() == [2, 2]
    picks = []
    for i, n in enumerate([20, 16, 33, 24]):
        image, label = view[i]
        assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == labels[i]
        (k,) = frame_ids(image[None])
        assert 0 <= k < n  # any frame of the clip, not only the sampled ones
        picks.append(k)
    assert [frame_ids(view[i][0][None])[0] for i in range(4)] == picks  # fixed within an epoch
    seen = set()
    for epoch in range(10):
        view.set_epoch(epoch)
        seen.add(frame_ids(view[2][0][None])[0])
    assert len(seen) > 3
    images, y = view.preload(progress=False)
    assert images.shape == (4, 3, 8, 8) and y.tolist() == labels


# ---------------------------------------------------------------------------------------------- errors


def test_missing_folder_named(tmp_path: Path, tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    gone = tmp_path / "no_such_clip"
    with pytest.raises(TemporalCondenseError, match=r"video folder not found: .*no_such_clip.*1 of 5"):
        FrameFolderDataset([*folders, gone], [*labels, 0], ["a", "b"])
    ds = FrameFolderDataset([*folders, gone], [*labels, 0], ["a", "b"], missing="skip")
    assert len(ds) == 4
    with pytest.raises(TemporalCondenseError, match="no video folders left"):
        FrameFolderDataset([gone], [0], ["a"], missing="skip")


def test_short_clip_named(tmp_path: Path) -> None:
    folder = write_clip(tmp_path / "tiny_clip", 3)
    ds = FrameFolderDataset([folder], [0], ["a"], frames=5)
    with pytest.raises(TemporalCondenseError, match=r"tiny_clip has 3 frame\(s\), fewer than frames=5"):
        ds[0]
    padded = FrameFolderDataset([folder], [0], ["a"], frames=5, short="pad")
    assert frame_ids(padded[0][0]) == [0, 1, 2, 2, 2]
    looped = FrameFolderDataset([folder], [0], ["a"], frames=5, short="loop")
    assert frame_ids(looped[0][0]) == [0, 1, 2, 0, 1]


def test_unreadable_and_empty(tmp_path: Path) -> None:
    folder = write_clip(tmp_path / "v", 4)
    (folder / "frame000003.jpg").write_bytes(b"not a jpeg at all")
    ds = FrameFolderDataset([folder], [0], ["a"], frames=4)
    with pytest.raises(TemporalCondenseError, match=r"cannot read frame .*frame000003\.jpg"):
        ds[0]
    empty = tmp_path / "empty_clip"
    empty.mkdir()
    with pytest.raises(TemporalCondenseError, match=r"no frames .* in video folder .*empty_clip"):
        FrameFolderDataset([empty], [0], ["a"])[0]


def test_label_and_config_errors(tree: tuple[list[Path], list[int]]) -> None:
    folders, _ = tree
    with pytest.raises(TemporalCondenseError, match=r"label of video folder .*clip0.* must be in \[0, 2\), got 2"):
        FrameFolderDataset(folders, [2, 0, 0, 0], ["a", "b"])
    with pytest.raises(ConfigError, match="videos and labels must have the same length"):
        FrameFolderDataset(folders, [0], ["a", "b"])
    with pytest.raises(ConfigError, match=r"frames: .*greater than or equal to 1.*got 0"):
        FrameFolderDataset(folders, [0] * 4, ["a"], frames=0)
    with pytest.raises(ConfigError, match=r"sampling: .*got 'center'"):
        FrameFolderDataset(folders, [0] * 4, ["a"], sampling="center")
    with pytest.raises(ConfigError, match="missing must be one of"):
        FrameFolderDataset(folders, [0] * 4, ["a"], missing="ignore")
    ds = FrameFolderDataset(folders, [0] * 4, ["a"])
    with pytest.raises(ConfigError, match=r"index must be in \[-4, 4\), got 4"):
        ds[4]
    with pytest.raises(ConfigError, match="epoch must be an integer >= 0"):
        ds.set_epoch(-1)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        ClipConfig(frames=4, colour=True)  # type: ignore[call-arg]


def test_preload_mismatched_sizes_named(tmp_path: Path) -> None:
    a = write_clip(tmp_path / "a", 4, size=(8, 8))
    b = write_clip(tmp_path / "b", 4, size=(6, 8))
    ds = FrameFolderDataset([a, b], [0, 0], ["x"], frames=4)
    with pytest.raises(ShapeError, match=r"item 1 has shape .*pass size=\(H, W\)"):
        ds.preload(progress=False)
    fixed = FrameFolderDataset([a, b], [0, 0], ["x"], frames=4, size=(8, 8))
    assert fixed.preload(progress=False)[0].shape == (2, 4, 3, 8, 8)


def test_int_size_and_index_types(tree: tuple[list[Path], list[int]]) -> None:
    folders, labels = tree
    ds = FrameFolderDataset(folders, labels, ["a", "b"], frames=2, size=4)
    assert ds[torch.tensor(1)][0].shape == (2, 3, 4, 4)
    with pytest.raises(ConfigError, match="index must be an integer, got True"):
        ds[True]  # type: ignore[index]


# ------------------------------------------------------------------ issue 9: bad inputs are named errors
@pytest.mark.parametrize("index", [0.5, 1.0, torch.tensor(0.5), "0"])
def test_non_integer_index_is_refused_not_floored(tree: tuple[list[Path], list[int]], index: object) -> None:
    folders, labels = tree
    ds = FrameFolderDataset(folders, labels, ["a", "b"], frames=8)
    with pytest.raises(ConfigError, match=r"index must be an integer, got"):
        ds[index]  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"index must be an integer, got"):
        ds.single_frame()[index]  # type: ignore[index]
    assert torch.equal(ds[torch.tensor(1)][0], ds[1][0])  # integer scalars still work


def test_decompression_bomb_frame_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("L", (64, 64)).save(tmp_path / "bomb.png")  # tiny on disk, "huge" for the lowered limit
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(TemporalCondenseError, match=r"bomb\.png is refused as a possible decompression bomb"):
        load_frame(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # between 1x and 2x: Pillow only warns
    with pytest.raises(TemporalCondenseError, match=r"decompression bomb"):
        load_frame(tmp_path / "bomb.png")
