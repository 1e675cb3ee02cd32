"""Pipeline rows FRePo, FRePo+SD, kcenter and herding: configs, exact resume, coresets equal select_coreset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from temporal_condense.coreset import select_coreset
from temporal_condense.data import MovingShapes
from temporal_condense.errors import ConfigError
from temporal_condense.models import get_model
from temporal_condense.pipeline import PipelineConfig, load_preview, method_config, run_pipeline
from temporal_condense.pipeline.frepo import _cosine
from temporal_condense.seeds import derive_seed

TINY = {"net_width": 8}


def tiny(**changes: object) -> PipelineConfig:
    base = PipelineConfig(
        name="tiny",
        seed=5,
        data={"frames": 4, "size": (16, 16), "train_per_class": 3, "test_per_class": 2},
        static={"method": "DM", "static_per_class": 1, "iterations": 1, "model": "ConvNet", "model_kwargs": TINY},
        synthetic={"videos_per_class": 1},
        distill={
            "iterations": 5,
            "model": "VideoConvNetGRU",
            "model_kwargs": TINY,
            "lr": {"videos": 0.01, "dynamic": 0.01, "block": 0.001},
            "frepo": {"pool_size": 2, "max_online_updates": 2, "warmup": 2, "online_batch": 4, "batch_real": 6},
        },
        evaluation={"model": "VideoConvNetGRU", "model_kwargs": TINY, "runs": 1, "epochs": 1, "batch_size": 8},
        checkpoint_every=2,
    )
    return base.replace(**changes) if changes else base


def test_method_rows() -> None:
    rows = {m: method_config(m, tiny()) for m in ("FRePo", "FRePo+SD", "kcenter", "herding")}
    assert rows["FRePo"].synthetic.kind == "baseline" and rows["FRePo"].distill.method == "FRePo"
    sd = rows["FRePo+SD"].synthetic
    assert (sd.kind, sd.pairing, sd.static_per_video, sd.dynamic_per_video, sd.static_per_class) == (
        "static_dynamic",
        "fixed",
        1,
        1,
        1,
    )
    assert rows["kcenter"].synthetic.kind == "kcenter" and rows["herding"].distill.method == "none"
    with pytest.raises(ConfigError, match="nothing to train"):
        tiny(synthetic={"kind": "herding"}, distill={"method": "FRePo"})
    with pytest.raises(ConfigError, match=r"distill\.frepo\.pool_size"):
        tiny(distill={"frepo": {"pool_size": 0}})


def test_cosine_is_the_published_schedule() -> None:
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=2.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.2)
    for it in range(7):
        assert _cosine(2.0, it, 7) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()


class _KillError(Exception):
    pass


def _kill(n: int):  # type: ignore[no-untyped-def]
    def callback(it: int, loss: float) -> None:
        if it == n:
            raise _KillError

    return callback


@pytest.mark.parametrize("method", ["FRePo", "FRePo+SD"])
def test_frepo_rows_resume_exactly(tmp_path: Path, method: str) -> None:
    cfg = method_config(method, tiny())
    full = run_pipeline(cfg, tmp_path / "full", progress=False)
    assert len(full.losses) == 5 and all(v > 0 for v in full.losses)
    with pytest.raises(_KillError):
        run_pipeline(cfg, tmp_path / "killed", progress=False, callback=_kill(3))
    resumed = run_pipeline(cfg, tmp_path / "killed", progress=False)
    assert resumed.losses == full.losses and resumed.top1 == full.top1


def test_coreset_rows_equal_select_coreset(tmp_path: Path) -> None:
    # in the clips' own pixel space, so that the preview is exactly the selected clips
    cfg = method_config("herding", tiny(data={"standardize": False}))
    res = run_pipeline(cfg, tmp_path / "h", progress=False)
    assert res.storage_bytes == 8 * 4 * 3 * 16 * 16 * 4  # 8 classes x 1 clip x 4 frames x RGB 16x16 float32
    train = MovingShapes("train", frames=4, size=(16, 16), videos_per_class=3, seed=0)
    videos, labels = train.preload(progress=False)
    net = get_model(
        "VideoConvNetGRU", channels=3, num_classes=8, size=(16, 16), frames=4, seed=derive_seed(5, "coreset"), **TINY
    )
    core = select_coreset((videos, labels), 1, "herding", net)
    shown, shown_labels = load_preview(tmp_path / "h")  # one clip per class: exactly the coreset
    assert torch.equal(shown, core.videos) and shown_labels.tolist() == core.labels.tolist()
    kc = run_pipeline(method_config("kcenter", tiny()), tmp_path / "k", progress=False)
    assert kc.storage_bytes == res.storage_bytes and kc.iterations == 0
