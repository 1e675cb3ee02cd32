"""Rendering cost of a DynamicMemoryBlock batch next to one forward+backward of the ConvNet3D student.

Published size: 50 classes, 1 and 5 videos per class, 16 frames, 112x112, ConvNet3D (width 128, depth 3).
For each batch the script prints (CPU, wall-clock, best of ``--repeats``):

* ``render fwd``: ``synset(indices, generator)`` with autograd on (what a distillation step pays first);
* ``render fwd+bwd``: the same plus the backward into the dynamic memory and the block;
* ``published fwd+bwd``: the published formula (repeat, permute, concat, ``Conv3d``) in plain PyTorch with
  the same weights, timed on ``--published-batch`` videos and scaled to the batch (it is slow on CPU);
* ``student fwd+bwd``: ConvNet3D forward, cross-entropy and backward on the rendered batch, run in chunks of
  ``--student-chunk`` videos (a 250-video batch does not fit a small machine's memory at once) and summed;
* the ratios ``render / student`` (target < 5 %) and ``ours / published``.

Run::

    python benchmarks/bench_render.py                       # 50 classes, vpc 1 and 5
    python benchmarks/bench_render.py --vpc 1 --repeats 2   # quicker
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from temporal_condense.dynamic_memory import DynamicMemoryBlock


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall-clock seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def student(num_classes: int, size: tuple[int, int], frames: int) -> tuple[nn.Module, str]:
    """The benchmark's ConvNet3D (or a plain stand-in of the same shape if the models package is missing)."""
    try:
        from temporal_condense.models import get_model

        return get_model("ConvNet3D", channels=3, num_classes=num_classes, size=size, frames=frames, seed=0), (
            "temporal_condense.models ConvNet3D"
        )
    except ImportError:  # pragma: no cover - fallback while the models package is being written
        layers: list[nn.Module] = []
        cin = 3
        for d in range(3):
            cout = 64 if d == 0 else 128
            layers += [nn.Conv3d(cin, cout, (3, 7, 7), (1, 2, 2), (1, 3, 3)), nn.ReLU()]
            layers.append(nn.MaxPool3d((1, 2, 2)) if d == 0 else nn.MaxPool3d(2))
            cin = cout
        net = nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(cin, num_classes))

        class Wrap(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.net(x.permute(0, 2, 1, 3, 4))

        return Wrap(), "local plain Conv3d stack (stand-in)"


def published_render(synset: DynamicMemoryBlock, indices: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The published formula with the set's weights (repeat, permute, concat, Conv3d)."""
    static_index, dynamic_index = synset.pair(indices, gen)
    label = indices // synset.videos_per_class
    static = synset.static[static_index]
    dynamic = synset.dynamic[label, dynamic_index]
    f = dynamic.shape[1]
    static = static.repeat(f, 1, 1, 1, 1).permute(1, 2, 0, 3, 4)
    x = torch.cat([static, dynamic.permute(0, 2, 1, 3, 4)], dim=1)
    conv = synset.block.encoder  # type: ignore[union-attr]
    return F.conv3d(x, conv.weight, conv.bias, padding=1).permute(0, 2, 1, 3, 4)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    size = (args.size, args.size)
    net, net_name = student(args.classes, size, args.frames)
    net.train()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; student: {net_name}")
    header = (
        f"{'batch':>6} {'render fwd':>11} {'render f+b':>11} {'published f+b':>14} "
        f"{'student f+b':>12} {'render/student':>15} {'ours/published':>15}"
    )
    print(header)
    for vpc in args.vpc:
        bench_one(args, net, vpc)


def bench_one(args: argparse.Namespace, net: nn.Module, vpc: int) -> None:
    """Time one batch size (``classes * vpc`` videos) and print one row."""
    size = (args.size, args.size)
    synset = DynamicMemoryBlock(args.classes, vpc, args.frames, size, static="noise", seed=0)
    n = len(synset)
    indices = torch.arange(n)

    def render_fwd() -> None:
        synset(indices, torch.Generator().manual_seed(0))

    def render_fwd_bwd() -> None:
        synset.zero_grad(set_to_none=True)
        videos, _ = synset(indices, torch.Generator().manual_seed(0))
        videos.backward(torch.ones_like(videos))

    sub = indices[: min(n, args.published_batch)]

    def published_fwd_bwd() -> None:
        synset.zero_grad(set_to_none=True)
        videos = published_render(synset, sub, torch.Generator().manual_seed(0))
        videos.backward(torch.ones_like(videos))

    t_fwd = best_time(render_fwd, args.repeats)
    t_fb = best_time(render_fwd_bwd, args.repeats)
    t_pub = best_time(published_fwd_bwd, max(1, args.repeats - 1)) * n / sub.numel()

    videos, labels = synset.export(torch.Generator().manual_seed(0))

    def student_fwd_bwd() -> None:
        net.zero_grad(set_to_none=True)
        for chunk in range(0, n, args.student_chunk):
            x = videos[chunk : chunk + args.student_chunk]
            y = labels[chunk : chunk + args.student_chunk]
            F.cross_entropy(net(x), y, reduction="sum").backward()

    t_student = best_time(student_fwd_bwd, args.student_repeats)
    print(
        f"{n:>6} {t_fwd:>10.3f}s {t_fb:>10.3f}s {t_pub:>13.3f}s {t_student:>11.3f}s "
        f"{100 * t_fb / t_student:>14.2f}% {t_fb / t_pub:>15.3f}",
        flush=True,
    )
    print(f"       (render fwd only: {100 * t_fwd / t_student:.2f}% of the student's forward+backward)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--vpc", type=int, nargs="+", default=[1, 5], help="videos per class")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of the render (best is kept)")
    parser.add_argument("--student-repeats", type=int, default=1, help="timed repeats of the student")
    parser.add_argument("--student-chunk", type=int, default=25, help="videos per student forward+backward")
    parser.add_argument("--published-batch", type=int, default=10, help="videos for the published formula")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    run(parser.parse_args())


if __name__ == "__main__":
    main()
