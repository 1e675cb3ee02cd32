"""The pipeline in the standardized pixel space: validation carved from train, previews, render guard."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from temporal_condense.errors import ConfigError
from temporal_condense.pipeline import load_preview, method_config, run_pipeline
from temporal_condense.pipeline.data import carve_validation, standardize_clips
from tests.test_pipeline import tiny_config


def test_carve_validation_is_disjoint_per_class_and_seeded() -> None:
    x = torch.arange(30.0).view(30, 1, 1, 1, 1)
    y = torch.arange(3).repeat_interleave(10)
    tx, ty, vx, vy = carve_validation(x, y, 4, seed=1)
    assert torch.bincount(vy).tolist() == [4, 4, 4] and torch.bincount(ty).tolist() == [6, 6, 6]
    assert set(tx.flatten().tolist()).isdisjoint(vx.flatten().tolist())
    assert sorted(tx.flatten().tolist() + vx.flatten().tolist()) == x.flatten().tolist()
    again = carve_validation(x, y, 4, seed=1)
    assert torch.equal(again[2], vx)
    assert not torch.equal(carve_validation(x, y, 4, seed=2)[2], vx)
    with pytest.raises(ConfigError, match=r"validation_per_class .* class 0 has 10 clips, validation_per_class is 10"):
        carve_validation(x, y, 10, seed=0)


def test_standardize_data_uses_the_training_statistics_per_channel() -> None:
    g = torch.Generator().manual_seed(0)
    train = torch.rand(6, 3, 2, 4, 4, generator=g) * torch.tensor([1.0, 0.2]).view(1, 1, 2, 1, 1)
    test = torch.rand(5, 3, 2, 4, 4, generator=g)
    train_x, test_x, pixel_mean, pixel_std = standardize_clips(train.clone(), test.clone())
    # reference: per-channel statistics over every clip, frame and pixel of the training split
    mean = train.transpose(0, 2).reshape(2, -1).mean(1)
    std = train.transpose(0, 2).reshape(2, -1).std(1)
    ref_train = (train - mean.view(1, 1, 2, 1, 1)) / std.view(1, 1, 2, 1, 1)
    torch.testing.assert_close(train_x, ref_train, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(test_x, (test - mean.view(1, 1, 2, 1, 1)) / std.view(1, 1, 2, 1, 1))
    torch.testing.assert_close(pixel_mean, mean)
    torch.testing.assert_close(pixel_std, std)


def test_validation_runs_and_standardized_previews(tmp_path: Path) -> None:
    base = tiny_config(data={"validation_per_class": 1})
    res = run_pipeline(method_config("random_real", base), tmp_path / "rr", progress=False)
    assert res.split == "validation" and res.render_std_ratio is None
    videos, _ = load_preview(tmp_path / "rr")
    assert float(videos.min()) >= 0.0 and float(videos.max()) <= 1.0  # back in the data's pixel space
    test_run = run_pipeline(method_config("random_real", tiny_config()), tmp_path / "rr_test", progress=False)
    assert test_run.split == "test"


def test_random_real_with_key_frames_stores_only_the_key_frames(tmp_path: Path) -> None:
    res = run_pipeline(method_config("random_real_compact", tiny_config()), tmp_path / "rr", progress=False)
    assert res.storage_bytes == 8 * 2 * 3 * 16 * 16 * 4  # 8 classes x 2 key frames x RGB 16x16 float32
    videos, _ = load_preview(tmp_path / "rr")
    # linear interpolation between the first and the last frame: the middle frames lie between them
    first, last = videos[:, 0], videos[:, -1]
    mid = videos[:, 1]
    torch.testing.assert_close(mid, (first + (last - first) / 3).clamp(0, 1), rtol=1e-4, atol=1e-4)


def test_a_swamped_render_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = method_config("DM+SD", tiny_config(synthetic={"dynamic_std": 20.0, "block_init": "residual"}))
    with caplog.at_level(logging.WARNING, logger="temporal_condense.pipeline.stages"):
        res = run_pipeline(cfg, tmp_path / "sd", progress=False)
    assert res.render_std_ratio is not None and res.render_std_ratio > 3.0
    assert "swamps the others" in caplog.text
    calm = run_pipeline(
        method_config("DM+SD", tiny_config(synthetic={"dynamic_init": "zeros", "block_init": "residual"})),
        tmp_path / "calm",
        progress=False,
    )
    assert calm.render_std_ratio is not None and 1 / 3 < calm.render_std_ratio < 3


@pytest.mark.parametrize(("method", "reference"), [("DM", "random_real"), ("compact", "random_real_compact")])
def test_distilled_sets_start_from_the_random_real_clips(method: str, reference: str) -> None:
    # one draw for the table: the gap between a distilled row and random real is the distillation's own effect
    from temporal_condense.pipeline.data import load_data
    from temporal_condense.pipeline.stages import build_training_set

    base = tiny_config(synthetic={"init": "real"})
    cfg = method_config(method, base, compact_key_frames=2, compact_method="DM")
    if cfg.synthetic.kind != "baseline":  # compact is static-dynamic by default: its baseline counterpart here
        cfg = cfg.replace(synthetic={"kind": "baseline", "init": "real"})
    data = load_data(cfg.data, progress=False, seed=cfg.seed)
    synset, _ = build_training_set(cfg, data, None)
    start, labels = synset.export()
    (clips, ref_labels), _ = build_training_set(method_config(reference, base), data, None)
    assert torch.equal(labels, ref_labels)
    torch.testing.assert_close(start, clips)
    # and another seed draws other clips
    other, _ = build_training_set(method_config(reference, base.replace(seed=4)), data, None)
    assert not torch.equal(other[0], clips)


def test_a_frozen_block_is_kept_as_initialized(tmp_path: Path) -> None:
    from temporal_condense import DynamicMemoryBlock
    from temporal_condense.dynamic_memory import residual_init_

    sd = {"dynamic_init": "zeros", "block_init": "residual"}
    cfg = method_config("DM+SD", tiny_config(synthetic=sd, distill={"train_block": False}))
    run_pipeline(cfg, tmp_path / "sd", progress=False)
    synset = DynamicMemoryBlock.load(tmp_path / "sd" / "synthetic_set.safetensors")
    assert synset.config.train_block is False
    reference = torch.nn.Conv3d(4, 3, 3, padding=1)
    residual_init_(reference, 3)
    assert torch.equal(synset.block.encoder.weight, reference.weight)
    assert torch.equal(synset.block.encoder.bias, reference.bias)
    assert synset.dynamic.abs().sum() > 0  # the dynamic memory did learn
    with pytest.raises(ConfigError, match=r"train_block=False needs synthetic.kind 'static_dynamic', got 'baseline'"):
        method_config("DM", tiny_config(distill={"train_block": False}))
