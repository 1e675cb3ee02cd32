"""Benchmark: one MTT iteration (inner unroll + backward) — plain loop vs our "unrolled" vs "checkpointed".

Configuration (issue 4): 10 classes, 1 video per class, 16 frames, 48x48, ConvNet3D (width 128, depth 3,
dropout on), a DynamicMemoryBlock synthetic set, full-batch inner steps, torch on 2 CPU threads,
syn_steps 5, 10 and 20. Every (implementation, syn_steps) runs in a fresh subprocess, which reports its time
per iteration (after a warm-up iteration) and its peak RSS (``ru_maxrss``), so the peaks do not mix.

    python benchmarks/bench_mtt.py                 # full table (several minutes)
    python benchmarks/bench_mtt.py --steps 5 --iters 1

(a) ``plain``: the MTT loop written by hand (flat vector split into views, ``torch.func.functional_call``,
    ``autograd.grad(create_graph=True)``, global RNG), rendering minibatches from the same synthetic set.
(b) ``unrolled``: ``trajectory_matching_loss(mode="unrolled")``.
(c) ``checkpointed``: ``trajectory_matching_loss(mode="checkpointed")``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

IMPLS = ("plain", "unrolled", "checkpointed")


def child(impl: str, syn_steps: int, iters: int, warmup: int, threads: int) -> dict[str, float]:
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call

    from temporal_condense.dynamic_memory import DynamicMemoryBlock
    from temporal_condense.models import get_model
    from temporal_condense.mtt.matching import make_syn_lr, trajectory_matching_loss
    from temporal_condense.mtt.student import FlatStudent

    torch.set_num_threads(threads)
    num_classes, frames, size = 10, 16, (48, 48)
    synset = DynamicMemoryBlock(num_classes, 1, frames, size, static="noise", seed=0)
    net = get_model("ConvNet3D", channels=3, num_classes=num_classes, size=size, frames=frames, seed=0)
    net.train()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    numels = [p.numel() for _, p in net.named_parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    target = theta0 + 0.01 * torch.randn(theta0.shape, generator=torch.Generator().manual_seed(1))
    syn_lr = make_syn_lr(0.01)
    student = FlatStudent(net).train()
    params = [p for p in synset.parameters() if p.requires_grad] + [syn_lr]

    def plain() -> torch.Tensor:
        student_params = [theta0.clone().requires_grad_(True)]
        indices_chunks: list[torch.Tensor] = []
        for _ in range(syn_steps):
            if not indices_chunks:
                indices_chunks = list(torch.split(torch.randperm(len(synset)), len(synset)))
            these_indices = indices_chunks.pop()
            x, this_y = synset(these_indices)
            views = {n: t.view(s) for n, t, s in zip(names, student_params[-1].split(numels), shapes)}
            out = functional_call(net, views, (x,))
            ce_loss = F.cross_entropy(out, this_y)
            grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]
            student_params.append(student_params[-1] - syn_lr * grad)
        param_loss = F.mse_loss(student_params[-1], target, reduction="sum")
        return param_loss / F.mse_loss(theta0, target, reduction="sum")

    def ours() -> torch.Tensor:
        return trajectory_matching_loss(student, synset, theta0, target, syn_lr, syn_steps=syn_steps, mode=impl)

    fn = plain if impl == "plain" else ours
    times, cpu_times = [], []
    for _ in range(warmup + iters):
        for p in params:
            p.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        loss = fn()
        loss.backward()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        del loss
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "time_s": sum(times[warmup:]) / iters,
        "cpu_s": sum(cpu_times[warmup:]) / iters,
        "peak_mib": peak_kib / 1024.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    parser.add_argument("--iters", type=int, default=1, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time", choices=("time_s", "cpu_s"), default="time_s", help="wall or CPU time in the table")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child[0], int(args.child[1]), args.iters, args.warmup, args.threads)
        print(json.dumps(result))
        return

    results: dict[tuple[str, int], dict[str, float]] = {}
    for steps in args.steps:
        for impl in args.impls:
            cmd = [sys.executable, __file__, "--child", impl, str(steps), "--iters", str(args.iters)]
            cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            results[(impl, steps)] = json.loads(out.strip().splitlines()[-1])
            r = results[(impl, steps)]
            line = f"# {impl:>12} syn_steps={steps:<3} {r['time_s']:7.2f} s/it wall {r['cpu_s']:7.2f} s/it CPU"
            print(f"{line} {r['peak_mib']:8.0f} MiB peak RSS", flush=True)

    print()
    header = "| syn_steps | plain s/it | plain MiB | unrolled s/it | unrolled MiB | checkpointed s/it "
    header += "| checkpointed MiB | unrolled/plain time, mem | checkpointed/unrolled time, mem |"
    print(f"time = {args.time} per iteration (wall or process CPU); memory = peak RSS of the process")
    print(header)
    print("|" + "---|" * 9)
    for steps in args.steps:
        p = results.get(("plain", steps))
        u = results.get(("unrolled", steps))
        c = results.get(("checkpointed", steps))

        def cell(r: dict[str, float] | None, key: str, fmt: str) -> str:
            key = args.time if key == "time_s" else key
            return format(r[key], fmt) if r else "-"

        def ratio(a: dict[str, float] | None, b: dict[str, float] | None) -> str:
            if not a or not b:
                return "-"
            t = args.time
            return f"{a[t] / b[t]:.2f}x, {a['peak_mib'] / b['peak_mib']:.2f}x"

        print(
            f"| {steps} | {cell(p, 'time_s', '.2f')} | {cell(p, 'peak_mib', '.0f')} | {cell(u, 'time_s', '.2f')} "
            f"| {cell(u, 'peak_mib', '.0f')} | {cell(c, 'time_s', '.2f')} | {cell(c, 'peak_mib', '.0f')} "
            f"| {ratio(u, p)} | {ratio(c, u)} |"
        )


if __name__ == "__main__":
    main()
