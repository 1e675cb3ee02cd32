"""The built-in MovingShapes dataset: interface, determinism, and that motion is invisible in single frames
but present across frames."""

from __future__ import annotations

import math

import pytest
import torch

from temporal_condense.data import MovingShapes
from temporal_condense.data.builtin import PALETTE
from temporal_condense.errors import ConfigError
from temporal_condense.seeds import seeded_generator


def small(**kw: object) -> MovingShapes:
    args: dict[str, object] = {"frames": 6, "size": (16, 16), "videos_per_class": 3}
    args.update(kw)
    return MovingShapes(**args)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- interface


def test_items_labels_and_classes() -> None:
    ds = small(shapes=("circle", "square", "cross"), motions=("right", "left", "up"))
    assert ds.num_classes == 9 and ds.num_shapes == 3 and ds.num_motions == 3 and len(ds) == 27
    assert ds.classes[:4] == ("circle/right", "circle/left", "circle/up", "square/right")
    assert ds.labels == [i // 3 for i in range(27)]  # class-major
    assert ds.class_counts().tolist() == [3] * 9
    for label in range(9):
        assert ds.classes[label] == f"{ds.shapes[ds.class_appearance(label)]}/{ds.motions[ds.class_motion(label)]}"
        assert label == ds.class_appearance(label) * ds.num_motions + ds.class_motion(label)
    y = torch.arange(9)
    assert ds.class_appearance(y).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert ds.class_motion(y).tolist() == [0, 1, 2] * 3
    video, label = ds[4]
    assert video.shape == (6, 3, 16, 16) and video.dtype == torch.float32 and video.is_contiguous()
    assert label == 1 and float(video.min()) >= 0.0 and float(video.max()) <= 1.0
    assert ds.frames == 6 and ds.size == (16, 16)


def test_tensors_preload_and_items_agree() -> None:
    ds = small()
    videos, labels = ds.tensors()
    assert videos.shape == (24, 6, 3, 16, 16) and labels.dtype == torch.int64
    raw, labels8 = ds.tensors(torch.uint8)
    assert raw.dtype == torch.uint8 and torch.equal(videos, raw.float() / 255) and torch.equal(labels, labels8)
    pre, pre_labels = ds.preload(progress=False)
    assert torch.equal(pre, videos) and torch.equal(pre_labels, labels)
    assert torch.equal(ds[7][0], videos[7])
    assert MovingShapes("test", frames=4, size=(16, 16)).class_counts().tolist() == [20] * 8  # default test size
    assert len(MovingShapes(frames=2, size=(8, 8))) == 8 * 50  # default train size


def test_single_frame_view() -> None:
    ds = small()
    videos, _ = ds.tensors()
    view = ds.single_frame()
    picks = []
    for i in range(len(view)):
        image, label = view[i]
        assert image.shape == (3, 16, 16) and label == ds.labels[i]
        match = [t for t in range(6) if torch.equal(image, videos[i, t])]
        assert match
        picks.append(match[0])
    assert len(set(picks)) > 1
    images, y = view.preload(progress=False)
    assert images.shape == (24, 3, 16, 16) and torch.equal(images[5], view[5][0]) and y.tolist() == ds.labels


def test_grayscale_and_more_shapes() -> None:
    ds = small(channels=1, shapes=("ring", "triangle"), motions=("down", "up"))
    assert ds[0][0].shape == (6, 1, 16, 16)


# ---------------------------------------------------------------------------------------------- determinism


def test_deterministic_by_seed_and_split() -> None:
    a = small(videos_per_class=20)  # 160 clips: several render chunks
    b = small(videos_per_class=20)
    assert torch.equal(a.tensors(torch.uint8)[0], b.tensors(torch.uint8)[0])
    assert torch.equal(a.centers, b.centers)
    c = small(videos_per_class=20, seed=1)
    assert not torch.equal(a.tensors(torch.uint8)[0], c.tensors(torch.uint8)[0])
    test = small(split="test", videos_per_class=20)
    assert not torch.equal(a.centers, test.centers)


# ---------------------------------------------------------------------------------------------- statistics


def circular_mean(x: torch.Tensor, period: float) -> torch.Tensor:
    """Mean resultant vector (cos, sin) of positions on a circle of length ``period``."""
    angle = 2 * math.pi * x / period
    return torch.stack([angle.cos().mean(0), angle.sin().mean(0)])


def test_object_position_is_uniform_in_every_frame_whatever_the_motion() -> None:
    ds = MovingShapes(
        frames=8, size=(20, 20), videos_per_class=300, shapes=("circle",), motions=("right", "left", "down", "up")
    )
    labels = torch.tensor(ds.labels)
    for m in range(4):
        pos = ds.centers[labels == m]  # [300, T, 2]
        for axis in (0, 1):
            resultant = circular_mean(pos[..., axis], 20.0)  # uniform on the torus -> about 0 (std err 0.04)
            assert float(resultant.abs().max()) < 0.2, (ds.motions[m], axis)
    # ... while the velocity does depend on the class
    mean_v = torch.stack([ds.velocities[labels == m].mean(0) for m in range(4)])
    assert mean_v[0, 0] > 1.0 and mean_v[1, 0] < -1.0 and mean_v[2, 1] > 1.0 and mean_v[3, 1] < -1.0


def foreground(videos: torch.Tensor) -> torch.Tensor:
    """Object mask per pixel: far from the clip's background colour (the per-channel median of frame 0)."""
    bg = videos[:, 0].flatten(2).median(dim=2).values  # [N, C]
    return (videos - bg[:, None, :, None, None]).abs().sum(2) > 0.45  # [N, T, H, W]


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean().sqrt())


def test_single_frame_pixel_statistics_do_not_separate_motions() -> None:
    ds = MovingShapes(frames=4, size=(16, 16), videos_per_class=400, shapes=("square",), motions=("right", "left"))
    fg = foreground(ds.tensors()[0]).float()  # [800, T, H, W]
    right, left = fg[:400], fg[400:]
    for t in range(4):
        between = rms(right[:, t].mean(0), left[:, t].mean(0))
        within = rms(right[:200, t].mean(0), right[200:, t].mean(0))  # null: two halves of one class
        assert between < 1.5 * within, (t, between, within)  # expected ratio about 0.7
    # the statistic has power: a position-biased split (object starts in the left half) is caught at once
    x0 = ds.centers[:, 0, 0]
    biased = rms(fg[:400][x0[:400] < 8, 0].mean(0), fg[400:][x0[400:] >= 8, 0].mean(0))
    assert biased > 3 * rms(right[:200, 0].mean(0), right[200:, 0].mean(0))


def test_motion_is_visible_across_frames() -> None:
    """A clip-level rule (circular centroid of the object mask over time) recovers every motion label."""
    ds = small(videos_per_class=10, frames=8, size=(24, 24), motions=("right", "left", "down", "up"))
    fg = foreground(ds.tensors()[0]).float()  # [N, T, H, W]
    coords = (torch.arange(24) + 0.5) * 2 * math.pi / 24
    assert bool((fg.sum((2, 3)) > 4).all())  # the object is seen in every frame
    cx = torch.atan2((fg.sum(2) * coords.sin()).sum(-1), (fg.sum(2) * coords.cos()).sum(-1))
    cy = torch.atan2((fg.sum(3) * coords.sin()).sum(-1), (fg.sum(3) * coords.cos()).sum(-1))
    step = torch.stack([cx.diff(dim=1), cy.diff(dim=1)], dim=-1)
    step = torch.remainder(step + math.pi, 2 * math.pi) - math.pi  # wrap-aware displacement, radians
    velocity_px = step.mean(1) * 24 / (2 * math.pi)  # [N, 2] pixels per frame
    torch.testing.assert_close(velocity_px, ds.velocities, atol=0.35, rtol=0)
    directions = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    predicted = (velocity_px @ directions.T).argmax(1)
    assert torch.equal(predicted, ds.class_motion(torch.tensor(ds.labels)))


def test_colour_coded_objects_take_their_appearance_colour() -> None:
    kw: dict[str, object] = {"size": (32, 32), "radius": (0.25, 0.3), "videos_per_class": 4, "noise": 0.02}
    plain, coded = small(**kw), small(colour_coded=True, **kw)
    # only the object colours change: positions and velocities are drawn from the same stream
    assert torch.equal(coded.centers, plain.centers) and torch.equal(coded.velocities, plain.velocities)
    videos, labels = coded.tensors()
    frame0 = videos[:, 0]  # [N, C, H, W]
    bg = frame0.flatten(2).median(dim=2).values  # [N, C]
    distance = (frame0 - bg[:, :, None, None]).abs().sum(1).flatten(1)  # [N, H*W]
    core = frame0.flatten(2).gather(2, distance.argmax(1)[:, None, None].expand(-1, 3, 1))[..., 0]  # [N, C]
    palette = torch.tensor(PALETTE)[coded.class_appearance(labels)]
    assert float((core - palette).abs().max()) < 0.2  # jitter 0.1 + noise


def _bilinear(img: torch.Tensor, gx: float, gy: float) -> torch.Tensor:
    """Plain bilinear sample of ``img`` [C, S, S] at normalized ``(gx, gy)`` (align_corners=False, border)."""
    s = img.shape[-1]
    x = min(max(((gx + 1) * s - 1) / 2, 0.0), s - 1.0)
    y = min(max(((gy + 1) * s - 1) / 2, 0.0), s - 1.0)
    x0, y0 = math.floor(x), math.floor(y)
    x1, y1 = min(x0 + 1, s - 1), min(y0 + 1, s - 1)
    fx, fy = x - x0, y - y0
    top = img[:, y0, x0] * (1 - fx) + img[:, y0, x1] * fx
    bottom = img[:, y1, x0] * (1 - fx) + img[:, y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def test_photo_objects_show_their_photo_and_carry_it_along() -> None:
    pytest.importorskip("skimage")
    from temporal_condense.data.builtin import PHOTOS, load_photo

    kw: dict[str, object] = {"size": (32, 32), "radius": (0.28, 0.3), "noise": 0.0, "drift": 0.0}
    plain = small(shapes=("circle", "square"), **kw)
    ds = small(shapes=("circle", "square"), texture="photo", speed=(2.0, 2.0), **kw)
    # the photo is drawn after every other per-clip parameter: positions and velocities are the flat ones'
    assert torch.equal(ds.centers[:, 0], plain.centers[:, 0])
    videos, labels = ds.tensors()
    # the per-clip draws, in the generator's order: start, speed, drift, radius, angle, colours, photo offset
    g = seeded_generator(0, "MovingShapes", "train")
    n, f64 = len(ds), torch.float64
    torch.rand(n, 2, generator=g, dtype=f64), torch.rand(n, generator=g, dtype=f64)
    torch.rand(n, generator=g, dtype=f64)
    radius = 32 * (0.28 + 0.02 * torch.rand(n, generator=g, dtype=f64))
    torch.rand(n, generator=g, dtype=f64), torch.rand(n, 3, generator=g), torch.rand(n, 3, generator=g)
    offset = 0.3 * (2 * torch.rand(n, 2, generator=g) - 1)
    for i in range(n):
        if ds.shapes[int(ds.class_appearance(int(labels[i])))] != "circle":  # circles: no rotation to undo
            continue
        photo = load_photo(PHOTOS[int(ds.class_appearance(int(labels[i])))])
        cx, cy = (float(c) for c in ds.centers[i, 0])
        px, py = int(cx), int(cy)  # the pixel whose centre (px + 0.5, py + 0.5) is nearest the object centre
        scale = 0.7 / float(radius[i])  # the photo's [-1, 1] spans 1 / 0.7 radii
        gx, gy = (px + 0.5 - cx) * scale + float(offset[i, 0]), (py + 0.5 - cy) * scale + float(offset[i, 1])
        assert float((videos[i, 0, :, py, px] - _bilinear(photo, gx, gy)).abs().max()) < 0.005
    # the photo moves with the object: on the torus, frame t is frame 0 rolled by 2 t pixels (speed 2, no drift)
    for i in range(n):
        step = 2 if ds.motions[ds.class_motion(int(labels[i]))] == "right" else -2  # px per frame
        for t in range(1, ds.frames):
            rolled = torch.roll(videos[i, 0], shifts=step * t, dims=-1)
            assert float((videos[i, t] - rolled).abs().max()) <= 1.5 / 255


def test_photo_texture_errors() -> None:
    with pytest.raises(ConfigError, match="colour_coded must be False with texture='photo'"):
        small(texture="photo", colour_coded=True)
    with pytest.raises(ConfigError, match="texture"):
        small(texture="marble")


def test_photo_texture_without_scikit_image_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "skimage" else real_find_spec(name, *a)
    )
    with pytest.raises(ConfigError, match=r'pip install "temporal-condense\[photos\]"'):
        small(texture="photo")


# ---------------------------------------------------------------------------------------------- errors


def test_errors_name_the_argument() -> None:
    with pytest.raises(ConfigError, match=r"split must be one of \('train', 'test'\), got 'val'"):
        small(split="val")
    with pytest.raises(ConfigError, match=r"shapes must be distinct names from .*got \('star',\)"):
        small(shapes=("star",))
    with pytest.raises(ConfigError, match=r"motions must name at least 2 directions, got \('left',\)"):
        small(motions=("left",))
    with pytest.raises(ConfigError, match=r"size must be at least \(8, 8\), got \(4, 16\)"):
        small(size=(4, 16))
    with pytest.raises(ConfigError, match=r"videos_per_class: .*greater than or equal to 1.*got 0"):
        small(videos_per_class=0)
    with pytest.raises(ConfigError, match=r"speed must be"):
        small(speed=(2.0, 1.0))
    ds = small()
    with pytest.raises(ConfigError, match=r"label must be an integer in \[0, 8\), got 8"):
        ds.class_motion(8)
    with pytest.raises(ConfigError, match=r"dtype must be torch\.float32 or torch\.uint8"):
        ds.tensors(torch.float64)
