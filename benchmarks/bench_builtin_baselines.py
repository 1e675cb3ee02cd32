"""Baselines on the built-in dataset (MovingShapes, default settings), through ``temporal_condense.evaluate``.

Measures and prints:

* full-data training (ConvNet3D on all training clips): the upper bound of any distilled set;
* random real subsets at 1 and 5 videos per class (ConvNet3D): the lower baseline of the papers;
* a single-frame classifier (the image ``ConvNet`` trained on one random frame per clip, re-drawn every pass,
  and tested on ONE random frame per test clip) against the full-clip classifier (ConvNet3D on whole clips),
  overall and on the motion part (accuracy of choosing the motion among the classes of the clip's own shape;
  chance = 1 / num_motions);
* evaluation time per run on this CPU.

Run:  python benchmarks/bench_builtin_baselines.py            (a few minutes on an idle 2-core CPU)
      python benchmarks/bench_builtin_baselines.py --quick    (smoke run, seconds)
Options set epochs, runs, batch size and learning rate; ``--json PATH`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import torch

from temporal_condense.data import MovingShapes
from temporal_condense.evaluate import EvalResult, evaluate, random_real_subset, within_group_accuracy


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[EvalResult, float]:
    """Run ``evaluate`` and return its result with the CPU time (all threads) it used."""
    cpu = time.process_time()
    res = fn(*args, **kwargs)
    return res, time.process_time() - cpu


def _row(label: str, res: EvalResult, motions: int, cpu_seconds: float) -> dict[str, Any]:
    motion = res.metrics["motion"]
    out = {
        "setting": label,
        "model": res.model,
        "train_samples": res.num_train,
        "epochs": res.epochs,
        "runs": res.runs,
        "top1_mean": round(res.mean, 2),
        "top1_std": round(res.std, 2),
        "motion_mean": round(sum(motion) / len(motion), 2),
        "motion_chance": round(100.0 / motions, 2),
        "train_top1_last": round(sum(res.train_top1) / res.runs, 2),
        "seconds_per_run": round(res.time_per_run, 1),
        "cpu_seconds_per_run": round(cpu_seconds / res.runs, 1),
    }
    print(
        f"{label:<34} {res.model:<10} n={res.num_train:<4} ep={res.epochs:<3} runs={res.runs}  "
        f"top-1 {res.mean:6.2f} ± {res.std:5.2f} %   motion {out['motion_mean']:6.2f} % "
        f"(chance {out['motion_chance']:.0f})   {res.time_per_run:7.1f} s/run "
        f"({out['cpu_seconds_per_run']:.1f} CPU-s/run)",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-epochs", type=int, default=8, help="ConvNet3D on all training clips")
    parser.add_argument("--subset-epochs", type=int, default=50, help="ConvNet3D on random real subsets")
    parser.add_argument("--frame-epochs", type=int, default=8, help="image ConvNet on single frames")
    parser.add_argument("--runs", type=int, default=2, help="runs of the subset baselines")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (1 epoch, 1 run)")
    parser.add_argument("--json", type=str, default=None, help="also write the results to this file")
    args = parser.parse_args()
    if args.quick:
        args.full_epochs = args.subset_epochs = args.frame_epochs = args.runs = 1

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    start = time.perf_counter()
    train = MovingShapes("train")
    test = MovingShapes("test")
    print(f"{train!r}\n{test!r}\ngenerated in {time.perf_counter() - start:.1f} s", flush=True)
    videos, labels = train.tensors()
    test_pair = test.tensors()
    motions = train.num_motions
    common = {
        "protocol": "published",
        "lr": args.lr,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "progress": False,
        "metrics": {"motion": lambda lo, la: 100.0 * within_group_accuracy(lo, la, motions)},
    }
    rows = []

    for per_class in (1, 5):
        subset = random_real_subset((videos, labels), per_class=per_class, seed=args.seed)
        res, cpu = _timed(evaluate, subset, test_pair, "ConvNet3D", runs=args.runs, epochs=args.subset_epochs, **common)
        rows.append(_row(f"random real, {per_class} video(s)/class", res, motions, cpu))

    res, cpu = _timed(
        evaluate, train.single_frame(), test.single_frame(), "ConvNet", runs=1, epochs=args.frame_epochs, **common
    )
    rows.append(_row("single-frame (1 random test frame)", res, motions, cpu))

    res, cpu = _timed(evaluate, (videos, labels), test_pair, "ConvNet3D", runs=1, epochs=args.full_epochs, **common)
    rows.append(_row("full data (full clip)", res, motions, cpu))

    total = time.perf_counter() - start
    print(f"total {total:.0f} s, load average at end {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
