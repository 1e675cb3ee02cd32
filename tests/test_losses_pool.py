"""Tests of the FRePo online model pool (temporal_condense.losses.pool)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses import FRePoMatching, ModelPool, centered_one_hot


class Net(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.Tanh())
        self.head = nn.Linear(6, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _params(m: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()])


def test_pool_is_seeded_and_leaves_the_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a, b = ModelPool(Net, size=3, seed=5), ModelPool(Net, size=3, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    for ma, mb in zip(a.members, b.members):
        assert torch.equal(_params(ma.model), _params(mb.model))
    assert not torch.equal(_params(a.members[0].model), _params(a.members[1].model))
    assert [a.select() for _ in range(6)] == [b.select() for _ in range(6)]
    x, y = torch.randn(4, 2, 2, 2), torch.tensor([0, 1, 2, 0])
    a.train_step(x, y)
    b.train_step(x, y)
    assert torch.equal(_params(a.model), _params(b.model))
    assert not torch.equal(_params(ModelPool(Net, size=3, seed=6).members[0].model), _params(a.members[0].model))


def test_staggered_steps_and_reset_after_max_online_updates() -> None:
    pool = ModelPool(Net, size=4, max_online_updates=8, seed=0)
    assert [m.step for m in pool.members] == [0, 2, 4, 6]
    pool.current = 3  # starts at step 6: two updates to its reset
    x, y = torch.randn(3, 2, 2, 2), torch.tensor([0, 1, 2])
    pool.train_step(x, y)
    before = _params(pool.model)
    pool.train_step(x, y)
    assert pool.resets == 1 and pool.members[3].step == 0
    assert not torch.equal(_params(pool.model), before)


def test_online_step_is_adam_on_mse_with_the_published_schedule() -> None:
    torch.manual_seed(0)
    pool = ModelPool(Net, size=1, max_online_updates=50, lr=1e-2, warmup=5, batch_size=100, seed=1)
    ref = Net()
    ref.load_state_dict(pool.model.state_dict())
    opt = torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.ChainedScheduler(
        [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=5),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50, eta_min=1e-4),
        ]
    )
    x, y = torch.randn(5, 2, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    target = centered_one_hot(y, 3) / (0.3**0.5)
    for _ in range(7):
        pool.train_step(x, y)
        opt.zero_grad()
        nn.functional.mse_loss(ref(x), target).backward()
        opt.step()
        sched.step()
    torch.testing.assert_close(_params(pool.model), _params(ref))
    assert pool.members[0].optimizer.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])


def test_batches_are_at_most_batch_size() -> None:
    seen: list[int] = []

    class Spy(Net):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.shape[0])
            return super().forward(x)

    pool = ModelPool(Spy, size=1, batch_size=4, seed=0)
    pool.train_step(torch.randn(10, 2, 2, 2), torch.arange(10) % 3, steps=2)
    pool.train_step(torch.randn(3, 2, 2, 2), torch.arange(3))
    assert seen == [4, 4, 3]


def test_embed_freezes_weights_and_the_pool_plugs_into_frepo() -> None:
    pool = ModelPool(Net, size=2, seed=0)
    pool.select()
    syn = torch.randn(3, 2, 2, 2, requires_grad=True)
    loss = FRePoMatching(pool, num_classes=3)(torch.randn(6, 2, 2, 2), syn, torch.arange(6) % 3, torch.arange(3))
    loss.backward()
    assert syn.grad is not None and all(p.grad is None for p in pool.model.parameters())
    pool.train_step(syn, torch.arange(3))  # weights trainable again
    assert all(p.grad is not None for p in pool.model.parameters())


def test_state_dict_round_trip_continues_bit_exactly() -> None:
    x, y = torch.randn(6, 2, 2, 2), torch.arange(6) % 3
    a = ModelPool(Net, size=2, max_online_updates=3, batch_size=4, seed=2)
    for _ in range(3):
        a.select()
        a.train_step(x, y)
    b = ModelPool(Net, size=2, max_online_updates=3, batch_size=4, seed=99)
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        assert a.select() == b.select()
        a.train_step(x, y)
        b.train_step(x, y)
        assert torch.equal(_params(a.model), _params(b.model))
    assert a.resets == b.resets > 0


def test_save_load_artifact_continues_bit_exactly(tmp_path: Path) -> None:
    x, y = torch.randn(6, 2, 2, 2), torch.arange(6) % 3
    a = ModelPool(Net, size=2, max_online_updates=3, batch_size=4, seed=2)
    for _ in range(4):
        a.select()
        a.train_step(x, y)
    a.save(tmp_path / "pool.safetensors")
    b = ModelPool(Net, size=2, max_online_updates=3, batch_size=4, seed=7)
    b.load(tmp_path / "pool.safetensors")
    for _ in range(4):
        assert a.select() == b.select()
        a.train_step(x, y)
        b.train_step(x, y)
        assert torch.equal(_params(a.model), _params(b.model))
    with pytest.raises(ConfigError, match=r"pool file .* must hold 3 members, got 2"):
        ModelPool(Net, size=3).load(tmp_path / "pool.safetensors")


def test_pool_errors_name_the_argument() -> None:
    with pytest.raises(ConfigError, match="size must be an integer >= 1, got 0"):
        ModelPool(Net, size=0)
    with pytest.raises(ConfigError, match="lr must be a positive finite number"):
        ModelPool(Net, lr=float("inf"))
    with pytest.raises(ConfigError, match=r"nn\.Module with an embed"):
        ModelPool(lambda: nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="state must hold 2 pool members, got 1"):
        ModelPool(Net, size=2).load_state_dict({"members": [{}]})
    with pytest.raises(ShapeError, match=r"y_syn must have shape \[3\]"):
        ModelPool(Net, size=1).train_step(torch.randn(3, 2, 2, 2), torch.arange(2))
