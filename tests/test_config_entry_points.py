"""``config=`` entry points: one library config object instead of the separate arguments, never both."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from temporal_condense.errors import ConfigError
from temporal_condense.evaluate import EvalConfig, evaluate
from temporal_condense.mtt import ExpertConfig, load_expert, train_experts
from temporal_condense.static import StaticConfig, distill_static


def tiny(*, channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))


def test_evaluate_config_equals_arguments() -> None:
    x, y = torch.rand(6, 2, 1, 3, 3), torch.tensor([0, 1, 2] * 2)
    kw = {"model": tiny, "runs": 1, "progress": False}
    a = evaluate((x, y), (x, y), epochs=3, lr=0.05, momentum=0.5, **kw)
    b = evaluate((x, y), (x, y), config=EvalConfig(epochs=3, lr=0.05, momentum=0.5), **kw)
    assert a.top1 == b.top1 and a.lrs == b.lrs
    with pytest.raises(ConfigError, match=r"either as config= or as arguments, not both; got config= and \['lr'\]"):
        evaluate((x, y), (x, y), lr=0.5, config=EvalConfig(), **kw)
    with pytest.raises(ConfigError, match="config must be a EvalConfig"):
        evaluate((x, y), (x, y), config={"epochs": 2}, **kw)  # type: ignore[arg-type]


def test_evaluate_model_kwargs_reach_named_models() -> None:
    x, y = torch.rand(4, 2, 1, 8, 8), torch.tensor([0, 1] * 2)
    res = evaluate((x, y), (x, y), model="VideoConvNetMean", model_kwargs={"net_width": 4}, runs=1, epochs=1,
                   progress=False)
    assert res.runs == 1
    with pytest.raises(ConfigError, match="net_widht"):
        evaluate((x, y), (x, y), model="VideoConvNetMean", model_kwargs={"net_widht": 4}, runs=1, epochs=1,
                 progress=False)


def test_distill_static_config_equals_arguments() -> None:
    data = (torch.rand(8, 1, 4, 4), torch.tensor([0, 1] * 4))
    net = lambda **_: nn.Sequential(nn.Flatten(), nn.Linear(16, 2))  # noqa: E731
    a = distill_static(data, 2, 1, method="dc", iterations=2, lr=0.1, seed=3, model=net, progress=False)
    cfg = StaticConfig(num_classes=2, static_per_class=1, method="dc", iterations=2, lr=0.1, seed=3)
    b = distill_static(data, config=cfg, model=net, progress=False)
    assert torch.equal(a.images, b.images)
    with pytest.raises(ConfigError, match=r"not both; got config= and \['iterations'\]"):
        distill_static(data, config=cfg, iterations=5, model=net, progress=False)
    with pytest.raises(ConfigError, match="leave num_classes and static_per_class unset"):
        distill_static(data, 2, config=cfg, model=net, progress=False)


def test_train_experts_config_equals_arguments(tmp_path: Path) -> None:
    data = (torch.rand(6, 2, 1, 3, 3), torch.tensor([0, 1, 2] * 2))
    common = {"out_dir": tmp_path / "a", "progress": False}
    a = train_experts(tiny, data, 1, epochs=2, batch_size=4, seed=5, **common)
    cfg = ExpertConfig(model="tiny", num_experts=1, epochs=2, batch_size=4, seed=5)
    b = train_experts(tiny, data, 1, out_dir=tmp_path / "b", config=cfg, progress=False)
    assert torch.equal(load_expert(a[0]).snapshot(2), load_expert(b[0]).snapshot(2))
    with pytest.raises(ConfigError, match=r"not both; got config= and \['lr'\]"):
        train_experts(tiny, data, 1, out_dir=tmp_path / "c", config=cfg, lr=0.5, progress=False)
    with pytest.raises(ConfigError, match="must agree with config"):
        train_experts(tiny, data, 2, out_dir=tmp_path / "d", config=cfg, progress=False)
