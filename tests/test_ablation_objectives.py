"""benchmarks/ablation_objectives.py: its paired DM loss is dm_loss, its MTT loss pairs the sets on the same
windows and draws, its summaries are what they say, and its DM and MTT runs are the quickstart rows'."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from temporal_condense import SyntheticVideos
from temporal_condense.losses import dm_loss
from temporal_condense.pipeline import stages
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


@pytest.mark.parametrize("method", ["DM", "MTT"])
def test_its_runs_are_the_quickstart_rows(tmp_path: Path, method: str) -> None:
    """From the row's own real clips, the ablation's run is the quickstart row's set, to the digit."""
    ab = _ablation()
    cfg = base_config(fast=True)
    real = load_data(cfg.data, progress=False, seed=cfg.seed)
    row = run_pipeline(method_settings(method, cfg, tmp_path), tmp_path / method, progress=False)
    assert row.iterations == method_settings(method, cfg, tmp_path).distill.iterations
    saved = SyntheticVideos.load(tmp_path / method / "synthetic_set.safetensors").export()[0]
    start = ab.summaries(real, 2, seed=real_draw_seed(cfg))["random real clip"]
    assert not torch.equal(saved, start)  # the row moved its clips
    ablation = ab.distill(method, cfg, real, start, tmp_path / "ablation")
    torch.testing.assert_close(ablation, saved, rtol=0, atol=0)
    if method == "MTT":  # on the row's experts, as the script's second MTT run reads them
        again = ab.distill(
            method, cfg, real, start, tmp_path / "again", mtt={"buffer_path": str(tmp_path / "MTT" / "experts")}
        )
        torch.testing.assert_close(again, saved, rtol=0, atol=0)
    longer = ab.distill(method, cfg, real, start, tmp_path / "longer", iterations=3, lr={"videos": 300.0})
    assert not torch.equal(longer, saved)


def test_paired_mtt_loss_is_the_mean_over_shared_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every set is matched on the same windows with the same batch draws; its figure is the mean of its losses."""
    ab = _ablation()
    cfg = base_config(fast=True)
    real = load_data(cfg.data, progress=False, seed=cfg.seed)
    run_pipeline(method_settings("MTT", cfg, tmp_path), tmp_path / "MTT", progress=False)
    sets = ab.summaries(real, 2, seed=3)
    sets["noise"] = 3 * torch.randn(sets["random real clip"].shape, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(ab, "WINDOWS", 3)
    monkeypatch.setattr(ab, "base_config", lambda: cfg)
    calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, int]] = []
    library_loss = stages.trajectory_matching_loss

    def recording(
        student: Any, synset: Any, theta0: torch.Tensor, target: torch.Tensor, syn_lr: Any, **kwargs: Any
    ) -> torch.Tensor:
        draws = kwargs["generator"].get_state()
        loss = library_loss(student, synset, theta0, target, syn_lr, **kwargs)
        calls.append((theta0, target, draws, float(loss), torch.initial_seed()))  # the seed of the dropout
        return loss

    monkeypatch.setattr(stages, "trajectory_matching_loss", recording)  # inside stage 2's mtt_matching_loss
    losses = ab.expected_mtt_loss(cfg, real, sets, tmp_path / "MTT" / "experts", seed=11)
    n = len(sets)
    assert len(calls) == 3 * n
    for w in range(3):  # one window, one batch draw, one dropout seed per window, shared by every set
        window = calls[w * n : (w + 1) * n]
        for theta0, target, draws, _, dropout in window[1:]:
            assert torch.equal(theta0, window[0][0]) and torch.equal(target, window[0][1])
            assert torch.equal(draws, window[0][2]) and dropout == window[0][4]
    assert not torch.equal(calls[0][2], calls[n][2]) and calls[0][4] != calls[n][4]  # each window its own draws
    for i, name in enumerate(sets):
        mean = sum(call[3] for call in calls[i::n]) / 3
        assert losses[name] == pytest.approx(mean, rel=1e-12)
    assert ab.expected_mtt_loss(cfg, real, sets, tmp_path / "MTT" / "experts", seed=11) == losses
    assert losses["noise"] != pytest.approx(losses["random real clip"])  # the loss is the set's
