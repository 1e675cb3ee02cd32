"""Tests of the render hooks: VideoAugmentation, Standardize, SegmentSplit."""

from __future__ import annotations

import kornia.augmentation as K
import pytest
import torch

from temporal_condense.dynamic_memory import DynamicMemoryBlock
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.hooks import SegmentSplit, Standardize, VideoAugmentation
from temporal_condense.synthetic import SyntheticVideos


def static_clips(b: int, t: int = 3, c: int = 3, h: int = 12, w: int = 12) -> torch.Tensor:
    """Clips whose frames are all equal (so per-frame differences reveal per-frame parameters)."""
    return torch.rand(b, 1, c, h, w).expand(b, t, c, h, w).contiguous()


# ------------------------------------------------------------------------------------------- SegmentSplit
def test_segment_split_matches_loop() -> None:
    videos = torch.randn(3, 8, 2, 4, 4)
    labels = torch.tensor([4, 1, 2])
    out, out_labels = SegmentSplit(4)(videos, labels)
    ref = torch.stack([videos[b, 2 * k : 2 * k + 2] for b in range(3) for k in range(4)])
    assert out.shape == (12, 2, 2, 4, 4) and out.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert out_labels.tolist() == [4, 4, 4, 4, 1, 1, 1, 1, 2, 2, 2, 2]
    same, same_labels = SegmentSplit(1)(videos, labels)
    torch.testing.assert_close(same, videos, rtol=0, atol=0)
    assert same_labels.tolist() == labels.tolist()


def test_segment_split_errors() -> None:
    with pytest.raises(ConfigError, match=r"T \(frames of videos\) \(6\) must be divisible by segments \(4\)"):
        SegmentSplit(4)(torch.randn(2, 6, 1, 2, 2), torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="segments must be an integer >= 1, got 0"):
        SegmentSplit(0)
    with pytest.raises(ShapeError, match=r"videos must be a 5-D video batch .*got 4-D"):
        SegmentSplit(2)(torch.randn(2, 6, 2, 2), torch.tensor([0, 1]))
    with pytest.raises(ShapeError, match=r"labels must have one entry per video \(2\), got 3"):
        SegmentSplit(2)(torch.randn(2, 6, 1, 2, 2), torch.tensor([0, 1, 2]))


def test_segment_split_as_render_hook() -> None:
    synset = SyntheticVideos(2, 2, frames=8, size=(3, 3), seed=0)
    synset.register_render_hook(SegmentSplit(2))
    videos, labels = synset([0, 3])
    assert videos.shape == (4, 4, 3, 3, 3)
    assert labels.tolist() == [0, 0, 1, 1]
    torch.testing.assert_close(videos[1], synset.videos.detach()[0, 4:], rtol=0, atol=0)
    assert synset.class_videos(1).shape == (4, 4, 3, 3, 3)


# ------------------------------------------------------------------------------------------- Standardize
def test_standardize_matches_plain() -> None:
    videos = torch.rand(2, 3, 3, 4, 4)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out, labels = Standardize(mean, std)(videos, torch.tensor([0, 1]))
    ref = torch.empty_like(videos)
    for c in range(3):
        ref[:, :, c] = (videos[:, :, c] - mean[c]) / std[c]
    torch.testing.assert_close(out, ref)
    assert labels.tolist() == [0, 1]
    scalar, _ = Standardize(0.5, 2.0)(videos.double(), labels)
    assert scalar.dtype == torch.float64
    torch.testing.assert_close(scalar, (videos.double() - 0.5) / 2.0)


def test_standardize_gradcheck() -> None:
    x = torch.rand(1, 2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    norm = Standardize([0.1, 0.2, 0.3], [0.5, 1.0, 2.0])
    assert torch.autograd.gradcheck(lambda v: norm.standardize(v), (x,))


def test_standardize_errors() -> None:
    with pytest.raises(ConfigError, match=r"std must be > 0 for every channel, got \[0.5, 0.0\]"):
        Standardize([0.0, 0.0], [0.5, 0.0])
    with pytest.raises(ConfigError, match="mean and std must have the same length, got 2 and 3"):
        Standardize([0.0, 0.0], [1.0, 1.0, 1.0])
    with pytest.raises(ConfigError, match="mean must be finite"):
        Standardize(float("nan"), 1.0)
    with pytest.raises(ShapeError, match="videos must have C = 3 channels to match mean/std, got 1"):
        Standardize([0.0] * 3, [1.0] * 3)(torch.rand(1, 2, 1, 2, 2), torch.tensor([0]))


# ------------------------------------------------------------------------------------------- augmentation
def test_same_parameters_on_every_frame_and_differentiable() -> None:
    torch.manual_seed(0)
    aug = VideoAugmentation()
    videos = static_clips(4).requires_grad_(True)
    out, labels = aug(videos, torch.arange(4))
    assert out.shape == videos.shape and out.is_contiguous() and labels.tolist() == [0, 1, 2, 3]
    assert (out - out[:, :1]).abs().max().item() == 0.0  # same transform on every frame of a clip
    out.sum().backward()
    assert videos.grad is not None and videos.grad.abs().sum() > 0


def test_seeded_determinism() -> None:
    aug = VideoAugmentation()
    videos = torch.rand(3, 2, 3, 10, 10)
    torch.manual_seed(1)
    a, _ = aug(videos, torch.arange(3))
    torch.manual_seed(1)
    b, _ = aug(videos, torch.arange(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_replay_same_shape_per_clip() -> None:
    torch.manual_seed(2)
    aug = VideoAugmentation()
    x = static_clips(3)
    y, _ = aug(x, torch.arange(3))
    replayed, labels = aug.replay(x, torch.arange(3))
    torch.testing.assert_close(replayed, y, rtol=0, atol=0)
    assert labels is not None and labels.tolist() == [0, 1, 2]
    with pytest.raises(ShapeError, match=r"videos must have the shape of the augmented batch .*siamese=True"):
        aug.replay(x[:2])


def test_siamese_replay_across_batch_sizes() -> None:
    torch.manual_seed(3)
    aug = VideoAugmentation(siamese=True)
    image = torch.rand(1, 1, 3, 12, 12)
    syn = image.expand(2, 4, 3, 12, 12).contiguous()
    real = image.expand(5, 2, 3, 12, 12).contiguous()  # other batch size and length
    syn_out, _ = aug(syn, torch.tensor([0, 1]))
    real_out, _ = aug.replay(real)
    assert (syn_out - syn_out[:1, :1]).abs().max().item() == 0.0  # one draw for the whole batch
    torch.testing.assert_close(real_out, syn_out[:1, :1].expand(5, 2, 3, 12, 12), rtol=0, atol=0)
    with pytest.raises(ShapeError, match=r"videos must have the \[C, H, W\] of the augmented batch"):
        aug.replay(torch.rand(2, 4, 3, 8, 8))


def test_replay_gradcheck_float64() -> None:
    torch.manual_seed(4)
    aug = VideoAugmentation(K.RandomAffine(degrees=20.0, translate=(0.1, 0.1), p=1.0))
    x = torch.rand(1, 2, 1, 5, 5, dtype=torch.float64)
    aug.augment(x)
    leaf = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: aug.replay(v)[0], (leaf,))


def test_augmentation_errors() -> None:
    with pytest.raises(ConfigError, match="replay needs a previous call"):
        VideoAugmentation().replay(torch.rand(1, 2, 3, 4, 4))
    with pytest.raises(ConfigError, match=r"augmentations\[0\] must be a kornia augmentation module, got 3"):
        VideoAugmentation(3)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="videos must be a 5-D video batch"):
        VideoAugmentation()(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]))


def test_augmentation_as_render_hook_on_dynamic_memory() -> None:
    synset = DynamicMemoryBlock(2, 1, frames=3, size=(12, 12), static="noise", seed=0)
    aug = VideoAugmentation(siamese=True)
    synset.register_render_hook(aug)
    torch.manual_seed(5)
    videos, labels = synset(generator=torch.Generator().manual_seed(0))
    assert videos.shape == (2, 3, 3, 12, 12) and labels.tolist() == [0, 1]
    videos.sum().backward()
    assert synset.dynamic.grad is not None
    real, _ = aug.replay(torch.rand(4, 3, 3, 12, 12))
    assert real.shape == (4, 3, 3, 12, 12)


# ------------------------------------------------------------------------------------ batch standardization
def test_standardize_batch_is_the_plain_reference_and_one_everywhere() -> None:
    from temporal_condense.evaluate import standardize_batch as from_evaluate
    from temporal_condense.hooks import STD_EPS, BatchStandardize, standardize_batch

    x = torch.randn(3, 4, 2, 5, 5, dtype=torch.float64) * 3 + 1
    ref = (x - x.mean()) / x.std()
    torch.testing.assert_close(standardize_batch(x), ref)
    assert from_evaluate is standardize_batch
    v, y = BatchStandardize()(x, torch.tensor([0, 1, 2]))
    torch.testing.assert_close(v, ref)
    assert v.is_contiguous() and y.tolist() == [0, 1, 2]
    assert torch.equal(standardize_batch(torch.full((2, 3), 5.0)), torch.zeros(2, 3))  # constant: zeros, not NaN
    assert torch.equal(standardize_batch(torch.tensor([4.0])), torch.zeros(1))  # one element: only centred
    assert STD_EPS == 1e-12
    assert torch.autograd.gradcheck(standardize_batch, (x.clone().requires_grad_(True),))


@pytest.mark.parametrize("x", [None, 0.5, [1.0, 2.0], torch.ones(3, dtype=torch.int64)])
def test_standardize_batch_refuses_non_float_input(x: object) -> None:
    from temporal_condense.errors import ShapeError
    from temporal_condense.hooks import standardize_batch

    with pytest.raises(ShapeError, match=r"x must be a torch.Tensor|x must have a floating dtype"):
        standardize_batch(x)  # type: ignore[arg-type]
