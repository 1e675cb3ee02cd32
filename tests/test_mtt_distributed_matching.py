"""Multi-process trajectory matching: each rank matches its own expert window, outer gradients averaged.

Two gloo processes (``torch.multiprocessing.spawn``, ``file://`` rendezvous in a temporary folder) must give
the same synthetic-set and ``syn_lr`` gradients as one process averaging the gradients of the same two
windows.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from temporal_condense.mtt.matching import make_syn_lr, trajectory_matching_loss
from temporal_condense.mtt.student import FlatStudent

WORLD = 2


def _all_reduce_grads(params: list[torch.Tensor]) -> None:
    try:
        from temporal_condense.mtt.distributed import all_reduce_grads
    except ImportError:  # stand-in until the distributed module exists
        for p in params:
            assert p.grad is not None
            dist.all_reduce(p.grad)
            p.grad.div_(dist.get_world_size())
        return
    all_reduce_grads(params)


def _setup() -> tuple[nn.Module, FlatStudent, list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Same synthetic set, student and expert windows in every process (all seeded)."""
    try:
        from temporal_condense.dynamic_memory import DynamicMemoryBlock

        synset: nn.Module = DynamicMemoryBlock(
            num_classes=2, videos_per_class=2, frames=4, size=(4, 4), static="noise", train_static=True, seed=0
        ).double()
    except ImportError:  # pragma: no cover - stand-in until interface 1 exists
        pytest.skip("DynamicMemoryBlock not available")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4 * 3 * 16, 6), nn.Tanh(), nn.Dropout(0.2), nn.Linear(6, 2))
    student = FlatStudent(net, dtype=torch.float64).train()
    theta = student.flatten()
    gen = torch.Generator().manual_seed(1)
    windows = []
    for _ in range(WORLD):
        start = theta + 0.1 * torch.randn(theta.shape, generator=gen, dtype=torch.float64)
        windows.append((start, start + 0.05 * torch.randn(theta.shape, generator=gen, dtype=torch.float64)))
    syn_lr = make_syn_lr(0.05, dtype=torch.float64)
    return synset, student, windows, syn_lr


def _grads_for_window(rank: int, synset: nn.Module, student: FlatStudent, windows, syn_lr) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    params = [p for p in synset.parameters() if p.requires_grad] + [syn_lr]
    for p in params:
        p.grad = None
    start, target = windows[rank]
    loss = trajectory_matching_loss(
        student, synset, start, target, syn_lr, syn_steps=4, batch_syn=2, mode="checkpointed",
        generator=torch.Generator().manual_seed(100 + rank),
    )  # fmt: skip
    loss.backward()
    return params


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD, timeout=timedelta(seconds=60)
    )
    try:
        synset, student, windows, syn_lr = _setup()
        params = _grads_for_window(rank, synset, student, windows, syn_lr)
        _all_reduce_grads(params)
        torch.save([p.grad for p in params], os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_equals_single_process_average(tmp_path) -> None:  # type: ignore[no-untyped-def]
    init_file = str(tmp_path / "rendezvous")
    mp.spawn(_worker, args=(init_file, str(tmp_path)), nprocs=WORLD, join=True)

    synset, student, windows, syn_lr = _setup()
    per_window = []
    for rank in range(WORLD):
        params = _grads_for_window(rank, synset, student, windows, syn_lr)
        per_window.append([p.grad.clone() for p in params])  # type: ignore[union-attr]
    expected = [torch.stack(gs).mean(0) for gs in zip(*per_window)]
    assert not torch.allclose(per_window[0][-1], per_window[1][-1])  # the windows really differ

    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert torch.allclose(g, e, rtol=1e-12, atol=1e-15)
