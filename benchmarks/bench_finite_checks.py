"""Cost of the finite checks (one reduction per tensor entering) next to the work they guard.

The checks sit where a NaN would otherwise become a wrong number: videos entering ``interpolate`` and
``SegmentedMatcher``, real clips entering a loss, evaluation data, loaded artifacts and snapshots. For each
boundary the script times (CPU, wall-clock, best of ``--repeats``) the public call as shipped and the same
call with the check switched off (``check_finite`` replaced by a no-op in that module), and prints the ratio
``checked / unchecked``. A last line compares one check with one ConvNet3D embedding of the same real batch
(what a DM step pays anyway). Sizes are the paper's clips at a small batch (16 frames, 3 channels, 112x112).

Run from the repository root (so this checkout's package is imported)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_finite_checks.py
    PYTHONPATH=. python benchmarks/bench_finite_checks.py --batch 2 --repeats 3   # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from types import ModuleType

import torch
import torch.nn.functional as F

import temporal_condense as tc
import temporal_condense.interpolator as interpolator_mod
import temporal_condense.losses as losses_mod
import temporal_condense.matcher as matcher_mod
from temporal_condense._checks import check_finite
from temporal_condense.losses import dm_loss
from temporal_condense.models import get_model


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall-clock seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@contextlib.contextmanager
def unchecked(module: ModuleType) -> Iterator[None]:
    """Replace ``module.check_finite`` by a no-op for the duration."""
    original = module.check_finite
    module.check_finite = lambda x, name: x  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.check_finite = original  # type: ignore[attr-defined]


def compare(module: ModuleType, fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """``(checked, unchecked)`` best times of ``fn``, interleaved to share the machine's noise."""
    checked, plain = [], []
    for _ in range(2):
        checked.append(best_time(fn, repeats))
        with unchecked(module):
            plain.append(best_time(fn, repeats))
    return min(checked), min(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="real clips per batch")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    b, t, s = args.batch, args.frames, args.size
    real = torch.rand(b, t, 3, s, s)
    keys = torch.rand(b, t // 4, 3, s, s)
    syn = torch.rand(b, t, 3, s, s, requires_grad=True)
    labels = torch.arange(b) % 2
    net = get_model("ConvNet3D", channels=3, num_classes=2, size=(s, s), frames=t)
    matcher = tc.SegmentedMatcher(lambda r, y: F.mse_loss(r.mean(0), y.mean(0)), segments=4)

    rows = {
        "interpolate 4 -> 16 frames": compare(interpolator_mod, lambda: tc.interpolate(keys, t), args.repeats),
        "SegmentedMatcher (K=4, MSE of means)": compare(matcher_mod, lambda: matcher(real, syn), args.repeats),
        "dm_loss, ConvNet3D embed (forward)": compare(
            losses_mod, lambda: dm_loss(net.embed, real, labels, syn, labels, 2), args.repeats
        ),
    }
    check = best_time(lambda: check_finite(real, "real"), args.repeats)
    exact = best_time(lambda: bool(torch.isfinite(real).all()), args.repeats)
    with torch.no_grad():
        embed = best_time(lambda: net.embed(real), args.repeats)
    print(f"finite checks, CPU ({torch.get_num_threads()} threads), real clips [{b}, {t}, 3, {s}, {s}]")
    print(f"{'boundary':40s} {'checked ms':>11s} {'unchecked ms':>13s} {'ratio':>7s}")
    for name, (with_check, without) in rows.items():
        print(f"{name:40s} {1e3 * with_check:11.2f} {1e3 * without:13.2f} {with_check / without:7.3f}")
    print(
        f"one check of the real batch: {1e3 * check:.2f} ms (isfinite().all(): {1e3 * exact:.2f} ms, "
        f"{exact / check:.1f}x); check / ConvNet3D embed of the batch: {check / embed:.4f}"
    )


if __name__ == "__main__":
    main()
