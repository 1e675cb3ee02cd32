"""Why DM and MTT do not beat random real on the quickstart's motion benchmark at one clip per class, in one run.

On the quickstart's data and evaluation (``temporal_condense.pipeline.quickstart.base_config``), this prints:

* **what each objective prefers**, for a random real clip per class and for *summaries* of several real clips
  of the class (their per-pixel mean, and their per-pixel maximum: bright shapes on a dark background, so the
  maximum keeps every clip's shape at full contrast):
  - the DM loss, over the same 16 random ConvNet3D networks and real batches for every set;
  - the MTT loss, over the same 32 windows of the quickstart MTT row's experts, student dropout and batch
    draws for every set (both figures are paired);
* **what trains a student**: each set evaluated as the quickstart evaluates its rows (ConvNet3D, 5 runs,
  lr 0.001, 300 epochs), with its motion accuracy;
* **what distilling does to the real clip**: DM from the random real clip with the quickstart's DM settings
  (100 iterations at lr 100, momentum 0.5, 8 real clips per class) and a longer, faster run; MTT from it with
  the quickstart's MTT settings (50 iterations, 5 synthetic steps) and MTT from the maximum summary; with how
  far the clips moved and how much of them is high-frequency (the rms of the clips' Laplacian over the real
  clips'). Every run is the pipeline's own stage 2 (``stages.stage2``) with the quickstart DM or MTT row's
  configuration, so the sets of the quickstart's settings are the quickstart rows' sets, to the digit.

A set an objective rates closer to the data while it trains worse students (or the reverse) means that
objective's gradient cannot lead to the better set, whatever its budget: docs/results.md reads the figures.

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
from torch import nn

from temporal_condense import SyntheticVideos
from temporal_condense.evaluate import evaluate, group_accuracy, random_real_subset
from temporal_condense.hooks import BatchStandardize
from temporal_condense.models import get_model
from temporal_condense.mtt import ExpertBuffer, make_syn_lr
from temporal_condense.pipeline.config import PipelineConfig
from temporal_condense.pipeline.data import RealData, load_data
from temporal_condense.pipeline.quickstart import base_config, method_settings
from temporal_condense.pipeline.stages import mtt_matching_loss, real_draw_seed, stage2
from temporal_condense.seeds import derive_seed

NETS = 16  # random networks over which the DM loss of every set is averaged
BATCH_REAL = 64  # real clips per class behind each network's class means
WINDOWS = 32  # expert windows over which the MTT loss of every set is averaged


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


def network(real: RealData, seed: int) -> nn.Module:
    """A freshly initialized copy of the quickstart's distillation network (``distill.model``)."""
    d = base_config().distill
    return get_model(
        d.model,
        channels=real.channels,
        num_classes=real.num_classes,
        size=real.size,
        frames=real.frames,
        seed=seed,
        **d.model_kwargs,
    )


def random_embed(real: RealData, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``embed`` of a freshly initialized, frozen copy of the quickstart's distillation network."""
    net = network(real, seed)
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


def expected_mtt_loss(
    cfg: PipelineConfig, real: RealData, sets: dict[str, torch.Tensor], experts: Path, seed: int
) -> dict[str, float]:
    """MTT loss of every set, averaged over the same ``WINDOWS`` windows of the experts in ``experts`` (paired).

    Per window: the quickstart MTT row's matching, by stage 2's own ``mtt_matching_loss`` (``syn_steps``
    student steps at the experts' learning rate from the window's start on the set, rendered with per-batch
    standardization as the row renders it; the squared distance to the window's target over the experts'
    own), with the same student dropout and batch draws for every set.
    """
    m = cfg.distill.mtt
    buffer = ExpertBuffer(experts, expert_epochs=m.expert_epochs, max_start_epoch=m.max_start_epoch, seed=seed)
    syn_lr = make_syn_lr(m.experts.lr).requires_grad_(False)
    totals = dict.fromkeys(sets, 0.0)
    for w in range(WINDOWS):
        window = buffer.sample()
        for name, videos in sets.items():
            synset = SyntheticVideos.from_videos(videos.clone(), 1)
            synset.register_render_hook(BatchStandardize())
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(seed, "ablation-dropout", w))
                draws = torch.Generator().manual_seed(derive_seed(seed, "ablation-batches", w))
                loss = mtt_matching_loss(cfg, network(real, 0), synset, window, syn_lr, draws)
            totals[name] += float(loss.detach()) / WINDOWS
    return totals


def high_frequency(videos: torch.Tensor) -> float:
    """Rms of the per-frame Laplacian (the clips' high-frequency content)."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    frames = videos.flatten(0, 2).unsqueeze(1)
    return float(F.conv2d(frames, kernel).pow(2).mean().sqrt())


def distill(
    method: str, cfg: PipelineConfig, real: RealData, start: torch.Tensor, out: Path, **overrides: Any
) -> torch.Tensor:
    """``method`` (``"DM"`` or ``"MTT"``) from ``start`` (one clip per class) by the pipeline's own stage 2.

    The quickstart row's settings; ``overrides`` replace fields of its ``distill`` section (``iterations``,
    ``lr``, ``mtt``, ...). Without them, and from the row's own real clips, the result is the quickstart
    row's set, to the digit. ``out`` receives the stage's checkpoints (and MTT's experts, unless
    ``mtt.buffer_path`` names them).
    """
    row = method_settings(method, cfg, out).replace(distill=overrides)
    synset = SyntheticVideos.from_videos(start.clone(), 1)
    stage2(row, real, synset, out, progress=False, callback=None)
    videos, _ = synset.export()
    return videos.detach()


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
    start = sets["random real clip"]
    summary = sets[f"max of {args.per_class} real clips"]
    starts: dict[str, torch.Tensor] = {}  # what "moved" is measured from, when not the random real clip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sets["DM, 100 iterations, lr 100 (quickstart settings)"] = distill("DM", cfg, real, start, Path(tmp, "dm"))
        sets["DM, 400 iterations, lr 300"] = distill(
            "DM", cfg, real, start, Path(tmp, "dm-long"), iterations=400, lr={"videos": 300.0}
        )
        sets["MTT, 50 iterations (quickstart settings)"] = distill("MTT", cfg, real, start, Path(tmp, "mtt"))
        experts = Path(tmp, "mtt", "experts")
        name = f"MTT from the max of {args.per_class} (quickstart settings)"
        sets[name] = distill("MTT", cfg, real, summary, Path(tmp, "mtt-max"), mtt={"buffer_path": str(experts)})
        starts[name] = summary
        print(f"DM and MTT runs: {time.perf_counter() - t0:.0f} s")
        mtt_losses = expected_mtt_loss(cfg, real, sets, experts, derive_seed(cfg.seed, "ablation-mtt-loss"))
    losses = expected_dm_loss(real, sets, derive_seed(cfg.seed, "ablation-dm-loss"))
    hf_real = high_frequency(real.train_x[:64])

    print(
        f"| set | DM loss ({NETS} nets) | MTT loss ({WINDOWS} windows) | moved (rms) | high-freq. vs real | "
        "top-1 (%) | motion (%) |"
    )
    print("|---|---|---|---|---|---|---|")
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
        moved = float((videos - starts.get(name, start)).pow(2).mean().sqrt())
        print(
            f"| {name} | {losses[name]:.3f} | {mtt_losses[name]:.3f} | {moved:.2f} | "
            f"{high_frequency(videos) / hf_real:.2f} | "
            f"{res.mean:.1f} ± {res.std:.1f} | {sum(motion) / len(motion):.1f} |"
        )


if __name__ == "__main__":
    main()
