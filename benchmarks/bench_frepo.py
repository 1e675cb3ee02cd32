"""Time of one FRePo iteration next to one DM iteration at the same size, and FRePo's loss vs a plain transcription.

Both iterations train the same static-dynamic synthetic set (``DynamicMemoryBlock``) against the same number of
real clips with the same student architecture:

* **DM** (the pipeline's DM step): a fresh frozen student, ``dm_loss`` on ``--real`` real clips (spread over
  the classes) and the whole synthetic set, backward, optimizer step;
* **FRePo** (the pipeline's FRePo step): draw a pool member, ``frepo_loss`` on ``--real`` real clips and the
  whole synthetic set (KRR), backward, Adam step, re-render, one online training step of the member;
* **plain FRePo loss**: the published ``nfr`` + criterion written out in plain PyTorch (features, kernels,
  ``torch.linalg.solve``, MSE) on the same features, next to ``frepo_loss`` (the ratio should be ~1: the
  library adds only validation).

Prints best-of-``--repeats`` wall-clock seconds and the ratios. Run with a fixed thread count, e.g.::

    OMP_NUM_THREADS=2 python benchmarks/bench_frepo.py --threads 2
    python benchmarks/bench_frepo.py --classes 50 --size 112 --frames 16 --real 512   # the published size
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from temporal_condense.dynamic_memory import DynamicMemoryBlock
from temporal_condense.losses import ModelPool, dm_loss, frepo_loss
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--vpc", type=int, default=1, help="synthetic videos per class")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--real", type=int, default=64, help="real clips per iteration (both methods)")
    parser.add_argument("--model", default="ConvNet3D")
    parser.add_argument("--width", type=int, default=32, help="student width (published 128)")
    parser.add_argument("--pool", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    k, size, t = args.classes, (args.size, args.size), args.frames
    torch.manual_seed(0)
    real = torch.rand(args.real, t, 3, *size)
    real_labels = torch.arange(args.real) % k
    static = torch.rand(k * args.vpc, 3, *size)
    synset = DynamicMemoryBlock(k, args.vpc, frames=t, size=size, static=static, static_per_class=args.vpc, seed=0)
    gen = torch.Generator().manual_seed(0)

    def student(seed: int | None = None) -> torch.nn.Module:
        return get_model(args.model, num_classes=k, size=size, frames=t, seed=seed, net_width=args.width)

    sgd = synset.optimizer(lr_dynamic=1e-4, lr_block=1e-5)
    counter = iter(range(10**9))

    def dm_step() -> None:
        net = student(next(counter))
        net.requires_grad_(False)
        videos, labels = synset(generator=gen)
        loss = dm_loss(net.embed, real, real_labels, videos, labels, k)
        sgd.zero_grad(set_to_none=True)
        loss.backward()
        sgd.step()

    pool = ModelPool(student, args.pool, lr=1e-4, seed=0)
    adam = synset.optimizer(torch.optim.Adam, momentum=None, lr_dynamic=1e-3, lr_block=1e-3)

    def frepo_step() -> None:
        pool.select()
        videos, labels = synset(generator=gen)
        loss = frepo_loss(pool.embed, real, real_labels, videos, labels, k)
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        with torch.no_grad():
            videos, labels = synset(generator=gen)
        pool.train_step(videos, labels)

    # the loss alone: ours vs the published formula in plain PyTorch, same member, same inputs
    pool.select()
    member = pool.model
    member.requires_grad_(False)
    member.eval()
    with torch.no_grad():
        videos, syn_labels = synset(generator=gen)
    videos.requires_grad_(True)
    y_t = F.one_hot(real_labels, k).float() - 1 / k
    y_s = (F.one_hot(syn_labels, k).float() - 1 / k) / (k / 10) ** 0.5

    def ours() -> None:
        frepo_loss(member.embed, real, real_labels, videos, syn_labels, k).backward()

    def plain() -> None:
        with torch.no_grad():
            f_t = member.embed(real)
        f_s = member.embed(videos)
        kss = f_s @ f_s.t()
        kts = f_t @ f_s.t()
        reg = 1e-6 * torch.trace(kss) * torch.eye(kss.shape[0]) / kss.shape[0]
        pred = kts @ torch.linalg.solve(kss + reg, y_s)
        ((pred - y_t) ** 2).sum(-1).mean(0).backward()

    t_dm = best_time(dm_step, args.repeats)
    t_frepo = best_time(frepo_step, args.repeats)
    t_ours = best_time(ours, args.repeats)
    t_plain = best_time(plain, args.repeats)
    print(
        f"size: {k} classes x {args.vpc} vpc, {t} frames {args.size}x{args.size}, {args.real} real clips, "
        f"{args.model} width {args.width}, pool {args.pool}, {torch.get_num_threads()} threads"
    )
    print(f"DM iteration     {t_dm * 1e3:9.1f} ms")
    print(f"FRePo iteration  {t_frepo * 1e3:9.1f} ms   FRePo / DM = {t_frepo / t_dm:.2f}")
    print(
        f"frepo_loss fwd+bwd {t_ours * 1e3:7.1f} ms   plain transcription {t_plain * 1e3:.1f} ms   ours / plain = "
        f"{t_ours / t_plain:.2f}"
    )


if __name__ == "__main__":
    main()
