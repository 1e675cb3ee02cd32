"""Tests of the FRePo loss (temporal_condense.losses.frepo) against plain float64 references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from temporal_condense import DynamicMemoryBlock, SegmentedMatcher, SyntheticVideos
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses import (
    FRePoMatching,
    LearnedLabels,
    centered_one_hot,
    frepo_loss,
    krr_predict,
    label_margin_loss,
    published_label_scale,
)


class TinyVideoNet(nn.Module):
    """Mean over frames of a tiny per-frame conv; embed -> [B, D]."""

    def __init__(self, channels: int = 3, width: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, width, 3, padding=1)
        self.head = nn.Linear(width, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        f = torch.tanh(self.conv(x.flatten(0, 1))).mean(dim=(-1, -2))
        return f.view(b, t, -1).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


# --------------------------------------------------------------------------------------------------
# Plain references (the published nfr + criterion, written out in numpy float64)
# --------------------------------------------------------------------------------------------------


def ref_nfr_loss(f_syn: np.ndarray, y_syn: np.ndarray, f_tar: np.ndarray, y_tar: np.ndarray, reg: float) -> float:
    kss = f_syn @ f_syn.T
    kts = f_tar @ f_syn.T
    n = kss.shape[0]
    kss_reg = kss + abs(reg) * np.trace(kss) * np.eye(n) / n
    pred = kts @ np.linalg.solve(kss_reg, y_syn)
    return float(((pred - y_tar) ** 2).sum(axis=-1).mean(axis=0))


def ref_margin(y: np.ndarray) -> float:
    out = []
    for row in y:
        a, b = sorted(row.tolist(), reverse=True)[:2]
        out.append(-min(a - b, 1 / len(row)))
    return float(np.mean(out))


# --------------------------------------------------------------------------------------------------
# KRR
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reg", [1e-6, 1e-2, -0.1])
def test_krr_predict_equals_float64_solve_of_the_regularized_system(reg: float) -> None:
    g = torch.Generator().manual_seed(0)
    fs, ft = torch.randn(6, 10, generator=g), torch.randn(9, 10, generator=g)
    ys = torch.randn(6, 4, generator=g)
    fs64, ft64, ys64 = fs.double(), ft.double(), ys.double()
    kss = fs64 @ fs64.T
    system = kss + abs(reg) * torch.trace(kss) / 6 * torch.eye(6, dtype=torch.float64)
    want = (ft64 @ fs64.T) @ torch.linalg.solve(system, ys64)
    torch.testing.assert_close(krr_predict(fs64, ys64, ft64, reg), want, rtol=1e-12, atol=1e-12)
    got32 = krr_predict(fs, ys, ft, reg)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.double(), want, rtol=1e-3, atol=1e-3)


def test_krr_predict_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(1)
    fs = torch.randn(4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    ys = torch.randn(4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    ft = torch.randn(6, 5, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: krr_predict(a, b, c, 1e-3), (fs, ys, ft))


def test_krr_interpolates_the_support_without_ridge() -> None:
    fs = torch.randn(3, 8, dtype=torch.float64)
    ys = torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(krr_predict(fs, ys, fs, 0.0), ys)


def test_krr_errors_name_the_argument() -> None:
    with pytest.raises(ShapeError, match="y_syn must have one row per support feature \\(3\\)"):
        krr_predict(torch.randn(3, 4), torch.randn(2, 2), torch.randn(1, 4))
    with pytest.raises(ShapeError, match="same feature size, got 5 and 4"):
        krr_predict(torch.randn(3, 4), torch.randn(3, 2), torch.randn(1, 5))
    with pytest.raises(ConfigError, match="reg must be a finite number"):
        krr_predict(torch.randn(3, 4), torch.randn(3, 2), torch.randn(1, 4), float("nan"))
    with pytest.raises(ShapeError, match="feat_syn must have 2 dimensions"):
        krr_predict(torch.randn(3), torch.randn(3, 2), torch.randn(1, 4))


# --------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------


def test_centered_one_hot_and_published_scale() -> None:
    y = centered_one_hot(torch.tensor([2, 0]), 5, scale=2.0)
    torch.testing.assert_close(y.sum(1), torch.zeros(2))
    assert y[0, 2].item() == pytest.approx((1 - 0.2) / 2) and y[0, 0].item() == pytest.approx(-0.1)
    assert published_label_scale(50) == pytest.approx(np.sqrt(5.0))
    with pytest.raises(ShapeError, match=r"labels must lie in \[0, 4\]"):
        centered_one_hot(torch.tensor([5]), 5)
    with pytest.raises(ConfigError, match="num_classes must be an integer >= 2"):
        centered_one_hot(torch.tensor([0]), 1)
    with pytest.raises(ShapeError, match="integer dtype"):
        centered_one_hot(torch.tensor([0.0]), 3)


def test_label_margin_matches_reference_and_learned_labels_get_gradients() -> None:
    g = torch.Generator().manual_seed(2)
    y = torch.randn(5, 4, dtype=torch.float64, generator=g)
    assert label_margin_loss(y).item() == pytest.approx(ref_margin(y.numpy()), abs=1e-12)
    labels = LearnedLabels(torch.tensor([0, 1, 2, 1]), num_classes=3)
    torch.testing.assert_close(labels.weight.detach(), centered_one_hot(torch.tensor([0, 1, 2, 1]), 3) / np.sqrt(0.3))
    rows = labels(torch.tensor([3, 0]))
    assert rows.shape == (2, 3)
    (rows.sum() + label_margin_loss(labels())).backward()
    assert labels.weight.grad is not None
    with pytest.raises(ShapeError, match="indices must lie in"):
        labels(torch.tensor([4]))


# --------------------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------------------


def _batch(n: int, classes: int, shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, dtype=torch.float64, generator=g), torch.arange(n) % classes


def test_frepo_loss_equals_the_published_computation() -> None:
    torch.manual_seed(0)
    net = TinyVideoNet().double()
    real, rl = _batch(7, 3, (4, 3, 5, 5), seed=3)
    syn, sl = _batch(3, 3, (4, 3, 5, 5), seed=4)
    got = frepo_loss(net.embed, real, rl, syn, sl, 3, reg=1e-6)
    with torch.no_grad():
        f_s, f_t = net.embed(syn).numpy(), net.embed(real).numpy()
    y_t = np.eye(3)[rl.numpy()] - 1 / 3
    y_s = (np.eye(3)[sl.numpy()] - 1 / 3) / np.sqrt(3 / 10)
    assert got.item() == pytest.approx(ref_nfr_loss(f_s, y_s, f_t, y_t, 1e-6), rel=1e-9)
    # float targets pass as they are; chunked real embedding gives the same number
    soft = torch.randn(3, 3, dtype=torch.float64)
    got_soft = frepo_loss(net.embed, real, rl, syn, soft, 3, real_chunk=2)
    assert got_soft.item() == pytest.approx(ref_nfr_loss(f_s, soft.numpy(), f_t, y_t, 1e-6), rel=1e-9)


def test_frepo_loss_gradcheck_float64_wrt_syn_and_labels() -> None:
    torch.manual_seed(0)
    net = TinyVideoNet(width=3).double()
    real, rl = _batch(5, 3, (2, 3, 4, 4), seed=5)
    syn, _ = _batch(2, 3, (2, 3, 4, 4), seed=6)
    syn.requires_grad_(True)
    ys = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s, y: frepo_loss(net.embed, real, rl, s, y, 3, reg=1e-2), (syn, ys))


def test_frepo_does_not_differentiate_the_network_weights() -> None:
    net = TinyVideoNet()
    real, rl = _batch(4, 3, (2, 3, 4, 4), seed=7)
    syn, sl = _batch(3, 3, (2, 3, 4, 4), seed=8)
    real, syn = real.float(), syn.float().requires_grad_(True)

    def frozen(x: torch.Tensor) -> torch.Tensor:
        net.requires_grad_(False)
        return net.embed(x)

    frepo_loss(frozen, real, rl, syn, sl, 3).backward()
    assert syn.grad is not None and all(p.grad is None for p in net.parameters())


def test_frepo_through_segmented_matcher_is_the_mean_of_segment_losses() -> None:
    torch.manual_seed(0)
    net = TinyVideoNet().double()
    real, rl = _batch(6, 3, (4, 3, 5, 5), seed=9)
    syn, sl = _batch(3, 3, (2, 3, 5, 5), seed=10)
    fn = FRePoMatching(net.embed, num_classes=3)
    got = SegmentedMatcher(fn, segments=2)(real, syn, rl, sl)
    # segment scope: each 1-frame synthetic segment is interpolated (repeated) to its real segment's 2 frames
    halves = [
        frepo_loss(net.embed, real[:, 2 * k : 2 * k + 2], rl, syn[:, k : k + 1].repeat(1, 2, 1, 1, 1), sl, 3)
        for k in (0, 1)
    ]
    torch.testing.assert_close(got, (halves[0] + halves[1]) / 2)


@pytest.mark.parametrize("kind", ["baseline", "static-dynamic"])
def test_frepo_trains_any_synthetic_set(kind: str) -> None:
    torch.manual_seed(0)
    net = TinyVideoNet()
    if kind == "baseline":
        synset: SyntheticVideos | DynamicMemoryBlock = SyntheticVideos(3, 1, frames=4, size=(5, 5), seed=0)
    else:
        synset = DynamicMemoryBlock(3, 1, frames=4, size=(5, 5), static=torch.rand(3, 3, 5, 5), seed=0)
    real, rl = _batch(6, 3, (4, 3, 5, 5), seed=11)
    videos, sl = synset(torch.arange(len(synset)))
    labels = LearnedLabels(sl, num_classes=3)
    loss = FRePoMatching(net.embed, 3)(real.float(), videos, rl, labels(torch.arange(len(synset))))
    loss = loss + label_margin_loss(labels())
    loss.backward()
    grads = [p.grad for p in synset.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert labels.weight.grad is not None
    assert sl.tolist() == [0, 1, 2]


def test_frepo_errors_name_the_argument() -> None:
    net = nn.Flatten()
    real, syn = torch.randn(4, 1, 2, 2), torch.randn(2, 1, 2, 2)
    with pytest.raises(ShapeError, match=r"syn_labels given as float targets must have shape \[2, 3\]"):
        frepo_loss(net, real, torch.zeros(4, dtype=torch.long), syn, torch.randn(2, 2), 3)
    with pytest.raises(ShapeError, match=r"real_labels must have shape \[4\]"):
        frepo_loss(net, real, torch.zeros(3, dtype=torch.long), syn, torch.zeros(2, dtype=torch.long), 3)
    with pytest.raises(ShapeError, match="real and syn must have the same rank"):
        frepo_loss(net, real, torch.zeros(4, dtype=torch.long), syn[:, None], torch.zeros(2, dtype=torch.long), 3)
    with pytest.raises(ConfigError, match="num_classes must be an integer >= 2"):
        FRePoMatching(net, num_classes=1)
    with pytest.raises(ConfigError, match="embed_fn must be a ModelPool or a callable"):
        FRePoMatching(3, num_classes=2)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="real_chunk must be an integer >= 1"):
        frepo_loss(net, real, torch.zeros(4, dtype=torch.long), syn, torch.zeros(2, dtype=torch.long), 3, real_chunk=0)


def test_frepo_is_deterministic() -> None:
    net = TinyVideoNet()
    real, rl = _batch(6, 3, (2, 3, 4, 4), seed=12)
    syn, sl = _batch(3, 3, (2, 3, 4, 4), seed=13)
    a = frepo_loss(net.embed, real.float(), rl, syn.float(), sl, 3)
    b = frepo_loss(net.embed, real.float(), rl, syn.float(), sl, 3)
    assert torch.equal(a, b)
