"""Tests of the flat-parameter functional student (temporal_condense/mtt/student.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.mtt.student import FlatStudent, flatten_params


class Tied(nn.Module):
    """A module with a shared (tied) parameter, a BatchNorm buffer and dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight  # tied
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.b(torch.relu(self.bn(self.a(x))))))


def reparam_order(module: nn.Module) -> torch.Tensor:
    """The flat vector as ReparamModule builds it: named_modules() x named_parameters(recurse=False), dedup."""
    seen: set[int] = set()
    parts = []
    for _, m in module.named_modules():
        for _, p in m.named_parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                parts.append(p.detach().reshape(-1))
    return torch.cat(parts)


def test_flat_order_matches_reparam_module_and_parameters() -> None:
    torch.manual_seed(0)
    net = Tied()
    student = FlatStudent(net)
    assert torch.equal(student.flatten(), reparam_order(net))
    assert torch.equal(student.flatten(), torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    assert student.numel == sum(p.numel() for p in net.parameters())
    assert student.names[0] == "a.weight" and "b.weight" not in student.names  # tied: counted once
    assert torch.equal(flatten_params(net), student.flatten())


def test_output_and_gradient_equal_the_module() -> None:
    torch.manual_seed(0)
    net = Tied().eval()
    student = FlatStudent(net).eval()
    x = torch.randn(5, 4)
    theta = student.flatten().requires_grad_(True)
    out = student(x, theta)
    ref = net(x)
    assert torch.allclose(out, ref, atol=1e-6, rtol=0)
    out.square().sum().backward()
    ref.square().sum().backward()
    ref_grad = torch.cat([p.grad.reshape(-1) for p in net.parameters()])  # type: ignore[union-attr]
    assert theta.grad is not None and torch.allclose(theta.grad, ref_grad, atol=1e-5, rtol=1e-5)


def test_does_not_mutate_module_params_mode_or_buffers() -> None:
    torch.manual_seed(0)
    net = Tied().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    student = FlatStudent(net).train()
    theta = student.flatten() + 1.0
    student(torch.randn(6, 4), theta)  # train mode: BatchNorm updates running stats (the student's copies)
    assert not net.training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert [n for n, _ in net.named_parameters()] == [
        "a.weight",
        "a.bias",
        "bn.weight",
        "bn.bias",
        "b.bias",
        "head.weight",
        "head.bias",
    ]


def test_dropout_uses_global_rng_like_the_module() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5), nn.Linear(6, 2)).train()
    student = FlatStudent(net).train()
    x = torch.randn(3, 6)
    torch.manual_seed(5)
    a = student(x, student.flatten())
    torch.manual_seed(5)
    b = net(x)
    assert torch.allclose(a, b, atol=1e-6)
    torch.manual_seed(6)
    assert not torch.allclose(student(x, student.flatten()), a)


def test_float64_gradcheck_and_second_order() -> None:
    torch.manual_seed(0)
    student = FlatStudent(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64)
    theta = student.flatten().requires_grad_(True)
    assert theta.dtype == torch.float64
    assert torch.autograd.gradcheck(lambda t: student(x, t), (theta,))
    assert torch.autograd.gradgradcheck(lambda t: student(x, t), (theta,))


def test_unflatten_views_and_shapes() -> None:
    student = FlatStudent(nn.Conv3d(2, 3, 3))
    theta = torch.arange(student.numel, dtype=torch.float32)
    parts = student.unflatten(theta)
    assert parts["weight"].shape == (3, 2, 3, 3, 3) and parts["bias"].shape == (3,)
    assert parts["bias"].tolist() == [162.0, 163.0, 164.0]
    # leading singleton axis accepted, as ReparamModule squeezes it
    assert student.unflatten(theta.unsqueeze(0))["bias"].shape == (3,)
    # an expert snapshot (list in parameters() order) flattens to the same vector
    assert torch.equal(student.flatten(list(parts.values())), theta)


def test_errors() -> None:
    student = FlatStudent(nn.Linear(3, 2))
    with pytest.raises(ShapeError, match=r"flat_param must be a flat vector of shape \(8,\), got shape \(7,\)"):
        student(torch.zeros(1, 3), torch.zeros(7))
    with pytest.raises(ShapeError, match=r"flat_param must have a floating dtype, got torch.int64"):
        student(torch.zeros(1, 3), torch.zeros(8, dtype=torch.int64))
    with pytest.raises(ShapeError, match=r"params must hold 2 tensors .*got 1"):
        student.flatten([torch.zeros(6)])
    with pytest.raises(
        ShapeError, match=r"params\[1\] \(bias\) must have 2 elements \(shape \(2,\)\), got shape \(3,\)"
    ):
        student.flatten([torch.zeros(6), torch.zeros(3)])
    with pytest.raises(ConfigError, match=r"module must be a torch.nn.Module, got int"):
        FlatStudent(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"module must have at least one parameter, got ReLU with 0"):
        FlatStudent(nn.ReLU())
    with pytest.raises(ConfigError, match=r"params must hold at least one tensor"):
        flatten_params([])


class ReparamStyle(nn.Module):
    """The mechanism of the codebases' ``ReparamModule`` (written here): the wrapped module's parameters are
    deleted and replaced by views of one flat ``nn.Parameter``; ``forward(x, flat_param=...)`` installs views
    of the given vector. Its view attributes are non-leaf tensors, so it cannot be deep-copied."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        infos = [(mn, n) for mn, m in self.named_modules() for n, _ in m.named_parameters(recurse=False)]
        params = [p.detach() for p in module.parameters()]
        self._param_infos = tuple(infos)
        self._param_shapes = tuple(p.shape for p in params)
        self._param_numels = tuple(p.numel() for p in params)
        self.flat_param = nn.Parameter(torch.cat([p.reshape(-1) for p in params]))
        for mn, n in infos:
            delattr(self.get_submodule(mn), n)
        self._install(self.flat_param)

    def _install(self, flat: torch.Tensor) -> None:
        for (mn, n), t, s in zip(self._param_infos, flat.split(self._param_numels), self._param_shapes):
            setattr(self.get_submodule(mn), n, t.view(s))

    def forward(self, x: torch.Tensor, flat_param: torch.Tensor | None = None) -> torch.Tensor:
        self._install(self.flat_param if flat_param is None else torch.squeeze(flat_param))
        return self.module(x)


def test_reparam_module_style_network_is_accepted_as_it_is() -> None:
    import copy

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    plain = FlatStudent(net)
    reparam = ReparamStyle(copy.deepcopy(net))
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(reparam)  # why it must not be copied
    student = FlatStudent(reparam).train()
    assert student.numel == plain.numel == 23 and student.names == ("module.0.weight", "module.0.bias",
                                                                    "module.2.weight", "module.2.bias")  # fmt: skip
    assert torch.equal(student.flatten(), plain.flatten())
    assert torch.equal(student.flatten(net), plain.flatten())
    theta = plain.flatten().requires_grad_(True)
    x = torch.randn(5, 4)
    out = student(x, flat_param=theta)
    torch.testing.assert_close(out, plain(x, theta))
    (g,) = torch.autograd.grad(out.sum(), theta)
    (g_ref,) = torch.autograd.grad(plain(x, theta).sum(), theta)
    torch.testing.assert_close(g, g_ref)
    with pytest.raises(ConfigError, match="dtype= cannot convert a ReparamModule-style"):
        FlatStudent(reparam, dtype=torch.float64)
    with pytest.raises(ConfigError, match="buffers= is not supported"):
        student(x, theta, buffers={})


def test_parameters_give_what_published_loops_count() -> None:
    net = Tied()
    student = FlatStudent(net)
    num_params = sum(p.numel() for p in student.parameters())  # the published loop's num_params
    assert num_params == student.numel == flatten_params(net).numel()
    assert sum(p.numel() for p in FlatStudent(ReparamStyle(nn.Linear(3, 2))).parameters()) == 8


@pytest.mark.parametrize("mode", ["checkpointed", "unrolled"])
def test_trajectory_loss_accepts_the_loops_reparam_module(mode: str) -> None:
    import copy

    from temporal_condense.mtt.matching import make_syn_lr, trajectory_matching_loss
    from temporal_condense.synthetic import SyntheticVideos

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 4 * 4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    results = []
    for student in (FlatStudent(net), ReparamStyle(copy.deepcopy(net))):  # what a published loop holds
        synset = SyntheticVideos(2, 2, frames=2, size=(4, 4), seed=0).double()
        syn_lr = make_syn_lr(0.05, dtype=torch.float64)
        theta = flatten_params(net)
        loss = trajectory_matching_loss(student, synset, theta, theta + 0.1, syn_lr, syn_steps=3, batch_syn=2,
                                        mode=mode, generator=torch.Generator().manual_seed(1))  # fmt: skip
        loss.backward()
        assert synset.videos.grad is not None and syn_lr.grad is not None
        results.append((loss.detach(), synset.videos.grad, syn_lr.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
