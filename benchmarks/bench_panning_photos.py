"""A second motion benchmark, from real photographs and not on a torus: the quickstart's rows on panning clips.

Each clip is a 48 x 48 window that pans across one of the five photographs shipped with scikit-image
(``temporal_condense.data.builtin.PHOTOS``, resized to 192 x 192), to the left or to the right, at 2.5-3.5 px
per frame with a small vertical drift; 10 classes = photograph x direction (chance 10 %). The window starts
anywhere the whole pan stays inside the photograph, so a frame drawn at random does not tell the direction
(the first frame tells a little: a window that pans left starts further right; the photographs are four
times the window's side to keep that small, docs/results.md). Unlike MovingShapes, the whole frame moves and
nothing wraps around. Every setting is the quickstart's
(``base_config``, ``method_settings``: chosen on MovingShapes, nothing tuned here); the warp rows' padding is
``--padding`` (``border``, the library's default for real video, or the quickstart's ``circular``). The rows
are evaluated on the set's own test clips (top-1 only: the motion metric needs MovingShapes' shape pairs).

Usage::

    python benchmarks/bench_panning_photos.py                      # border padding, width 16 (~14 min)
    python benchmarks/bench_panning_photos.py --padding circular --rows SD-warp DM+SD-warp
    python benchmarks/bench_panning_photos.py --net-width 32       # the held-out check's student width
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from temporal_condense.data.builtin import PHOTOS, load_photo
from temporal_condense.errors import ConfigError
from temporal_condense.pipeline import METHODS, PipelineConfig, run_pipeline
from temporal_condense.pipeline.quickstart import base_config, method_settings, row_order

ROWS = ("random_real", "DM", "MTT", "SD-warp", "DM+SD-warp", "MTT+SD-warp", "full_data")


def panning_photos(
    per_class: int,
    seed: int,
    *,
    frames: int = 8,
    size: int = 48,
    photo_size: int = 192,
    speed: tuple[float, float] = (2.5, 3.5),
    drift: float = 0.5,
    noise: float = 0.03,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of a window panning across a photograph: class ``2 p`` pans left over ``PHOTOS[p]``, ``2 p + 1`` right.

    Args:
        per_class: Clips per class.
        seed: Seed of every draw (speed, drift, start, noise).
        frames: Frames per clip.
        size: Side of the window (and of the frames).
        photo_size: Side of the photographs (``load_photo``); must leave room for the pan.
        speed: Range of the horizontal speed in pixels per frame.
        drift: Largest vertical speed in pixels per frame (uniform in ``[-drift, drift]``).
        noise: Std of the Gaussian noise added to every pixel (then clamped to [0, 1]).

    Returns:
        float32 videos ``[10 * per_class, frames, 3, size, size]`` in [0, 1] and int64 labels, grouped by class.

    Shape:
        videos: ``[N, T, 3, S, S]``; labels: ``[N]`` with ``N = 10 * per_class``.

    Example:
        >>> x, y = panning_photos(1, seed=0, frames=2, size=16, photo_size=32)  # doctest: +SKIP
        >>> x.shape, y.tolist()  # doctest: +SKIP
        (torch.Size([10, 2, 3, 16, 16]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    span = speed[1] * (frames - 1)
    need = size + span + 2 * drift * (frames - 1) + 2
    if photo_size < need:
        raise ConfigError(
            f"photo_size must leave room for the pan: got {photo_size} for size {size}, span {span}; needs >= {need:g}"
        )
    g = torch.Generator().manual_seed(seed)
    photos = [load_photo(name, size=photo_size) for name in PHOTOS]
    videos, labels = [], []
    t = torch.arange(frames, dtype=torch.float32)
    scale = size / photo_size
    for label in range(2 * len(photos)):
        photo, sign = photos[label // 2], (-1.0 if label % 2 == 0 else 1.0)
        for _ in range(per_class):
            vx = sign * (speed[0] + (speed[1] - speed[0]) * torch.rand((), generator=g))
            vy = drift * (2 * torch.rand((), generator=g) - 1)
            reach_x, reach_y = abs(float(vx)) * (frames - 1), abs(float(vy)) * (frames - 1)
            x0 = torch.rand((), generator=g) * (photo_size - size - reach_x) + (reach_x if vx < 0 else 0.0)
            y0 = torch.rand((), generator=g) * (photo_size - size - reach_y) + (reach_y if vy < 0 else 0.0)
            left, top = x0 + vx * t, y0 + vy * t  # the window's top-left corner per frame, in pixels
            theta = torch.zeros(frames, 2, 3)
            theta[:, 0, 0] = theta[:, 1, 1] = scale
            theta[:, 0, 2] = (2 * left + size) / photo_size - 1
            theta[:, 1, 2] = (2 * top + size) / photo_size - 1
            grid = F.affine_grid(theta, [frames, 3, size, size], align_corners=False)
            clip = F.grid_sample(photo.expand(frames, -1, -1, -1), grid, align_corners=False)
            clip = clip + noise * torch.randn(clip.shape, generator=g)
            videos.append(clip.clamp(0, 1))
            labels.append(label)
    return torch.stack(videos), torch.tensor(labels)


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/panning_photos"), help="output folder")
    parser.add_argument("--padding", choices=("border", "circular"), default="border", help="the warp rows' padding")
    parser.add_argument("--net-width", type=int, default=16, help="ConvNet3D width of stage 2 and evaluation")
    parser.add_argument("--rows", nargs="+", choices=METHODS, default=list(ROWS), metavar="ROW", help="rows to run")
    parser.add_argument("--per-class", type=int, default=100, help="training clips per class")
    parser.add_argument("--test-per-class", type=int, default=20, help="test clips per class")
    parser.add_argument("--fast", action="store_true", help="a tiny run (seconds): 16 px, 4 frames")
    args = parser.parse_args(argv)
    base = base_config(fast=args.fast, net_width=args.net_width)
    dims: dict[str, Any] = {"frames": 4, "size": 16, "photo_size": 32, "speed": (1.0, 2.0)} if args.fast else {}
    per_class = 16 if args.fast else args.per_class  # the warp rows start from 16 real clips per class
    train = panning_photos(per_class, seed=1000, **dims)
    test = panning_photos(2 if args.fast else args.test_per_class, seed=2000, **dims)
    config = base.model_dump(mode="json")
    frames, size = train[0].shape[1], train[0].shape[-1]
    config["data"] = {"dataset": "custom", "frames": frames, "size": [size, size], "standardize": True}
    base = PipelineConfig.from_dict(config)
    print(f"data: {tuple(train[0].shape)} train, {tuple(test[0].shape)} test; chance 10.0 %", flush=True)
    out = args.out / f"{args.padding}_w{args.net_width}"
    results: dict[str, tuple[float, float]] = {}
    for row in row_order(tuple(args.rows)):
        cfg = method_settings(row, base, out)
        if row.endswith("-warp"):
            cfg = cfg.replace(synthetic={"warp_padding": args.padding})
        start = time.perf_counter()
        res = run_pipeline(cfg, out / row, data=(train, test), progress=False)
        results[row] = (res.mean, res.std)
        print(f"{row:<14} top-1 {res.mean:5.1f} ± {res.std:4.1f} %  ({time.perf_counter() - start:.0f} s)", flush=True)
    return results


if __name__ == "__main__":
    main()
