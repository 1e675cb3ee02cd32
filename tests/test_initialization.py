"""Constructors from what published loops have at hand (temporal_condense/initialization.py, ``from_videos``,
``from_dataset``), statics required by DynamicMemoryBlock, and the one learning-rate vocabulary."""

from __future__ import annotations

import logging

import pytest
import torch

import temporal_condense as tc
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.initialization import fit_key_frames, frames_at
from temporal_condense.interpolator import interpolate

K, IPC, T, C, H, W = 3, 2, 5, 3, 6, 6


def clips(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(K * IPC, T, C, H, W, generator=torch.Generator().manual_seed(0), dtype=dtype)


def test_synthetic_videos_from_videos_keeps_clips_dtype_and_fits_key_frames() -> None:
    x = clips(torch.float64)
    synset = tc.SyntheticVideos.from_videos(x, IPC)
    assert synset.num_classes == K and synset.videos_per_class == IPC and synset.frames == T
    assert synset.dtype == torch.float64 and torch.equal(synset.detach(), x)
    key = torch.randn(K * IPC, 3, C, H, W, dtype=torch.float64)
    linear = interpolate(key, T, "linear")  # clips that key frames reproduce exactly
    fitted = tc.SyntheticVideos.from_videos(linear, IPC, key_frames=3)
    torch.testing.assert_close(fitted.videos.detach(), key)
    torch.testing.assert_close(fitted.detach(), linear)
    # least squares: no other key frames get closer
    best = (fit_key_frames(x, 2, "linear"), interpolate(fit_key_frames(x, 2, "linear"), T, "linear"))
    worse = interpolate(best[0] + 0.01 * torch.randn_like(best[0]), T, "linear")
    assert (best[1] - x).norm() < (worse - x).norm()


def test_dynamic_memory_from_videos_slots_own_the_frames_of_their_clip() -> None:
    x = clips()
    synset = tc.DynamicMemoryBlock.from_videos(x, IPC, block_init="identity", seed=0)
    assert synset.static.shape == (K * IPC * 2, C, H, W) and synset.config.static_per_class == IPC * 2
    torch.testing.assert_close(synset.static, frames_at(x, 2))
    assert torch.equal(frames_at(x, 2)[1], x[0, -1]) and torch.equal(frames_at(x, 1)[0], x[0, (T - 1) // 2])
    videos = synset.detach()  # identity block: each video is one of its clip's frames, repeated
    for i in range(K * IPC):
        assert any(torch.allclose(videos[i], x[i, f].expand(T, C, H, W), atol=1e-6) for f in (0, T - 1))
    one = tc.DynamicMemoryBlock.from_videos(x, IPC, static_per_video=1, train_static=True, seed=0)
    assert one.static.requires_grad and one.config.static_per_video == 1
    with pytest.raises(ConfigError, match="from_videos takes frames from the clips; drop frames=8"):
        tc.DynamicMemoryBlock.from_videos(x, IPC, frames=8)
    with pytest.raises(ShapeError, match=r"num_classes \* videos_per_class clips .*videos_per_class=4\), got 6"):
        tc.DynamicMemoryBlock.from_videos(x, 4)


def test_from_dataset_real_and_noise() -> None:
    x, y = clips(), torch.arange(K).repeat(IPC)  # labels 0, 1, 2, 0, 1, 2
    real = tc.SyntheticVideos.from_dataset((x, y), IPC, seed=1)
    for c in range(K):
        for v in range(IPC):
            assert any(torch.equal(real.videos[c * IPC + v].detach(), x[j]) for j in range(len(y)) if y[j] == c)
    noise = tc.SyntheticVideos.from_dataset((x, y), IPC, init="noise", seed=1)
    assert noise.shape == real.shape and not any(torch.equal(noise.videos[0].detach(), x[j]) for j in range(len(x)))
    sd = tc.DynamicMemoryBlock.from_dataset((x, y), IPC, seed=1, train_static=True)
    assert sd.shape == (K * IPC, T, C, H, W) and sd.config.static_per_class == 2 * IPC
    sd_noise = tc.DynamicMemoryBlock.from_dataset((x, y), IPC, init="noise", train_static=True, seed=0)
    assert sd_noise.static.shape == (K * 2 * IPC, C, H, W)
    with pytest.raises(ConfigError, match=r"init must be one of \('real', 'noise'\), got 'zeros'"):
        tc.SyntheticVideos.from_dataset((x, y), IPC, init="zeros")


def test_dynamic_memory_refuses_missing_statics_and_logs_noise(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match=r"static is required: .*from_videos.*static='noise'.*got None"):
        tc.DynamicMemoryBlock(2, 1, frames=4, size=(6, 6))
    with pytest.raises(ConfigError, match="static must be a tensor of images or 'noise', got 'random'"):
        tc.DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static="random")
    with caplog.at_level(logging.INFO, logger="temporal_condense.dynamic_memory"):
        tc.DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static="noise", seed=0)
        tc.DynamicMemoryBlock(2, 1, frames=4, size=(6, 6), static="noise", train_static=True, seed=0)
    levels = [(r.levelno, "frozen noise" in r.getMessage()) for r in caplog.records]
    assert levels == [(logging.WARNING, True), (logging.INFO, False)]


def test_one_learning_rate_vocabulary() -> None:
    videos = tc.SyntheticVideos.from_videos(clips(), IPC)
    assert [g["lr"] for g in videos.optimizer(lr=3.0, momentum=0.5).param_groups] == [3.0]
    assert [g["lr"] for g in videos.optimizer(lr_videos=3.0, momentum=0.5).param_groups] == [3.0]
    sd = tc.DynamicMemoryBlock.from_videos(clips(), IPC, train_static=True, seed=0)
    groups = {g["name"]: g["lr"] for g in sd.optimizer(lr=3.0, lr_block=0.5, momentum=0.5).param_groups}
    assert groups == {"static": 3.0, "dynamic": 0.01, "block": 0.5}
    with pytest.raises(ConfigError, match=r"lr and lr_static name the same part \('static'\)"):
        sd.optimizer(lr=3.0, lr_static=3.0)
    frozen = tc.DynamicMemoryBlock.from_videos(clips(), IPC, seed=0)
    with pytest.raises(ConfigError, match=r"lr \(the pixel learning rate, a loop's lr_img\) sets part 'static'.*"):
        frozen.optimizer(lr=3.0)
    with pytest.raises(ConfigError, match=r"unknown learning-rate argument 'lr_img'.*valid: \('lr', 'lr_static'"):
        frozen.optimizer(lr_img=3.0)
