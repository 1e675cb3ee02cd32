"""Tests of the trajectory-matching loss (temporal_condense/mtt/matching.py).

The central check: the ``"checkpointed"`` mode (adjoint walk with Hessian-vector products, random draws
replayed) gives the same float64 gradients as the ``"unrolled"`` mode, which itself equals a plain
hand-written MTT unroll. The synthetic set is the library's ``DynamicMemoryBlock`` and the student a small
``ConvNet3D`` when those exist; otherwise small stand-ins with the same interface (noted in the report).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.mtt.matching import (
    TrajectoryMatcher,
    TrajectoryMatchingConfig,
    clamp_after_step,
    make_syn_lr,
    trajectory_matching_loss,
)
from temporal_condense.mtt.student import FlatStudent

# ---------------------------------------------------------------------------------------- stand-ins


class StandInDynamicMemoryBlock(nn.Module):
    """Interface-1 stand-in: statics x dynamics -> Conv3d(4->3) block, random pairing from ``generator``."""

    def __init__(
        self, num_classes: int, videos_per_class: int, frames: int, size: tuple[int, int], train_static: bool
    ) -> None:
        super().__init__()
        h, w = size
        self.num_classes, self.videos_per_class, self.frames = num_classes, videos_per_class, frames
        self.static = nn.Parameter(torch.randn(num_classes * 2, 3, h, w), requires_grad=train_static)
        self.dynamic = nn.Parameter(torch.randn(num_classes, 2, frames, 1, h, w))
        self.block = nn.Conv3d(4, 3, 3, padding=1)
        self.hooks: list = []

    def __len__(self) -> int:
        return self.num_classes * self.videos_per_class

    def register_render_hook(self, fn) -> None:  # type: ignore[no-untyped-def]
        self.hooks.append(fn)

    def forward(self, indices=None, generator=None):  # type: ignore[no-untyped-def]
        idx = torch.arange(len(self)) if indices is None else torch.as_tensor(indices, dtype=torch.int64)
        cls = idx // self.videos_per_class
        s = torch.randint(0, 2, (len(idx),), generator=generator)
        d = torch.randint(0, 2, (len(idx),), generator=generator)
        static = self.static[cls * 2 + s]  # [B, 3, H, W]
        dyn = self.dynamic[cls, d]  # [B, T, 1, H, W]
        static_t = static.unsqueeze(1).expand(-1, self.frames, -1, -1, -1)
        x = torch.cat([static_t, dyn], dim=2).permute(0, 2, 1, 3, 4)  # [B, 4, T, H, W]
        videos = self.block(x).permute(0, 2, 1, 3, 4).contiguous()
        labels = cls
        for fn in self.hooks:
            videos, labels = fn(videos, labels)
        return videos, labels


class StandInConvNet3D(nn.Module):
    """Small ConvNet3D-like student: Conv3d (3,7,7)/(1,2,2) -> ReLU -> MaxPool3d -> dropout -> Linear."""

    def __init__(self, channels: int, num_classes: int, size: tuple[int, int], frames: int, width: int = 4):
        super().__init__()
        self.conv = nn.Conv3d(channels, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3))
        self.pool = nn.MaxPool3d(2, 2)
        self.drop = nn.Dropout(0.5)
        t, h, w = frames // 2, (size[0] + 1) // 2 // 2, (size[1] + 1) // 2 // 2
        self.fc = nn.Linear(width * t * h * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, T, C, H, W]
        z = self.pool(F.relu(self.conv(x.permute(0, 2, 1, 3, 4))))
        return self.fc(self.drop(z.flatten(1)))


def plain_standin_forward(theta: torch.Tensor, x: torch.Tensor, width: int, ncls: int) -> torch.Tensor:
    """The stand-in ConvNet3D written by hand on a flat vector (ReparamModule order: conv.w, conv.b, fc.w, fc.b)."""
    c = x.shape[2]
    shapes = [(width, c, 3, 7, 7), (width,), None, (ncls,)]
    n0 = math.prod(shapes[0])  # type: ignore[arg-type]
    feat = (theta.numel() - n0 - width - ncls) // ncls
    shapes[2] = (ncls, feat)
    parts = theta.split([math.prod(s) for s in shapes])  # type: ignore[arg-type]
    cw, cb, fw, fb = (p.view(s) for p, s in zip(parts, shapes))  # type: ignore[arg-type]
    z = F.conv3d(x.permute(0, 2, 1, 3, 4), cw, cb, stride=(1, 2, 2), padding=(1, 3, 3))
    z = F.max_pool3d(F.relu(z), 2, 2)
    z = F.dropout(z.flatten(1), 0.5, training=True)
    return F.linear(z, fw, fb)


def make_synset(train_static: bool, *, num_classes: int = 2, vpc: int = 2, frames: int = 4, size=(8, 8)):
    torch.manual_seed(1)
    synset = StandInDynamicMemoryBlock(num_classes, vpc, frames, size, train_static).double()

    def augment(videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # draws from torch's global RNG, like kornia augmentation: scale and flip
        scale = 1.0 + 0.1 * torch.rand(videos.shape[0], 1, 1, 1, 1, dtype=videos.dtype)
        flip = torch.rand(()) < 0.5
        out = videos * scale
        return (out.flip(-1) if flip else out), labels

    synset.register_render_hook(augment)
    return synset


def make_library_synset(train_static: bool):
    """The library's DynamicMemoryBlock at tiny size, if present (else None)."""
    try:
        from temporal_condense.synthetic import DynamicMemoryBlock  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - the module is written in parallel
        try:
            from temporal_condense.dynamic_memory import DynamicMemoryBlock  # type: ignore[no-redef]
        except Exception:
            return None
    try:
        synset = DynamicMemoryBlock(
            num_classes=2, videos_per_class=2, frames=4, size=(16, 16), static="noise", train_static=train_static,
            seed=1,
        )
    except Exception:  # pragma: no cover
        return None
    return synset.double()


def make_student(frames: int, size, num_classes: int = 2) -> tuple[FlatStudent, torch.Tensor]:
    torch.manual_seed(0)
    net = StandInConvNet3D(3, num_classes, size, frames).double()
    student = FlatStudent(net).train()
    return student, student.flatten()


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def grads_of(loss_fn, tensors):  # type: ignore[no-untyped-def]
    for t in tensors:
        t.grad = None
    loss = loss_fn()
    loss.backward()
    return loss.detach(), [t.grad.detach().clone() for t in tensors]


# ------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("train_static", [False, True])
def test_checkpointed_gradient_equals_unrolled(train_static: bool) -> None:
    synset = make_synset(train_static)
    student, theta0 = make_student(4, (8, 8))
    target = theta0 + 0.05 * torch.randn(theta0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    syn_lr = make_syn_lr(0.05, dtype=torch.float64)
    trainable = [p for p in synset.parameters() if p.requires_grad] + [syn_lr]
    assert any(p is synset.static for p in trainable) == train_static

    def run(mode: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(7)
        return trajectory_matching_loss(
            student, synset, theta0, target, syn_lr, syn_steps=6, batch_syn=3, mode=mode, generator=gen
        )

    loss_u, g_u = grads_of(lambda: run("unrolled"), trainable)
    loss_c, g_c = grads_of(lambda: run("checkpointed"), trainable)
    assert rel_err(loss_c, loss_u) < 1e-12
    for gu, gc in zip(g_u, g_c):
        assert gu.abs().sum() > 0
        assert rel_err(gc, gu) < 1e-8


@pytest.mark.parametrize("train_static", [False, True])
def test_checkpointed_equals_unrolled_library_dynamic_memory_block_convnet3d(train_static: bool) -> None:
    """Library DynamicMemoryBlock + library ConvNet3D (dropout on, narrow, depth 2 at its minimum size)."""
    synset = make_library_synset(train_static=train_static)
    if synset is None:
        pytest.skip("temporal_condense DynamicMemoryBlock not available yet")
    try:
        from temporal_condense.models import get_model
    except Exception:
        pytest.skip("temporal_condense.models.get_model not available yet")
    net = get_model("ConvNet3D", channels=3, num_classes=2, size=(16, 16), frames=4, seed=0, net_width=4, net_depth=2)
    student = FlatStudent(net, dtype=torch.float64).train()
    theta0 = student.flatten()
    target = theta0 + 0.05 * torch.randn(theta0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    syn_lr = make_syn_lr(0.05, dtype=torch.float64)
    named = {n: p for n, p in synset.named_parameters() if p.requires_grad}
    assert ("static" in named) == train_static and "dynamic" in named and any(n.startswith("block") for n in named)
    trainable = [*named.values(), syn_lr]

    def run(mode: str) -> torch.Tensor:
        return trajectory_matching_loss(
            student, synset, theta0, target, syn_lr, syn_steps=6, batch_syn=1, mode=mode,
            generator=torch.Generator().manual_seed(7),
        )  # fmt: skip

    loss_u, g_u = grads_of(lambda: run("unrolled"), trainable)
    loss_c, g_c = grads_of(lambda: run("checkpointed"), trainable)
    assert rel_err(loss_c, loss_u) < 1e-12
    for gu, gc in zip(g_u, g_c):
        assert gu.abs().sum() > 0
        assert rel_err(gc, gu) < 1e-8


def test_unrolled_equals_plain_handwritten_mtt_loop() -> None:
    """Our "unrolled" mode against the codebase's loop written by hand (same documented RNG protocol)."""
    synset = make_synset(train_static=False)
    student, theta0 = make_student(4, (8, 8))
    target = theta0 + 0.05
    syn_lr = make_syn_lr(0.05, dtype=torch.float64)
    trainable = [p for p in synset.parameters() if p.requires_grad] + [syn_lr]
    syn_steps, batch_syn = 6, 3

    def plain() -> torch.Tensor:
        gen = torch.Generator().manual_seed(11)
        student_params = [theta0.clone().requires_grad_(True)]
        indices_chunks: list[torch.Tensor] = []
        for _ in range(syn_steps):
            if not indices_chunks:
                indices = torch.randperm(len(synset), generator=gen)
                indices_chunks = list(torch.split(indices, batch_syn))
            these_indices = indices_chunks.pop()
            seed = int(torch.randint(0, 2**62, (1,), generator=gen))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                x, this_y = synset(these_indices, generator=torch.Generator().manual_seed(seed))
                out = plain_standin_forward(student_params[-1], x, 4, 2)
                ce_loss = F.cross_entropy(out, this_y)
            grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]
            student_params.append(student_params[-1] - syn_lr * grad)
        num_params = theta0.numel()
        param_loss = F.mse_loss(student_params[-1], target, reduction="sum") / num_params
        param_dist = F.mse_loss(theta0, target, reduction="sum") / num_params
        return param_loss / param_dist

    def ours() -> torch.Tensor:
        gen = torch.Generator().manual_seed(11)
        return trajectory_matching_loss(
            student, synset, theta0, target, syn_lr, syn_steps=syn_steps, batch_syn=batch_syn, generator=gen
        )

    loss_p, g_p = grads_of(plain, trainable)
    loss_o, g_o = grads_of(ours, trainable)
    assert rel_err(loss_o, loss_p) < 1e-13
    for gp, go in zip(g_p, g_o):
        assert rel_err(go, gp) < 1e-12


def _tiny_problem() -> tuple[FlatStudent, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(8, 3), nn.Tanh(), nn.Dropout(0.3), nn.Linear(3, 2)).double()
    student = FlatStudent(net).train()
    theta0 = student.flatten()
    target = theta0 + 0.3
    labels = torch.tensor([0, 1, 0, 1, 1])
    return student, theta0, target, labels


@pytest.mark.parametrize("mode", ["unrolled", "checkpointed"])
def test_gradcheck_float64(mode: str) -> None:
    student, theta0, target, labels = _tiny_problem()
    videos = torch.randn(5, 2, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    syn_lr = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    # fast_mode: one random projection of the Jacobian (keeps the test cheap); syn_steps 3 with batch 2

    def fn(v: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        return trajectory_matching_loss(
            student, (v, labels), theta0, target, lr, syn_steps=3, batch_syn=2, mode=mode,
            generator=torch.Generator().manual_seed(0),
        )  # fmt: skip

    assert torch.autograd.gradcheck(fn, (videos, syn_lr), eps=1e-6, atol=1e-7, fast_mode=True)


def test_seeded_determinism_and_global_rng_untouched() -> None:
    student, theta0, target, labels = _tiny_problem()
    videos = torch.randn(5, 2, 1, 2, 2, dtype=torch.float64)

    def run(seed: int) -> torch.Tensor:
        return trajectory_matching_loss(
            student, (videos, labels), theta0, target, 0.1, syn_steps=5, batch_syn=2, mode="checkpointed",
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip

    torch.manual_seed(123)
    a = run(0)
    after = torch.rand(3)
    torch.manual_seed(123)
    b = run(0)
    assert torch.equal(torch.rand(3), after)  # the steps ran under fork_rng: global stream unchanged
    assert torch.equal(a, b)
    assert not torch.equal(a, run(1))


def test_loss_value_is_normalized_parameter_distance() -> None:
    student, theta0, target, labels = _tiny_problem()
    videos = torch.randn(5, 2, 1, 2, 2, dtype=torch.float64)
    # syn_lr = 0: the student does not move, the loss is exactly 1
    for mode in ("unrolled", "checkpointed"):
        loss = trajectory_matching_loss(student, (videos, labels), theta0, target, 0.0, syn_steps=2, mode=mode)
        assert float(loss.detach()) == pytest.approx(1.0, abs=1e-15)


def test_expert_snapshot_lists_accepted() -> None:
    student, theta0, target, labels = _tiny_problem()
    videos = torch.randn(5, 2, 1, 2, 2, dtype=torch.float64)
    snapshot = list(student.unflatten(theta0).values())
    target_list = list(student.unflatten(target).values())
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = trajectory_matching_loss(student, (videos, labels), snapshot, target_list, 0.1, syn_steps=2, generator=gen())
    b = trajectory_matching_loss(student, (videos, labels), theta0, target, 0.1, syn_steps=2, generator=gen())
    assert torch.equal(a, b)


def test_no_grad_inputs_give_plain_tensor() -> None:
    student, theta0, target, labels = _tiny_problem()
    videos = torch.randn(5, 2, 1, 2, 2, dtype=torch.float64)
    loss = trajectory_matching_loss(student, (videos, labels), theta0, target, 0.1, syn_steps=2, mode="checkpointed")
    assert loss.shape == () and not loss.requires_grad


def test_clamp_after_step_and_make_syn_lr() -> None:
    lr = make_syn_lr(0.01)
    assert lr.shape == () and lr.requires_grad and lr.is_leaf
    opt = torch.optim.SGD([lr], lr=1.0)
    handle = clamp_after_step(opt, lr, min=1e-3, max=0.5)
    lr.grad = torch.tensor(1.0)
    opt.step()
    assert lr.item() == pytest.approx(1e-3)
    lr.grad = torch.tensor(-10.0)
    opt.step()
    assert lr.item() == pytest.approx(0.5)
    handle.remove()
    lr.grad = torch.tensor(-10.0)
    opt.step()
    assert lr.item() == pytest.approx(10.5)


def test_config_is_frozen_pydantic() -> None:
    cfg = TrajectoryMatchingConfig(syn_steps=3)
    assert cfg.mode == "unrolled" and cfg.batch_syn is None
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        cfg.syn_steps = 4  # type: ignore[misc]


def test_errors_name_argument_expected_and_actual() -> None:
    student, theta0, target, labels = _tiny_problem()
    videos = torch.randn(5, 2, 1, 2, 2, dtype=torch.float64)
    syn = (videos, labels)
    with pytest.raises(ConfigError, match=r"mode.*'unrolled'.*'checkpointed'.*'fast'"):
        TrajectoryMatcher(student, syn, syn_steps=2, mode="fast")
    with pytest.raises(ConfigError, match=r"syn_steps.*greater than or equal to 1.*0"):
        TrajectoryMatcher(student, syn, syn_steps=0)
    with pytest.raises(ConfigError, match=r"batch_syn.*-1"):
        TrajectoryMatcher(student, syn, syn_steps=1, batch_syn=-1)
    with pytest.raises(ConfigError, match=r"synset must be .* got int"):
        TrajectoryMatcher(student, 3, syn_steps=1)
    with pytest.raises(ShapeError, match=r"synset labels must have 5 rows.*got 4"):
        TrajectoryMatcher(student, (videos, labels[:4]), syn_steps=1)
    matcher = TrajectoryMatcher(student, syn, syn_steps=1)
    with pytest.raises(
        ShapeError, match=rf"start_params must be a flat vector of shape \({theta0.numel()},\), got shape \(3,\)"
    ):
        matcher(torch.zeros(3, dtype=torch.float64), target, 0.1)
    with pytest.raises(ShapeError, match=r"target_params.*must hold 4 tensors.*got 1"):
        matcher(theta0, [target], 0.1)
    with pytest.raises(ShapeError, match=r"syn_lr must be a floating tensor with one element, got shape \(2,\)"):
        matcher(theta0, target, torch.ones(2))
    with pytest.raises(ConfigError, match=r"syn_lr must be a tensor or a number, got str"):
        matcher(theta0, target, "0.1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"value must be a positive number, got -1"):
        make_syn_lr(-1)
    opt = torch.optim.SGD([make_syn_lr()], lr=1.0)
    with pytest.raises(ConfigError, match=r"min must be <= max, got min=2.0, max=1.0"):
        clamp_after_step(opt, make_syn_lr(), min=2.0, max=1.0)
    assert issubclass(ConfigError, TemporalCondenseError)
