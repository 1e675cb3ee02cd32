"""Why DM does not beat random real on the quickstart's motion benchmark at one clip per class, in one run.

On the quickstart's data and evaluation (``temporal_condense.pipeline.quickstart.base_config``), this prints:

* **what DM's objective prefers**: the DM loss (the same 16 random ConvNet3D networks and real batches for
  every set, so the figures are paired) of a random real clip per class and of *summaries* of several real
  clips of the class (their per-pixel mean, and their per-pixel maximum: bright shapes on a dark background,
  so the maximum keeps every clip's shape at full contrast);
* **what trains a student**: each of those sets evaluated as the quickstart evaluates its rows (ConvNet3D,
  5 runs, lr 0.001, 300 epochs), with its motion accuracy;
* **what distilling does to the real clip**: DM from the random real clip with the quickstart's DM settings
  (100 iterations at lr 100, momentum 0.5, 8 real clips per class) and a longer, faster run, with how far the
  clips moved and how much of them is high-frequency (the rms of the clips' Laplacian over the real clips').
  Both runs are the pipeline's own DM stage (``stages.stage2``) with the quickstart DM row's configuration, so
  the first one's set is the quickstart row's set, to the digit.

A set DM's objective rates closer to the data while it trains worse students (or the reverse) means DM's
gradient cannot lead to the better set, whatever its budget: docs/results.md reads the figures.

Usage::

    python benchmarks/ablation_objectives.py               # validation clips held out of the training split
    python benchmarks/ablation_objectives.py --test        # the test split
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F

from temporal_condense import SyntheticVideos
from temporal_condense.evaluate import evaluate, group_accuracy, random_real_subset
from temporal_condense.models import get_model
from temporal_condense.pipeline.config import PipelineConfig
from temporal_condense.pipeline.data import RealData, load_data
from temporal_condense.pipeline.quickstart import base_config, method_settings
from temporal_condense.pipeline.stages import real_draw_seed, stage2
from temporal_condense.seeds import derive_seed

NETS = 16  # random networks over which the DM loss of every set is averaged
BATCH_REAL = 64  # real clips per class behind each network's class means


def summaries(real: RealData, per_class: int, seed: int) -> dict[str, torch.Tensor]:
    """One clip per class: a random real clip, and the mean / maximum of ``per_class`` real clips (it included)."""
    first, _ = random_real_subset((real.train_x, real.train_y), 1, seed=seed, num_classes=real.num_classes)
    g = torch.Generator().manual_seed(seed)
    groups = []
    for c in range(real.num_classes):
        members = (real.train_y == c).nonzero().flatten()
        others = real.train_x[members[torch.randperm(members.numel(), generator=g)[: per_class - 1]]]
        groups.append(torch.cat([first[c : c + 1], others]))
    return {
        "random real clip": first,
        f"mean of {per_class} real clips": torch.stack([grp.mean(0) for grp in groups]),
        f"max of {per_class} real clips": torch.stack([grp.max(0).values for grp in groups]),
    }


def random_embed(real: RealData, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``embed`` of a freshly initialized, frozen copy of the quickstart's distillation network."""
    d = base_config().distill
    net = get_model(
        d.model,
        channels=real.channels,
        num_classes=real.num_classes,
        size=real.size,
        frames=real.frames,
        seed=seed,
        **d.model_kwargs,
    )
    net.requires_grad_(False)
    return cast(Callable[[torch.Tensor], torch.Tensor], net.embed)


def expected_dm_loss(real: RealData, sets: dict[str, torch.Tensor], seed: int) -> dict[str, float]:
    """DM loss of every set, averaged over the same ``NETS`` random networks and real batches (paired).

    Per network: ``sum_c || mean embed(real clips of c) - embed(the set's clip of c) ||^2`` (the set has one
    clip per class, in class order), the loss :func:`temporal_condense.losses.dm_loss` computes; the real
    class means are computed once per network and shared by every set.
    """
    k = real.num_classes
    g = torch.Generator().manual_seed(seed)
    members = [(real.train_y == c).nonzero().flatten() for c in range(k)]
    totals = dict.fromkeys(sets, 0.0)
    for i in range(NETS):
        embed = random_embed(real, derive_seed(seed, "ablation-net", i))
        with torch.no_grad():
            means = torch.stack(
                [
                    embed(real.train_x[m[torch.randperm(m.numel(), generator=g)[:BATCH_REAL]]]).flatten(1).mean(0)
                    for m in members
                ]
            )
            for name, videos in sets.items():
                totals[name] += float((means - embed(videos).flatten(1)).pow(2).sum()) / NETS
    return totals


def high_frequency(videos: torch.Tensor) -> float:
    """Rms of the per-frame Laplacian (the clips' high-frequency content)."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    frames = videos.flatten(0, 2).unsqueeze(1)
    return float(F.conv2d(frames, kernel).pow(2).mean().sqrt())


def distill_dm(cfg: PipelineConfig, real: RealData, start: torch.Tensor, out: Path, **distill: Any) -> torch.Tensor:
    """DM from ``start`` (one clip per class) by the pipeline's own stage 2, with the quickstart DM row's settings.

    ``distill`` overrides fields of the row's ``distill`` section (``iterations``, ``lr``, ...); without it, and
    from the row's own real clips, the result is the quickstart DM row's set, to the digit. ``out`` receives
    the stage's checkpoints.
    """
    row = method_settings("DM", cfg, out).replace(distill=distill)
    synset = SyntheticVideos.from_videos(start.clone(), 1)
    stage2(row, real, synset, out, progress=False, callback=None)
    videos, _ = synset.export()
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="store_true", help="evaluate on the test split (default: validation)")
    parser.add_argument("--per-class", type=int, default=6, help="real clips behind each summary clip")
    args = parser.parse_args()
    cfg = base_config(validation=not args.test)
    real = load_data(cfg.data, progress=False, seed=cfg.seed)
    assert real.appearance is not None
    appearance = real.appearance
    k, ev = real.num_classes, cfg.evaluation
    seed = real_draw_seed(cfg)  # the quickstart's draw of real clips
    print(f"data: {tuple(real.train_x.shape)} train, {tuple(real.test_x.shape)} {real.split}; one clip per class")

    sets = summaries(real, args.per_class, seed)
    t0 = time.perf_counter()
    start = sets["random real clip"]
    with tempfile.TemporaryDirectory() as tmp:
        sets["DM, 100 iterations, lr 100 (quickstart settings)"] = distill_dm(cfg, real, start, Path(tmp, "row"))
        sets["DM, 400 iterations, lr 300"] = distill_dm(
            cfg, real, start, Path(tmp, "long"), iterations=400, lr={"videos": 300.0}
        )
    print(f"DM runs: {time.perf_counter() - t0:.0f} s")
    losses = expected_dm_loss(real, sets, derive_seed(cfg.seed, "ablation-dm-loss"))
    hf_real = high_frequency(real.train_x[:64])

    print("| set | DM loss (16 nets) | moved (rms) | high-freq. vs real | top-1 (%) | motion (%) |")
    print("|---|---|---|---|---|---|")
    for name, videos in sets.items():
        res = evaluate(
            (videos, torch.arange(k)),
            (real.test_x, real.test_y),
            model=ev.model,
            model_kwargs=ev.model_kwargs,
            runs=ev.runs,
            config=ev.library_config(),  # the quickstart rows' evaluation protocol, every field of it
            progress=False,
            num_classes=k,
            metrics={"motion": lambda logits, labels: 100.0 * group_accuracy(logits, labels, appearance)},
            seed=1,
        )
        motion = res.metrics["motion"]
        moved = float((videos - start).pow(2).mean().sqrt())
        print(
            f"| {name} | {losses[name]:.3f} | {moved:.2f} | {high_frequency(videos) / hf_real:.2f} | "
            f"{res.mean:.1f} ± {res.std:.1f} | {sum(motion) / len(motion):.1f} |"
        )


if __name__ == "__main__":
    main()
