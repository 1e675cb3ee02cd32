"""Validity of the quickstart's motion benchmark, and stage 1's sanity check, in one run.

Prints, on the quickstart's data (``temporal_condense.pipeline.quickstart.base_config``):

* **full data**: ConvNet3D (the quickstart's student) trained on every training clip -- top-1 and motion
  accuracy (accuracy among the 2 classes that share the true class's shape; chance 50 %);
* **single frame**: the image ConvNet trained on one random frame per clip and tested on single frames --
  it tells the shape (colour) but its motion accuracy must stay at chance: no single frame tells the motion;
* **stage-1 sanity**: the stage-1 statics (DM on single frames, the quickstart's settings) against the same
  number of real frames, both evaluated as image sets (single-frame ConvNet): a distilled image set must beat
  real frames of the same count. Two real baselines: the frames stage 1 starts from (its real init, 0
  iterations: the paired comparison, so the gap is what distilling did) and another random draw of frames
  (the gap then includes the luck of the draw). Each set is evaluated by the stage-1 model and by the same
  model without normalization (instance normalization removes most of the colour cue, which tells the shape).

Usage::

    python benchmarks/bench_motion_benchmark.py              # test split (the figures in docs/data.md)
    python benchmarks/bench_motion_benchmark.py --validation # held-out training clips (for tuning)
    python benchmarks/bench_motion_benchmark.py --texture photo  # shapes that show real photographs
"""

from __future__ import annotations

import argparse
import time

import torch

from temporal_condense.data import single_frames
from temporal_condense.evaluate import evaluate, group_accuracy
from temporal_condense.pipeline.data import load_data
from temporal_condense.pipeline.quickstart import TEXTURES, base_config
from temporal_condense.seeds import derive_seed
from temporal_condense.static import distill_static

LR = 0.01  # the evaluation rate of these figures (the quickstart evaluates its tiny sets at 0.001 for 300 epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--full-epochs", type=int, default=8)
    parser.add_argument("--texture", choices=TEXTURES, default="flat")
    args = parser.parse_args()
    cfg = base_config(validation=args.validation, texture=args.texture)
    real = load_data(cfg.data, progress=False, seed=cfg.seed)
    assert real.appearance is not None
    appearance = real.appearance

    def motion(logits: torch.Tensor, labels: torch.Tensor) -> float:
        return 100.0 * group_accuracy(logits, labels, appearance)

    k = real.num_classes
    print(
        f"data: {tuple(real.train_x.shape)} train, {tuple(real.test_x.shape)} {real.split}; chance "
        f"{100 / k:.1f} % top-1, 50 % motion"
    )
    ev = cfg.evaluation

    def run(name: str, train: object, test: object, model: str, kwargs: dict, runs: int, epochs: int) -> None:
        """Evaluate at the rate these figures were measured with (lr 0.01; docs/data.md) and print one line."""
        t0 = time.perf_counter()
        res = evaluate(
            train,
            test,
            model=model,
            model_kwargs=kwargs,
            runs=runs,
            epochs=epochs,
            lr=LR,
            batch_size=ev.batch_size,
            progress=False,
            num_classes=k,
            metrics={"motion": motion},
            seed=1,
        )
        m = res.metrics["motion"]
        print(
            f"{name}, {model} {kwargs}, {epochs} epochs: top-1 {res.mean:.1f} ± {res.std:.1f}  motion "
            f"{sum(m) / len(m):.1f}  runs {[round(a, 1) for a in res.top1]}  ({time.perf_counter() - t0:.0f} s)"
        )

    run(
        "full data",
        (real.train_x, real.train_y),
        (real.test_x, real.test_y),
        ev.model,
        ev.model_kwargs,
        2,
        args.full_epochs,
    )
    image_model, image_kwargs = cfg.static.model, cfg.static.model_kwargs
    train_frames = single_frames(real.train_x, real.train_y, derive_seed(cfg.seed, "bench-train"))
    test_frames = single_frames(real.test_x, real.test_y, derive_seed(cfg.seed, "bench-test"))
    run("single frame, full data", train_frames, test_frames, image_model, image_kwargs, 2, 20)

    spc = cfg.static.static_per_class
    stage1 = cfg.static.library_config(k, derive_seed(cfg.seed, "stage1"))
    t0 = time.perf_counter()
    memory = distill_static(real.frames_view, config=stage1, progress=False)
    distill_s = time.perf_counter() - t0
    start = distill_static(real.frames_view, config=stage1.model_copy(update={"iterations": 0}), progress=False)
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, "bench-random-frames"))
    fx, fy = train_frames
    pick = torch.cat(
        [(fy == c).nonzero().flatten()[torch.randperm(int((fy == c).sum()), generator=g)[:spc]] for c in range(k)]
    )
    rows = {
        "stage-1 statics (DM)": (memory.images, memory.labels),
        "their real init (0 iterations)": (start.images, start.labels),
        "random real frames": (fx[pick], fy[pick]),
    }
    # the stage-1 model, and the same without its instance normalization, which removes most of the colour cue
    # (the shape) from 2 images per class
    for kwargs in (image_kwargs, {**image_kwargs, "net_norm": "none"}):
        for name, pair in rows.items():
            run(f"{name} {spc}/class, single-frame eval", pair, test_frames, image_model, kwargs, args.runs, 200)
    print(f"stage 1: {cfg.static.iterations} DM iterations in {distill_s:.0f} s")


if __name__ == "__main__":
    main()
