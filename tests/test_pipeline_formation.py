"""The pipeline with ``synthetic.formation``: packed real clips, distillation through the decoding, keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from temporal_condense import SyntheticVideos
from temporal_condense.errors import ConfigError
from temporal_condense.evaluate import random_real_subset
from temporal_condense.formation import MultiFormation
from temporal_condense.pipeline import PipelineConfig, load_preview, method_config, run_pipeline
from temporal_condense.pipeline.data import load_data
from temporal_condense.pipeline.guard import keyed_config, stage_keys
from temporal_condense.pipeline.stages import build_training_set, real_draw_seed, student_set
from tests.test_pipeline import _kill_after, _KillError, tiny_config

F2 = {"formation": 2}


def _row(method: str, formation: int = 2) -> PipelineConfig:
    """A tiny row with 4 training clips per class, packed ``formation x formation`` per stored clip."""
    base = tiny_config(data={"frames": 4, "size": (16, 16), "train_per_class": 4, "test_per_class": 2})
    return method_config(method, base).replace(synthetic={"formation": formation})


def test_random_real_packs_four_real_clips_into_each_stored_clip() -> None:
    cfg = _row("random_real")
    data = load_data(cfg.data, progress=False, seed=cfg.seed)
    (stored, labels), storage = build_training_set(cfg, data, None)
    k = data.num_classes
    assert stored.shape == (k, 4, 3, 16, 16) and labels.tolist() == list(range(k))
    assert storage == stored.numel() * 4  # the storage of one clip per class
    clips, _ = random_real_subset((data.train_x, data.train_y), 4, seed=real_draw_seed(cfg), num_classes=k)
    torch.testing.assert_close(stored, MultiFormation(2).pack(clips), rtol=0, atol=0)
    videos, student_labels = student_set(cfg, (stored, labels))
    assert videos.shape == (4 * k, 4, 3, 16, 16)
    assert student_labels.tolist() == torch.arange(k).repeat_interleave(4).tolist()


def test_distilled_sets_start_from_the_packed_random_real_clips() -> None:
    dm = _row("DM")
    data = load_data(dm.data, progress=False, seed=dm.seed)
    synset, storage = build_training_set(dm, data, None)
    (clips, _), rr_storage = build_training_set(_row("random_real"), data, None)
    assert isinstance(synset, SyntheticVideos) and storage == rr_storage
    start, _ = synset.export()  # the stored clips (no hooks)
    torch.testing.assert_close(start, clips)
    # stage 2 sees the decoded clips through the render hook; the students see the same
    rendered = synset.class_videos(1)
    assert rendered.shape == (4, 4, 3, 16, 16)
    videos, labels = student_set(dm, synset)
    torch.testing.assert_close(videos[4:8], rendered.detach())
    assert labels.tolist()[:8] == [0, 0, 0, 0, 1, 1, 1, 1]


def test_a_run_distills_and_evaluates_through_the_decoding(tmp_path: Path) -> None:
    cfg = _row("DM")
    res = run_pipeline(cfg, tmp_path / "dm", progress=False)
    assert res.iterations == 5 and res.storage_bytes == 8 * 4 * 3 * 16 * 16 * 4
    saved = SyntheticVideos.load(tmp_path / "dm" / "synthetic_set.safetensors")
    assert saved.videos.shape == (8, 4, 3, 16, 16)  # what is stored: one clip per class
    preview, _ = load_preview(tmp_path / "dm")
    assert preview.shape == (8, 4, 3, 16, 16)
    again = run_pipeline(cfg, tmp_path / "dm", progress=False)  # a finished run returns its result
    assert again.top1 == res.top1


def test_keys_of_plain_clips_do_not_name_the_option() -> None:
    plain = method_config("DM", tiny_config())
    assert "formation" not in keyed_config(plain)["synthetic"]  # folders written before the option stay valid
    packed = plain.replace(synthetic=F2)
    assert keyed_config(packed)["synthetic"]["formation"] == 2
    assert stage_keys(plain)["stage2"] != stage_keys(packed)["stage2"]


def test_formation_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"formation > 1 needs synthetic.kind 'baseline' or 'random_real', got 'static_dynamic'"
    ):
        tiny_config(synthetic=F2)
    with pytest.raises(ConfigError, match=r"synthetic\.formation"):
        _row("random_real", 0)
    data = {"size": (18, 18), "train_per_class": 16}
    odd = method_config("random_real", tiny_config(data=data)).replace(synthetic={"formation": 4})
    with pytest.raises(ConfigError, match=r"H \(height of videos\) \(18\) must be divisible by factor \(4\)"):
        run_pipeline(odd, tmp_path / "odd", progress=False)
    assert not (tmp_path / "odd").exists() or not any((tmp_path / "odd").iterdir())
    few = method_config("DM", tiny_config()).replace(synthetic={"formation": 2})  # 3 training clips per class
    with pytest.raises(ConfigError, match=r"formation\^2 = 4 real clips per class, but class 0"):
        run_pipeline(few, tmp_path / "few", progress=False)
    assert not (tmp_path / "few").exists() or not any((tmp_path / "few").iterdir())


def test_a_killed_mtt_run_through_the_decoding_resumes_to_the_same_set(tmp_path: Path) -> None:
    cfg = _row("MTT")
    full = run_pipeline(cfg, tmp_path / "full", progress=False)
    with pytest.raises(_KillError):
        run_pipeline(cfg, tmp_path / "killed", progress=False, callback=_kill_after(3))
    resumed = run_pipeline(cfg, tmp_path / "killed", progress=False)
    assert resumed.losses == full.losses and resumed.top1 == full.top1
    a = SyntheticVideos.load(tmp_path / "full" / "synthetic_set.safetensors")
    b = SyntheticVideos.load(tmp_path / "killed" / "synthetic_set.safetensors")
    assert torch.equal(a.videos, b.videos)
