"""Video DiffAugment: published strategy strings and parameters, one draw per video over all frames, siamese
seeding, exactness against per-transform plain-PyTorch references, gradients."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from temporal_condense.augment import STRATEGIES, DiffAugment, DiffAugmentation, ParamDiffAug
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.synthetic import SyntheticVideos

ALL = "color_crop_cutout_flip_scale_rotate"
M = ParamDiffAug(aug_mode="M")


def videos(b: int = 3, t: int = 4, c: int = 3, h: int = 9, w: int = 7, dtype: torch.dtype = torch.float32):
    return torch.randn(b, t, c, h, w, generator=torch.Generator().manual_seed(b * 100 + t), dtype=dtype)


def draw(seed: int, kind: str, *args: int) -> float:
    """Draw 0 of the siamese stream ``seed`` (what the whole batch uses)."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "rand":
        return float(torch.rand(args[0], generator=gen)[0])
    return int(torch.randint(args[0], args[1], (args[2],), generator=gen)[0])


def test_shape_dtype_grad_and_identity() -> None:
    x = videos().requires_grad_(True)
    y = DiffAugment(x, ALL, param=ParamDiffAug())
    assert y.shape == x.shape and y.dtype == x.dtype and y.is_contiguous() and y.requires_grad
    for none in ("none", "None", ""):
        assert DiffAugment(x, none, param=ParamDiffAug()) is x
    assert set(STRATEGIES) == set(ALL.split("_"))


@pytest.mark.parametrize("strategy", [*STRATEGIES, ALL])
def test_one_draw_per_video_equals_the_image_augmentation_of_each_frame(strategy: str) -> None:
    x = videos()
    out = DiffAugment(x, strategy, param=M, generator=torch.Generator().manual_seed(3))
    for t in range(x.shape[1]):
        frame = DiffAugment(x[:, t], strategy, param=M, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(out[:, t], frame, rtol=0, atol=1e-6)


def test_siamese_seed_is_batchwise_and_shared_between_batches_of_any_size() -> None:
    real, syn = videos(b=5), videos(b=2)
    a = DiffAugment(real, ALL, seed=11, param=M)
    b = DiffAugment(syn, ALL, seed=11, param=M)
    # the same transform on every video: augmenting a batch of copies of one video gives copies
    same = DiffAugment(real[:1].expand(5, -1, -1, -1, -1), ALL, seed=11, param=M)
    torch.testing.assert_close(same, same[:1].expand_as(same))
    torch.testing.assert_close(a[:1], DiffAugment(real[:1], ALL, seed=11, param=M))
    torch.testing.assert_close(b[:1], DiffAugment(syn[:1], ALL, seed=11, param=M))
    # seeded calls leave torch's global RNG alone
    state = torch.random.get_rng_state()
    DiffAugment(real, ALL, seed=11, param=M)
    assert torch.equal(state, torch.random.get_rng_state())


def test_unseeded_draws_differ_per_video_and_replay_under_manual_seed() -> None:
    x = videos(b=6)[:1].expand(6, -1, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    y1 = DiffAugment(x, "crop", param=M)
    assert not all(torch.equal(y1[0], y1[i]) for i in range(1, 6))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        y2 = DiffAugment(x, "crop", param=M)
    assert torch.equal(y1, y2)


def test_flip_reference() -> None:
    x = videos()
    for seed in range(6):
        y = DiffAugment(x, "flip", seed=seed, param=M)
        flipped = draw(seed, "rand", x.shape[0]) < 0.5
        assert torch.equal(y, x.flip(-1) if flipped else x)


def test_color_reference() -> None:
    x, seed, p = videos(), 4, ParamDiffAug(aug_mode="M", brightness=0.7, saturation=1.5, contrast=0.25)
    rb, rs, rc = (draw(seed + k, "rand", x.shape[0]) for k in range(3))
    ref = x + (rb - 0.5) * 0.7
    mean_c = ref.mean(dim=2, keepdim=True)
    ref = (ref - mean_c) * (rs * 1.5) + mean_c
    mean_f = ref.mean(dim=(2, 3, 4), keepdim=True)  # per frame, over C, H, W
    ref = (ref - mean_f) * (rc + 0.25) + mean_f
    torch.testing.assert_close(DiffAugment(x, "color", seed=seed, param=p), ref)


def test_crop_reference_is_a_zero_filled_integer_translation() -> None:
    x = videos(h=9, w=7)
    for seed in range(5):
        sh, sw = int(9 * 0.125 + 0.5), int(7 * 0.125 + 0.5)
        th = draw(seed, "int", -sh, sh + 1, x.shape[0])
        tw = draw(seed + 1, "int", -sw, sw + 1, x.shape[0])
        ref = torch.zeros_like(x)
        for i in range(9):
            for j in range(7):
                if 0 <= i + th < 9 and 0 <= j + tw < 7:
                    ref[..., i, j] = x[..., i + th, j + tw]
        assert torch.equal(DiffAugment(x, "crop", seed=seed, param=M), ref)


def test_cutout_reference_zeroes_one_square() -> None:
    x = videos(h=9, w=8)
    for seed in range(5):
        size_h, size_w = int(9 * 0.5 + 0.5), int(8 * 0.5 + 0.5)
        oh = draw(seed, "int", 0, 9 + (1 - size_h % 2), x.shape[0])
        ow = draw(seed + 1, "int", 0, 8 + (1 - size_w % 2), x.shape[0])
        ref = x.clone()
        rows = [min(max(oh - size_h // 2 + k, 0), 8) for k in range(size_h)]
        cols = [min(max(ow - size_w // 2 + k, 0), 7) for k in range(size_w)]
        for r in rows:
            ref[..., r, cols] = 0
        assert torch.equal(DiffAugment(x, "cutout", seed=seed, param=M), ref)


@pytest.mark.parametrize("kind", ["scale", "rotate"])
def test_affine_reference(kind: str) -> None:
    x, seed, p = videos(), 2, ParamDiffAug(aug_mode="M", ratio_scale=1.3, ratio_rotate=20.0)
    if kind == "scale":
        sx = draw(seed, "rand", x.shape[0]) * (1.3 - 1 / 1.3) + 1 / 1.3
        sy = draw(seed + 1, "rand", x.shape[0]) * (1.3 - 1 / 1.3) + 1 / 1.3
        theta = torch.tensor([[sx, 0.0, 0.0], [0.0, sy, 0.0]])
    else:
        a = (draw(seed, "rand", x.shape[0]) - 0.5) * 2 * 20.0 / 180 * math.pi
        theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])
    frames = x.flatten(0, 1)
    grid = F.affine_grid(theta.expand(frames.shape[0], 2, 3), list(frames.shape), align_corners=True)
    ref = F.grid_sample(frames, grid, align_corners=True).view_as(x)
    torch.testing.assert_close(DiffAugment(x, kind, seed=seed, param=p), ref)


def test_single_mode_applies_one_component_chosen_by_the_first_draw() -> None:
    x = videos()
    for seed in range(6):
        k = draw(seed, "int", 0, 2, 1)
        expected = DiffAugment(x, ["flip", "crop"][k], seed=seed + 1, param=M)
        assert torch.equal(DiffAugment(x, "flip_crop", seed=seed, param=ParamDiffAug()), expected)


def test_published_param_objects_and_layouts() -> None:
    x = videos()
    published_like = SimpleNamespace(aug_mode="M", prob_flip=0.5, ratio_crop_pad=0.125)  # fields read by name
    expected = DiffAugment(x, "flip_crop", seed=1, param=M)
    assert torch.equal(DiffAugment(x, "flip_crop", seed=1, param=published_like), expected)
    bcthw = DiffAugment(x.transpose(1, 2), ALL, seed=2, param=M, layout="BCTHW")
    torch.testing.assert_close(bcthw.transpose(1, 2), DiffAugment(x, ALL, seed=2, param=M))


def test_gradcheck_float64() -> None:
    x = videos(b=2, t=2, c=2, h=5, w=5, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: DiffAugment(v, ALL, seed=7, param=M), (x,))


def test_errors_name_the_argument() -> None:
    x = videos()
    with pytest.raises(ConfigError, match=r"unknown component 'blur'.*valid components"):
        DiffAugment(x, "color_blur", param=M)
    with pytest.raises(ShapeError, match=r"videos \[B, T, C, H, W\] or images"):
        DiffAugment(x[0, 0, 0], "flip", param=M)
    with pytest.raises(ConfigError, match="aug_mode"):
        DiffAugment(x, "flip", param=SimpleNamespace(aug_mode="X"))
    with pytest.raises(ConfigError, match="seed must be -1"):
        DiffAugment(x, "flip", seed=-5, param=M)
    with pytest.raises(ConfigError, match=r"param\.prob_flip must be a finite number"):
        DiffAugment(x, "flip", param=SimpleNamespace(aug_mode="M", prob_flip="half"))


def test_render_hook_augments_what_the_set_renders() -> None:
    synset = SyntheticVideos(2, 2, frames=3, size=(6, 6), seed=0)
    synset.register_render_hook(DiffAugmentation("flip", param=M))
    torch.manual_seed(0)
    aug, _ = synset([0, 1, 2, 3])
    torch.manual_seed(0)
    raw = synset.detach()
    assert torch.equal(aug, DiffAugment(raw, "flip", param=M))
    aug.sum().backward()
    assert synset.videos.grad is not None


def test_render_hook_is_replayed_exactly_by_the_checkpointed_trajectory_loss() -> None:
    from torch import nn

    from temporal_condense.mtt.matching import make_syn_lr, trajectory_matching_loss
    from temporal_condense.mtt.student import FlatStudent

    torch.manual_seed(0)
    student = FlatStudent(nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 6 * 6, 5), nn.Tanh(), nn.Linear(5, 2)).double())
    theta = student.flatten()
    grads = []
    for mode in ("unrolled", "checkpointed"):
        synset = SyntheticVideos(2, 2, frames=2, size=(6, 6), seed=0).double()
        synset.register_render_hook(DiffAugmentation(ALL))
        syn_lr = make_syn_lr(0.05, dtype=torch.float64)
        loss = trajectory_matching_loss(student, synset, theta, theta + 0.1, syn_lr, syn_steps=3, batch_syn=2,
                                        mode=mode, generator=torch.Generator().manual_seed(2))  # fmt: skip
        loss.backward()
        grads.append((loss.detach(), synset.videos.grad, syn_lr.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
