"""benchmarks/ablation_objectives.py: its paired DM loss is dm_loss, its summaries are what they say, and its
DM run is the quickstart DM row's."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from temporal_condense import SyntheticVideos
from temporal_condense.losses import dm_loss
from temporal_condense.pipeline.data import load_data
from temporal_condense.pipeline.quickstart import base_config, method_settings
from temporal_condense.pipeline.run import run_pipeline
from temporal_condense.pipeline.stages import real_draw_seed
from temporal_condense.seeds import derive_seed
from tests._scripts import load_script


def _ablation() -> ModuleType:
    return load_script("benchmarks/ablation_objectives.py")


def test_paired_dm_loss_is_dm_loss_and_summaries_hold_their_clips(monkeypatch: pytest.MonkeyPatch) -> None:
    ab = _ablation()
    cfg = base_config(fast=True)
    real = load_data(cfg.data, progress=False, seed=0)
    sets = ab.summaries(real, 2, seed=5)
    first = sets["random real clip"]
    assert first.shape[0] == real.num_classes
    for c in range(real.num_classes):  # the first clip is a real clip of class c, and in both summaries
        members = real.train_x[real.train_y == c]
        assert any(torch.equal(first[c], m) for m in members)
        assert torch.all(sets["max of 2 real clips"][c] >= first[c])
    monkeypatch.setattr(ab, "NETS", 1)
    monkeypatch.setattr(ab, "BATCH_REAL", 10**6)  # every real clip
    monkeypatch.setattr(ab, "base_config", lambda: cfg)
    losses = ab.expected_dm_loss(real, sets, seed=7)
    embed = ab.random_embed(real, derive_seed(7, "ablation-net", 0))
    labels = torch.arange(real.num_classes)
    for name, videos in sets.items():
        ref = dm_loss(embed, real.train_x, real.train_y, videos, labels, real.num_classes)
        torch.testing.assert_close(torch.tensor(losses[name]), ref.detach(), rtol=1e-4, atol=1e-6)


def test_its_dm_run_is_the_quickstart_dm_row(tmp_path: Path) -> None:
    """From the row's own real clips, the ablation's DM run is the quickstart DM row's set, to the digit."""
    ab = _ablation()
    cfg = base_config(fast=True)
    real = load_data(cfg.data, progress=False, seed=cfg.seed)
    row = run_pipeline(method_settings("DM", cfg, tmp_path), tmp_path / "DM", progress=False)
    assert row.iterations == cfg.distill.iterations
    saved = SyntheticVideos.load(tmp_path / "DM" / "synthetic_set.safetensors")
    start = ab.summaries(real, 2, seed=real_draw_seed(cfg))["random real clip"]
    assert not torch.equal(saved.export()[0], start)  # the row's DM moved its clips
    ablation = ab.distill_dm(cfg, real, start, tmp_path / "ablation")
    torch.testing.assert_close(ablation, saved.export()[0], rtol=0, atol=0)
    longer = ab.distill_dm(cfg, real, start, tmp_path / "longer", iterations=3, lr={"videos": 300.0})
    assert not torch.equal(longer, saved.export()[0])
