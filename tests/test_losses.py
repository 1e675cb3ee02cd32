"""Tests of temporal_condense.losses against plain transcriptions of the published DM / DC code."""

from __future__ import annotations

import functools

import kornia.augmentation as K
import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses import (
    DistributionMatching,
    GradientMatching,
    SiameseAugment,
    dc_class_loss,
    dc_loss,
    dm_class_loss,
    dm_loss,
    gradient_distance,
    layer_distance,
)
from temporal_condense.matcher import SegmentedMatcher

# --------------------------------------------------------------------------------------------------
# Plain reference implementations (transcribed from the published DC / DM code, in float64)
# --------------------------------------------------------------------------------------------------


def ref_distance_wb(gwr: torch.Tensor, gws: torch.Tensor) -> torch.Tensor:
    shape = gwr.shape
    if len(shape) == 4:  # conv, out*in*h*w
        gwr = gwr.reshape(shape[0], shape[1] * shape[2] * shape[3])
        gws = gws.reshape(shape[0], shape[1] * shape[2] * shape[3])
    elif len(shape) == 3:  # layernorm, C*h*w
        gwr = gwr.reshape(shape[0], shape[1] * shape[2])
        gws = gws.reshape(shape[0], shape[1] * shape[2])
    elif len(shape) == 2:  # linear, out*in
        pass
    elif len(shape) == 1:  # batchnorm/instancenorm, C; groupnorm x, bias
        return torch.tensor(0, dtype=gwr.dtype)
    return torch.sum(1 - torch.sum(gwr * gws, dim=-1) / (torch.norm(gwr, dim=-1) * torch.norm(gws, dim=-1) + 0.000001))


def ref_match_loss(gw_syn: list[torch.Tensor], gw_real: list[torch.Tensor], dis_metric: str) -> torch.Tensor:
    dis = torch.tensor(0.0, dtype=torch.float64)
    if dis_metric == "ours":
        for ig in range(len(gw_real)):
            dis = dis + ref_distance_wb(gw_real[ig], gw_syn[ig])
    elif dis_metric == "mse":
        gw_real_vec = torch.cat([g.reshape(-1) for g in gw_real])
        gw_syn_vec = torch.cat([g.reshape(-1) for g in gw_syn])
        dis = torch.sum((gw_syn_vec - gw_real_vec) ** 2)
    elif dis_metric == "cos":
        gw_real_vec = torch.cat([g.reshape(-1) for g in gw_real])
        gw_syn_vec = torch.cat([g.reshape(-1) for g in gw_syn])
        dis = 1 - torch.sum(gw_real_vec * gw_syn_vec, dim=-1) / (
            torch.norm(gw_real_vec, dim=-1) * torch.norm(gw_syn_vec, dim=-1) + 0.000001
        )
    return dis


def ref_dc(net: nn.Module, real, real_labels, syn, syn_labels, num_classes, dis_metric):  # type: ignore[no-untyped-def]
    """The published DC per-class loop (main.py, 'update synthetic data')."""
    net_parameters = list(net.parameters())
    criterion = nn.CrossEntropyLoss()
    loss = torch.tensor(0.0, dtype=torch.float64)
    for c in range(num_classes):
        img_real = real[real_labels == c]
        lab_real = torch.ones((img_real.shape[0],), dtype=torch.long) * c
        gw_real = torch.autograd.grad(criterion(net(img_real), lab_real), net_parameters)
        gw_real = [g.detach().clone() for g in gw_real]
        img_syn = syn[syn_labels == c]
        lab_syn = torch.ones((img_syn.shape[0],), dtype=torch.long) * c
        gw_syn = torch.autograd.grad(criterion(net(img_syn), lab_syn), net_parameters, create_graph=True)
        loss = loss + ref_match_loss(list(gw_syn), gw_real, dis_metric)
    return loss


def ref_dm(embed, real, real_labels, syn, syn_labels, num_classes):  # type: ignore[no-untyped-def]
    """The published DM per-class loop (main_DM.py, ConvNet branch)."""
    loss = torch.tensor(0.0, dtype=torch.float64)
    for c in range(num_classes):
        output_real = embed(real[real_labels == c]).detach()
        output_syn = embed(syn[syn_labels == c])
        loss = loss + torch.sum((torch.mean(output_real, dim=0) - torch.mean(output_syn, dim=0)) ** 2)
    return loss


# --------------------------------------------------------------------------------------------------
# Tiny students (float64)
# --------------------------------------------------------------------------------------------------


class TinyConvNet(nn.Module):
    """Conv (4-D weight, 1-D bias) + GroupNorm (1-D) + Linear (2-D): every branch of distance_wb."""

    def __init__(self, channels: int = 3, num_classes: int = 3, width: int = 4, act: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.GroupNorm(width, width), act(), nn.AdaptiveAvgPool2d(2)
        )
        self.classifier = nn.Linear(width * 4, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


class TinyVideoNet(nn.Module):
    """Per-frame conv + mean over time: accepts clips of any length (like VideoConvNetMean)."""

    def __init__(self, channels: int = 3, num_classes: int = 3, width: int = 4):
        super().__init__()
        self.features = TinyConvNet(channels, num_classes, width).features
        self.classifier = nn.Linear(width * 4, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.features(x.flatten(0, 1)).view(b, t, -1).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def make_batch(n_per_class: int, num_classes: int, shape: tuple[int, ...], seed: int, grad: bool = False):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n_per_class * num_classes, *shape), generator=g, dtype=torch.float64)
    perm = torch.randperm(x.shape[0], generator=g)
    y = torch.arange(num_classes).repeat_interleave(n_per_class)[perm]
    return x.requires_grad_(grad), y


@pytest.fixture
def net() -> TinyConvNet:
    torch.manual_seed(0)
    return TinyConvNet().double()


# --------------------------------------------------------------------------------------------------
# DM
# --------------------------------------------------------------------------------------------------


def test_dm_vectorized_equals_per_class_loop(net: TinyConvNet) -> None:
    real, rl = make_batch(5, 3, (3, 6, 6), seed=1)
    syn, sl = make_batch(2, 3, (3, 6, 6), seed=2, grad=True)
    ours = dm_loss(net.embed, real, rl, syn, sl, num_classes=3)
    ref = ref_dm(net.embed, real, rl, syn, sl, 3)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    (g_ours,) = torch.autograd.grad(ours, syn)
    (g_ref,) = torch.autograd.grad(ref, syn)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


def test_dm_one_forward_per_side(net: TinyConvNet) -> None:
    calls: list[int] = []

    def embed(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return net.embed(x)

    real, rl = make_batch(4, 3, (3, 6, 6), seed=1)
    syn, sl = make_batch(1, 3, (3, 6, 6), seed=2)
    dm_loss(embed, real, rl, syn, sl, 3)
    assert calls == [12, 3]
    calls.clear()
    a = dm_loss(embed, real, rl, syn, sl, 3, real_chunk=5)
    assert calls == [5, 5, 2, 3]
    torch.testing.assert_close(a, ref_dm(net.embed, real, rl, syn, sl, 3))


def test_dm_class_loss_matches_reference(net: TinyConvNet) -> None:
    real, _ = make_batch(6, 1, (3, 6, 6), seed=3)
    syn, _ = make_batch(2, 1, (3, 6, 6), seed=4)
    ref = torch.sum((net.embed(real).mean(0) - net.embed(syn).mean(0)) ** 2)
    torch.testing.assert_close(dm_class_loss(real, syn, net.embed), ref)


def test_dm_only_present_classes_count(net: TinyConvNet) -> None:
    real, rl = make_batch(3, 2, (3, 6, 6), seed=5)  # classes 0, 1 of 4
    syn, sl = make_batch(1, 2, (3, 6, 6), seed=6)
    torch.testing.assert_close(dm_loss(net.embed, real, rl, syn, sl, 4), ref_dm(net.embed, real, rl, syn, sl, 2))


def test_dm_gradcheck() -> None:
    torch.manual_seed(0)
    tiny = TinyConvNet(channels=2, width=2, act=nn.Tanh).double()
    real, rl = make_batch(2, 2, (2, 3, 3), seed=7)
    syn, sl = make_batch(1, 2, (2, 3, 3), seed=8, grad=True)
    assert torch.autograd.gradcheck(lambda s: dm_loss(tiny.embed, real, rl, s, sl, 2), (syn,))


def test_dm_on_videos_and_segments() -> None:
    torch.manual_seed(0)
    vnet = TinyVideoNet().double()
    real, rl = make_batch(3, 2, (4, 3, 6, 6), seed=9)
    syn, sl = make_batch(1, 2, (4, 3, 6, 6), seed=10, grad=True)
    whole = dm_loss(vnet.embed, real, rl, syn, sl, 2)
    torch.testing.assert_close(whole, ref_dm(vnet.embed, real, rl, syn, sl, 2))
    # K=1 through the matcher is the whole-clip loss; K=2 is the mean of the two half-clip losses.
    fn = DistributionMatching(vnet.embed, num_classes=2)
    torch.testing.assert_close(SegmentedMatcher(fn, segments=1)(real, syn, rl, sl), whole)
    seg = SegmentedMatcher(fn, segments=2)(real, syn, rl, sl)
    halves = [ref_dm(vnet.embed, real[:, i : i + 2], rl, syn[:, i : i + 2], sl, 2) for i in (0, 2)]
    torch.testing.assert_close(seg, (halves[0] + halves[1]) / 2)
    seg.backward()
    assert syn.grad is not None and torch.isfinite(syn.grad).all()
    # Per-class call style through the matcher.
    c0r, c0s = real[rl == 0], syn[sl == 0]
    per_class = SegmentedMatcher(dm_class_loss, segments=2)(c0r, c0s, vnet.embed)
    halves0 = [dm_class_loss(c0r[:, i : i + 2], c0s[:, i : i + 2], vnet.embed) for i in (0, 2)]
    torch.testing.assert_close(per_class, (halves0[0] + halves0[1]) / 2)


def test_dm_frame_by_frame_is_image_distillation(net: TinyConvNet) -> None:
    # N_syn = N_real = K: each segment is one frame; the image ConvNet sees [B, C, H, W] after squeezing.
    real, _ = make_batch(3, 2, (2, 3, 6, 6), seed=11)
    syn, _ = make_batch(1, 2, (2, 3, 6, 6), seed=12)
    fn = functools.partial(dm_class_loss, embed_fn=lambda x: net.embed(x[:, 0]))
    got = SegmentedMatcher(fn, segments=2)(real, syn)
    want = (dm_class_loss(real[:, 0], syn[:, 0], net.embed) + dm_class_loss(real[:, 1], syn[:, 1], net.embed)) / 2
    torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------------------------------
# DC
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["ours", "mse", "cos"])
def test_dc_matches_published_match_loss(net: TinyConvNet, metric: str) -> None:
    real, rl = make_batch(4, 3, (3, 6, 6), seed=13)
    syn, sl = make_batch(2, 3, (3, 6, 6), seed=14, grad=True)
    ours = dc_loss(net, real, rl, syn, sl, 3, metric=metric)
    ref = ref_dc(net, real, rl, syn, sl, 3, metric)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    (g_ours,) = torch.autograd.grad(ours, syn)
    (g_ref,) = torch.autograd.grad(ref, syn)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-8, atol=1e-10)
    assert g_ours.abs().sum() > 0


def test_gradient_distance_per_layer(net: TinyConvNet) -> None:
    g = torch.Generator().manual_seed(0)
    gr = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in net.parameters()]
    gs = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in net.parameters()]
    for metric in ("ours", "mse", "cos"):
        torch.testing.assert_close(gradient_distance(gs, gr, metric), ref_match_loss(gs, gr, metric))
    # 1-D tensors (biases, norm scales) contribute nothing in "ours", as in the published code.
    assert layer_distance(torch.ones(5), -torch.ones(5)).item() == 0.0
    # Identical gradients: zero distance (up to the published 1e-6 in the denominator).
    assert abs(layer_distance(gr[0], gr[0]).item()) < 1e-5


def test_layer_distance_conv3d_is_per_output_channel() -> None:
    g = torch.Generator().manual_seed(1)
    r, s = torch.randn(4, 2, 3, 3, 3, generator=g, dtype=torch.float64), torch.randn(4, 2, 3, 3, 3, generator=g)
    s = s.double()
    want = ref_distance_wb(r.reshape(4, 2, 27, 1), s.reshape(4, 2, 27, 1))
    torch.testing.assert_close(layer_distance(r, s), want)


def test_dc_gradcheck() -> None:
    torch.manual_seed(0)
    tiny = TinyConvNet(channels=1, width=2, num_classes=2, act=nn.Tanh).double()
    real, _ = make_batch(3, 1, (1, 3, 3), seed=15)
    syn, _ = make_batch(1, 1, (1, 3, 3), seed=16, grad=True)
    assert torch.autograd.gradcheck(lambda s: dc_class_loss(real, s, tiny, 1, metric="ours"), (syn,))


def test_dc_segments_with_video_student() -> None:
    torch.manual_seed(0)
    vnet = TinyVideoNet(num_classes=2).double()
    real, rl = make_batch(2, 2, (4, 3, 6, 6), seed=17)
    syn, sl = make_batch(1, 2, (2, 3, 6, 6), seed=18, grad=True)
    matcher = SegmentedMatcher(GradientMatching(vnet, num_classes=2), segments=2, interpolator="linear")
    loss = matcher(real, syn, rl, sl)
    pairs = matcher.split(real, syn)
    want = sum(ref_dc(vnet, r, rl, s, sl, 2, "ours") for r, s in pairs) / 2
    torch.testing.assert_close(loss, want)
    loss.backward()
    assert syn.grad is not None and syn.grad.abs().sum() > 0


# --------------------------------------------------------------------------------------------------
# Siamese augmentation
# --------------------------------------------------------------------------------------------------


def test_siamese_augment_shares_parameters_images() -> None:
    torch.manual_seed(0)
    aug = SiameseAugment(
        K.AugmentationSequential(
            K.RandomHorizontalFlip(), K.RandomAffine(degrees=20, translate=0.2, p=1.0), same_on_batch=True
        )
    )
    img = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    for _ in range(3):
        r, s = aug(img.repeat(4, 1, 1, 1), img.clone())
        assert r.shape == (4, 3, 8, 8) and s.shape == (1, 3, 8, 8)
        torch.testing.assert_close(r, s.expand_as(r))


def test_siamese_augment_videos_and_video_augmentation() -> None:
    from temporal_condense.hooks import VideoAugmentation

    clip = torch.rand(1, 3, 3, 8, 8, dtype=torch.float64)
    for augment in (
        SiameseAugment(K.VideoSequential(K.RandomAffine(degrees=20, p=1.0, same_on_batch=True), data_format="BTCHW")),
        VideoAugmentation(siamese=True),
    ):
        torch.manual_seed(0)
        calls: list[torch.Tensor] = []

        def embed(x: torch.Tensor, calls: list[torch.Tensor] = calls) -> torch.Tensor:
            calls.append(x)
            return x.flatten(1)

        dm_class_loss(clip.repeat(3, 1, 1, 1, 1), clip.clone().requires_grad_(), embed, augment=augment)
        real_aug, syn_aug = calls
        torch.testing.assert_close(real_aug, syn_aug.expand_as(real_aug))
        assert not torch.allclose(real_aug[0], clip[0])


def test_siamese_augment_is_seeded_and_differentiable(net: TinyConvNet) -> None:
    aug = K.AugmentationSequential(K.RandomAffine(degrees=30, translate=0.2, p=1.0), same_on_batch=True)
    real, rl = make_batch(3, 2, (3, 8, 8), seed=19)
    syn, sl = make_batch(1, 2, (3, 8, 8), seed=20, grad=True)
    torch.manual_seed(5)
    a = dm_loss(net.embed, real, rl, syn, sl, 2, augment=aug)
    torch.manual_seed(5)
    b = dm_loss(net.embed, real, rl, syn, sl, 2, augment=aug)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, dm_loss(net.embed, real, rl, syn, sl, 2))
    a.backward()
    assert syn.grad is not None and syn.grad.abs().sum() > 0
    dc = dc_loss(net, real, rl, syn, sl, 2, augment=aug)
    assert torch.isfinite(dc)


def test_siamese_augment_refuses_per_sample_parameters() -> None:
    with pytest.raises(ConfigError, match="same_on_batch=True"):
        SiameseAugment(K.AugmentationSequential(K.RandomHorizontalFlip()))
    with pytest.raises(ConfigError, match="augmentation must be a kornia"):
        SiameseAugment(lambda x: x)  # type: ignore[arg-type]
    aug = SiameseAugment(K.AugmentationSequential(K.RandomHorizontalFlip(), same_on_batch=True))
    with pytest.raises(ShapeError, match="same per-sample shape"):
        aug(torch.rand(2, 3, 8, 8), torch.rand(1, 3, 4, 4))


# --------------------------------------------------------------------------------------------------
# Errors and shapes
# --------------------------------------------------------------------------------------------------


def test_errors(net: TinyConvNet) -> None:
    real, rl = make_batch(2, 2, (3, 6, 6), seed=21)
    syn, sl = make_batch(1, 2, (3, 6, 6), seed=22)
    with pytest.raises(ShapeError, match=r"real must be a batch of images .* got 3-D"):
        dm_loss(net.embed, real[:, 0], rl, syn, sl, 2)
    with pytest.raises(ShapeError, match="same rank"):
        dm_loss(net.embed, real, rl, syn[:, None], sl, 2)
    with pytest.raises(ShapeError, match=r"real_labels must have shape \[4\]"):
        dm_loss(net.embed, real, rl[:3], syn, sl, 2)
    with pytest.raises(ShapeError, match=r"syn_labels must lie in \[0, 1\]"):
        dm_loss(net.embed, real, rl, syn, sl + 1, 2)
    with pytest.raises(ShapeError, match=r"only in real \[1\] and only in syn \[\]"):
        dm_loss(net.embed, real, rl, syn, torch.zeros(2, dtype=torch.long), 2)
    with pytest.raises(ConfigError, match="num_classes must be an integer >= 1, got 0"):
        dm_loss(net.embed, real, rl, syn, sl, 0)
    with pytest.raises(ShapeError, match="must have a floating dtype"):
        dm_loss(net.embed, real.long(), rl, syn, sl, 2)
    with pytest.raises(ConfigError, match=r"metric must be one of \('ours', 'mse', 'cos'\), got 'l2'"):
        dc_loss(net, real, rl, syn, sl, 2, metric="l2")
    frozen = TinyConvNet().double().requires_grad_(False)
    with pytest.raises(ConfigError, match="requires_grad=True"):
        dc_loss(frozen, real, rl, syn, sl, 2)
    with pytest.raises(ShapeError, match="same shape"):
        layer_distance(torch.ones(2, 3), torch.ones(3, 2))
    with pytest.raises(ShapeError, match="same length"):
        gradient_distance([torch.ones(2)], [], "ours")
    with pytest.raises(ConfigError, match="augment must be None"):
        dm_loss(net.embed, real, rl, syn, sl, 2, augment=3)


def test_output_shapes(net: TinyConvNet) -> None:
    real, rl = make_batch(2, 2, (3, 6, 6), seed=23)
    syn, sl = make_batch(1, 2, (3, 6, 6), seed=24, grad=True)
    for loss in (
        dm_loss(net.embed, real, rl, syn, sl, 2),
        dc_loss(net, real, rl, syn, sl, 2),
        DistributionMatching(net.embed, 2)(real, syn, rl, sl),
        GradientMatching(net, 2, metric="mse")(real, syn, rl, sl),
    ):
        assert loss.shape == () and loss.dtype == torch.float64 and loss.requires_grad


# --------------------------------------------------------------------------------------------------
# issue 9: a NaN in the real clips is a named error, not a NaN loss
# --------------------------------------------------------------------------------------------------


def test_non_finite_real_clips_are_named_errors(net: TinyConvNet) -> None:
    real, rl = make_batch(2, 3, (3, 6, 6), seed=1)
    syn, sl = make_batch(1, 3, (3, 6, 6), seed=2)
    real[3, 0, 1, 1] = float("nan")
    with pytest.raises(ShapeError, match=r"real must be finite, got 1 NaN/inf value"):
        dm_loss(net.embed, real, rl, syn, sl, 3)
    with pytest.raises(ShapeError, match=r"real must be finite"):
        dm_class_loss(real, syn, net.embed)
    with pytest.raises(ShapeError, match=r"real must be finite"):
        dc_class_loss(real, syn, net, 0)
    with pytest.raises(ShapeError, match=r"real and syn must be on the same device, got cpu and meta"):
        dm_class_loss(real, syn.to("meta"), net.embed)
